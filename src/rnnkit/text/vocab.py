"""Vocabulary: a fixed, ordered list of string tokens and their integer ids.

Layout of the ids::

    0        1        2 .. S-1                  S .. V-1
    <pad>    <unk>    extra specials            learned tokens, most frequent first
                      (e.g. <bos>, <eos>)

``<pad>`` (id 0) and ``<unk>`` (id 1) are always present, in every vocabulary, character-level
ones included: one layout for every model, and padding id 0 matches ``pad_sequences``. A
character model adapted on its own corpus simply never emits id 1.

Built from counts (:meth:`Vocabulary.from_counts`) or token sequences
(:meth:`Vocabulary.from_sequences`): tokens seen fewer than ``min_freq`` times are dropped,
the rest ordered by descending count, **ties broken by the token's string order** (Python
``str`` comparison, i.e. by code point), so the vocabulary depends only on the counts, never on
the order of the data. (Keras ``TextVectorization`` also breaks ties by the token, in reverse
order; the legacy Keras ``Tokenizer`` by first appearance.) ``max_tokens`` caps the total size,
specials included. A token in the data equal to a special string is not counted: looking it up
gives the special's id.

JSON form (``to_dict``; ``save`` writes it as UTF-8 JSON with non-ASCII escaped, so any Python
string, even a lone surrogate, round-trips exactly)::

    {"specials": ["<pad>", "<unk>", "<eos>"], "tokens": ["the", "a", ...]}

where the id of a token is its index in ``specials + tokens``.
"""

from __future__ import annotations

import json
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

from rnnkit.errors import ArgumentTypeError, DataError, InvalidArgumentError, invalid
from rnnkit.text.padding import as_index
from rnnkit.validation import check_input_file, check_int, check_output_file, parse_json

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
PAD_ID, UNK_ID = 0, 1  # fixed in every vocabulary


def _is_bool(value: object) -> bool:
    """Whether a token id is a bool: ``True``, or a 0-d bool tensor (``np.bool_`` has no
    ``__index__`` and is refused as any non-integer is)."""
    return type(value) is bool or str(getattr(value, "dtype", "")) == "torch.bool"


def check_specials(specials: Sequence[str]) -> tuple[str, ...]:
    """Return all special tokens ``(PAD, UNK, *specials)`` after checking the extra ones.

    Raises:
        InvalidArgumentError: ``specials`` is a bare string, holds a non-string, an empty
            string, a duplicate, or ``"<pad>"``/``"<unk>"`` (those two are always present).
    """
    if isinstance(specials, str) or not isinstance(specials, Sequence):
        raise invalid("specials", specials, "a list of strings such as ['<bos>', '<eos>']")
    full = (PAD, UNK, *specials)
    strings = all(isinstance(token, str) and token for token in specials)
    if not strings or len(set(full)) < len(full):
        raise invalid(
            "specials", specials, "distinct non-empty strings, other than '<pad>' and '<unk>'"
        )
    return full


def check_build_args(max_tokens: int | None, min_freq: int, specials: Sequence[str]) -> None:
    """Check the arguments of :meth:`Vocabulary.from_counts` (raise InvalidArgumentError)."""
    num_specials = len(check_specials(specials))
    check_int("max_tokens", max_tokens, num_specials + 1, optional=True)
    check_int("min_freq", min_freq, 1)


def check_counts(counts: Mapping[str, int]) -> None:
    """Refuse ``counts`` unless it maps str tokens to ints >= 0 (one pass over keys and values
    in C when they are plain str and int, as a ``Counter`` of tokens holds).

    Raises:
        ArgumentTypeError: not a mapping, a token that is not a str, a count that is not an int.
        InvalidArgumentError: a negative count.
    """
    if not isinstance(counts, Mapping):
        raise invalid(
            "counts", counts, "a mapping {token: count}, such as a collections.Counter",
            ArgumentTypeError,
        )  # fmt: skip
    if not set(map(type, counts)) <= {str}:
        bad = next((t for t in counts if not isinstance(t, str)), None)
        if bad is not None:
            raise invalid("token", bad, "a str (the keys of counts are tokens)", ArgumentTypeError)
    values = counts.values()
    if set(map(type, values)) <= {int} and min(values, default=0) >= 0:
        return
    for token, count in counts.items():
        if not isinstance(count, Integral) or isinstance(count, bool):
            raise invalid(f"counts[{token!r}]", count, "an int >= 0", ArgumentTypeError)
        if count < 0:
            raise invalid(f"counts[{token!r}]", count, "an int >= 0")


class Vocabulary:
    """An immutable token <-> id mapping with ``<pad>`` = 0 and ``<unk>`` = 1.

    Args:
        tokens: the learned tokens in id order (ids start after the specials); distinct strings.
        specials: extra special tokens placed at ids 2, 3, ... (e.g. ``[BOS, EOS]``).

    Raises:
        InvalidArgumentError: a token is not a string, repeats, or equals a special token;
            ``tokens`` is a bare string or not iterable (an :class:`ArgumentTypeError`).
    """

    def __init__(self, tokens: Iterable[str] = (), *, specials: Sequence[str] = ()) -> None:
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable):
            raise invalid("tokens", tokens, "an iterable of token strings, such as a list",
                          ArgumentTypeError)  # fmt: skip
        self._specials = check_specials(specials)
        self._itos: tuple[str, ...] = (*self._specials, *tokens)
        self._stoi = {token: i for i, token in enumerate(self._itos)}
        if len(self._stoi) != len(self._itos) or not all(isinstance(t, str) for t in self._itos):
            bad = next(
                t for i, t in enumerate(self._itos) if not isinstance(t, str) or self._stoi[t] != i
            )
            raise invalid("tokens", bad, "distinct strings, none equal to a special token")

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        max_tokens: int | None = None,
        min_freq: int = 1,
        specials: Sequence[str] = (),
    ) -> Vocabulary:
        """Build from ``{token: count}``: keep counts >= ``min_freq``, most frequent first.

        Args:
            counts: how often each token occurs (a ``collections.Counter`` works).
            max_tokens: the largest total size, specials included; None for no cap.
            min_freq: the smallest count a token needs to get an id.
            specials: extra special tokens (ids 2, 3, ...).

        Ties in count are broken by ascending token string; tokens equal to a special are
        skipped. The result may hold only the specials if nothing reaches ``min_freq``.

        Raises:
            InvalidArgumentError: a bad argument; ``counts`` not a mapping of str tokens to
                ints >= 0 (a negative, float or NaN count is refused, not dropped).
        """
        check_build_args(max_tokens, min_freq, specials)
        check_counts(counts)
        reserved = {PAD, UNK, *specials}
        kept = [(t, c) for t, c in counts.items() if c >= min_freq and t not in reserved]
        kept.sort(key=lambda item: (-item[1], item[0]))
        if max_tokens is not None:
            kept = kept[: max_tokens - len(reserved)]
        return cls((token for token, _ in kept), specials=specials)

    @classmethod
    def from_sequences(
        cls,
        sequences: Iterable[Iterable[str]],
        *,
        max_tokens: int | None = None,
        min_freq: int = 1,
        specials: Sequence[str] = (),
    ) -> Vocabulary:
        """Count the tokens of every sequence, then :meth:`from_counts`.

        A sequence may be a string, whose characters are then the tokens.
        """
        if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
            raise invalid("sequences", sequences, "an iterable of token sequences",
                          ArgumentTypeError)  # fmt: skip
        counts: Counter[str] = Counter()
        for i, sequence in enumerate(sequences):
            if not isinstance(sequence, Iterable):
                raise invalid(f"sequences[{i}]", sequence, "a sequence of str tokens",
                              ArgumentTypeError)  # fmt: skip
            counts.update(sequence)
        return cls.from_counts(counts, max_tokens=max_tokens, min_freq=min_freq, specials=specials)

    # -- size and membership ------------------------------------------------------------
    def __len__(self) -> int:
        """The number of ids V, specials included."""
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        """Iterate over every token in id order, specials first (``list(vocab)[i]`` is id i)."""
        return iter(self._itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._specials == other._specials and self._itos == other._itos

    __hash__ = None  # type: ignore[assignment]  # equality by content, like a list

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.tokens[:5])
        more = ", ..." if len(self.tokens) > 5 else ""
        return (
            f"Vocabulary(size={len(self)}, specials={list(self._specials)}, tokens=[{head}{more}])"
        )

    # -- special ids ---------------------------------------------------------------------
    @property
    def pad_id(self) -> int:
        """Id of ``<pad>``: always 0."""
        return PAD_ID

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>``: always 1; every unknown token maps to it."""
        return UNK_ID

    @property
    def bos_id(self) -> int | None:
        """Id of ``<bos>``, or None if this vocabulary has no such special."""
        return self._stoi.get(BOS) if BOS in self._specials else None

    @property
    def eos_id(self) -> int | None:
        """Id of ``<eos>``, or None if this vocabulary has no such special."""
        return self._stoi.get(EOS) if EOS in self._specials else None

    @property
    def specials(self) -> tuple[str, ...]:
        """All special tokens in id order: ``("<pad>", "<unk>", *extra)``."""
        return self._specials

    @property
    def tokens(self) -> tuple[str, ...]:
        """The learned tokens in id order (ids ``len(specials)`` .. V-1)."""
        return self._itos[len(self._specials) :]

    # -- lookups -------------------------------------------------------------------------
    def token_to_id(self, token: str) -> int:
        """The id of ``token``, or ``unk_id`` (1) if it is unknown; a non-str is an
        :class:`ArgumentTypeError`."""
        if not isinstance(token, str):
            raise invalid("token", token, "a str", ArgumentTypeError)
        return self._stoi.get(token, UNK_ID)

    def id_to_token(self, index: int) -> str:
        """The token of id ``index``; raises InvalidArgumentError outside ``0 .. V-1``, and
        ArgumentTypeError for a non-integer (a bool too: ``True`` is not id 1)."""
        if type(index) is int and 0 <= index < len(self._itos):  # generation's per-token case
            return self._itos[index]
        return self.lookup_tokens([index])[0]

    def lookup_ids(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids (unknown -> ``unk_id``); one dict lookup per token.

        ``tokens``: str tokens (a str is the sequence of its characters, for a character
        vocabulary). Raises ArgumentTypeError when it is not iterable, when its first token is
        not a str (ids passed for tokens), or for an unhashable token; the types of the others
        are not checked one by one (a non-str token is unknown), to keep encoding fast.
        """
        if type(tokens) is not list:  # a tokenizer's list needs no further look
            if not isinstance(tokens, Iterable):
                raise invalid("tokens", tokens, "an iterable of str tokens", ArgumentTypeError)
            if not isinstance(tokens, Sequence):
                tokens = list(tokens)
        if tokens and not isinstance(tokens[0], str):
            raise invalid("tokens[0]", tokens[0], "a str token", ArgumentTypeError)
        get = self._stoi.get
        try:
            return [get(token, UNK_ID) for token in tokens]
        except TypeError:  # an unhashable token, such as a list
            bad = next(i for i, t in enumerate(tokens) if not isinstance(t, str))
            raise invalid(f"tokens[{bad}]", tokens[bad], "a str token", ArgumentTypeError) from None

    def lookup_tokens(self, ids: Iterable[int]) -> list[str]:
        """Map ids to tokens.

        Raises:
            InvalidArgumentError: an id is not an int in ``0 .. V-1`` (negative ids do not wrap);
                ``ids`` is not one iterable of ints (an :class:`ArgumentTypeError`: a number, a
                2-D tensor, a float).
        """
        expected = f"token ids that are ints in 0..{len(self._itos) - 1}"
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise invalid("ids", ids, "an iterable of token ids (ints)", ArgumentTypeError)
        ids = list(ids)
        flag = next((i for i in ids if _is_bool(i)), None)
        if flag is not None:  # operator.index(True) is 1; torch refuses bool indices too
            raise invalid("ids", flag, expected + ", not a bool", ArgumentTypeError)
        try:
            ids = [operator.index(i) for i in ids]  # ints, numpy ints, 0-d int tensors
        except TypeError:  # a float, a str, a 1-D tensor (from a 2-D one) ...: name the first
            ids = [as_index("ids", i, expected) for i in ids]
        if ids and (min(ids) < 0 or max(ids) >= len(self._itos)):
            raise invalid("ids", next(i for i in ids if not 0 <= i < len(self._itos)), expected)
        return [self._itos[i] for i in ids]

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"specials": [...], "tokens": [...]}`` (see the module docstring)."""
        return {"specials": list(self._specials), "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Rebuild exactly the vocabulary that :meth:`to_dict` described.

        Raises:
            DataError: keys missing or unknown, specials not starting with pad and unk, or
                tokens that are not distinct strings.
        """
        if not isinstance(data, Mapping) or set(data) != {"specials", "tokens"}:
            keys = sorted(data) if isinstance(data, Mapping) else data
            raise DataError(f"vocabulary keys={keys!r}: expected exactly ['specials', 'tokens']")
        specials, tokens = data["specials"], data["tokens"]
        if not isinstance(specials, list) or specials[:2] != [PAD, UNK]:
            raise DataError(f"vocabulary specials={specials!r}: expected ['<pad>', '<unk>', ...]")
        if not isinstance(tokens, list):
            raise DataError(f"vocabulary tokens={tokens!r}: expected a list of strings")
        try:
            return cls(tokens, specials=specials[2:])
        except InvalidArgumentError as error:
            raise DataError(f"vocabulary: {error}") from None

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path`` as JSON."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            DataError: the file is not JSON or not a vocabulary (the message names the file).
        """
        data = read_json(path)
        try:
            return cls.from_dict(data)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON: ASCII-only with ``\\u`` escapes, so any string round-trips.

    Raises:
        DataError: ``path`` is a directory, under a file, or cannot be written (naming it);
            ArgumentTypeError when it is not a str or os.PathLike.
    """
    file = check_output_file("path", path, "a JSON file to write")
    try:
        file.write_text(json.dumps(data, ensure_ascii=True, indent=1) + "\n", encoding="utf-8")
    except OSError as error:
        raise DataError(f"path {str(file)!r}: cannot be written ({error.strerror})") from None


def read_json(path: str | Path) -> Any:
    """Read a JSON file.

    Raises:
        DataError: naming the file: missing, a directory, unreadable, or not valid JSON (also
            JSON nested too deeply for Python's parser); ArgumentTypeError for a ``path`` that
            is not a str or os.PathLike.
    """
    file = check_input_file("path", path, "a JSON file written by save()")
    try:
        return parse_json(file.read_text(encoding="utf-8"))
    except ValueError as error:  # also a decoding error, and JSON nested too deeply
        raise DataError(f"{path}: not a valid JSON file ({error})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
