"""TextVectorizer: a tokenizer plus a vocabulary, mapping strings to padded id lists and back.

::

    "The cat sat."  --tokenizer-->  ["the", "cat", "sat"]  --vocabulary-->  [2, 7, 9]
                                                   --pad/truncate (optional)-->  [2, 7, 9, 0, 0]

Usage (a character-level language model; a classifier would use ``"word"``)::

    vec = TextVectorizer("char").adapt([corpus])     # builds the vocabulary
    ids = vec.encode(corpus)                          # list[int], one id per character
    vec.decode(ids) == corpus                         # True: every char of corpus is known
    vec.save("run/vocab.json"); TextVectorizer.load("run/vocab.json")  # the same vectorizer

JSON form (``to_dict``; ``save`` writes it with non-ASCII characters escaped)::

    {"format": "rnnkit.text_vectorizer", "version": 1,
     "tokenizer": {"kind": "word", "standardize": "lower_and_strip_punctuation"},
     "max_tokens": 20000, "min_freq": 1, "output_sequence_length": null,
     "padding": "post", "truncating": "post", "specials": [],
     "vocabulary": {"specials": ["<pad>", "<unk>"], "tokens": ["the", "a", ...]}}

``vocabulary`` is null for a vectorizer that was never adapted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import ArgumentTypeError, DataError, NotFittedError, invalid
from rnnkit.text.padding import check_padded_size, check_side, fit_to_length, pad_rows
from rnnkit.text.tokenize import Tokenizer, get_tokenizer, tokenizer_from_dict
from rnnkit.text.vocab import UNK, Vocabulary, check_build_args, read_json, write_json
from rnnkit.validation import check_int

FORMAT, VERSION = "rnnkit.text_vectorizer", 1  # the "format"/"version" keys of the JSON form
_KEYS = frozenset(  # exactly the keys of the JSON form
    [
        "format",
        "version",
        "tokenizer",
        "max_tokens",
        "min_freq",
        "output_sequence_length",
        "padding",
        "truncating",
        "specials",
        "vocabulary",
    ]
)


class TextVectorizer:
    """Strings <-> token ids: tokenize, look up in a vocabulary built by :meth:`adapt`, pad.

    Args:
        tokenizer: ``"char"``, ``"word"`` (Keras-like standardisation, the default),
            ``"whitespace"``, ``"word_punct"``, or a :class:`~rnnkit.text.Tokenizer`.
        max_tokens: the largest vocabulary size, specials included; None for no cap.
        min_freq: a token needs at least this many occurrences in :meth:`adapt`'s texts.
        output_sequence_length: if set, :meth:`encode` pads/truncates every text to this many
            ids; if None, :meth:`encode` keeps the natural length and :meth:`encode_batch`
            pads to the longest text of the batch.
        padding: ``"post"`` (pad at the end, default) or ``"pre"``.
        truncating: ``"post"`` (drop the end, default) or ``"pre"`` (keep the end).
        specials: extra special tokens after ``<pad>``/``<unk>``, e.g. ``[BOS, EOS]``.

    Raises:
        InvalidArgumentError: any argument out of range (checked here, before adapt).
    """

    def __init__(
        self,
        tokenizer: str | Tokenizer = "word",
        *,
        max_tokens: int | None = None,
        min_freq: int = 1,
        output_sequence_length: int | None = None,
        padding: str = "post",
        truncating: str = "post",
        specials: Sequence[str] = (),
    ) -> None:
        check_build_args(max_tokens, min_freq, specials)
        self.tokenizer = get_tokenizer(tokenizer)
        self.max_tokens = max_tokens
        self.min_freq = min_freq
        self.output_sequence_length = check_int(
            "output_sequence_length", output_sequence_length, 1, optional=True
        )
        if self.output_sequence_length is not None:  # one text's ids must fit in memory
            check_padded_size("output_sequence_length", self.output_sequence_length, 1)
        self.padding = check_side("padding", padding)
        self.truncating = check_side("truncating", truncating)
        self.specials = tuple(specials)
        self._vocab: Vocabulary | None = None

    def __repr__(self) -> str:
        size = len(self._vocab) if self._vocab is not None else "not adapted"
        return (
            f"TextVectorizer(tokenizer={self.tokenizer!r}, max_tokens={self.max_tokens}, "
            f"min_freq={self.min_freq}, output_sequence_length={self.output_sequence_length}, "
            f"padding={self.padding!r}, truncating={self.truncating!r}, "
            f"specials={list(self.specials)}, vocab_size={size})"
        )

    # -- vocabulary ----------------------------------------------------------------------
    def adapt(self, texts: Iterable[str]) -> TextVectorizer:
        """Build the vocabulary from ``texts`` (one pass; replaces any previous one).

        Args:
            texts: an iterable of strings (a list, a generator over a file's lines...). For one
                long text, such as a character-level corpus, pass ``[text]``.

        Returns:
            ``self``, so ``TextVectorizer("char").adapt([text])`` reads as one step.

        Raises:
            InvalidArgumentError: ``texts`` is a bare string or yields a non-string.
            DataError: no tokens at all, or none occurring ``min_freq`` times.
        """
        counts: Counter[str] = Counter()
        tokenize = self.tokenizer.tokenize
        for i, text in enumerate(_check_texts(texts)):
            if not isinstance(text, str):
                raise invalid(f"texts[{i}]", text, "a str")
            counts.update(tokenize(text))
        if not counts:
            raise DataError("adapt(texts): no tokens found; expected at least one non-empty text")
        vocab = Vocabulary.from_counts(
            counts, max_tokens=self.max_tokens, min_freq=self.min_freq, specials=self.specials
        )
        if not vocab.tokens:
            most = max(counts.values())
            error = DataError(
                f"min_freq={self.min_freq}: no token occurs min_freq={self.min_freq} times or "
                f"more in the texts (the most frequent occurs {most} times); expected "
                f"min_freq <= {most}, or more text"
            )
            error.argument = "min_freq"  # type: ignore[attr-defined]  # the CLI names --min-freq
            raise error
        self._vocab = vocab
        return self

    def extend(self, tokens: Iterable[str]) -> int:
        """Append ``tokens`` the vocabulary lacks, after its last id; returns how many.

        Existing ids stay as they are, so a model's embedding rows for them still line up;
        ``max_tokens`` caps what :meth:`adapt` learns, not what is added here.
        """
        vocab = self.vocab
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable):
            raise invalid("tokens", tokens, "an iterable of str tokens; wrap one as [token]",
                          ArgumentTypeError)  # fmt: skip
        new = [t for t in dict.fromkeys(tokens) if t not in vocab]  # specials included
        if new:
            self._vocab = Vocabulary((*vocab.tokens, *new), specials=vocab.specials[2:])
        return len(new)

    @property
    def is_adapted(self) -> bool:
        """Whether a vocabulary exists (from :meth:`adapt`, :meth:`from_dict` or :meth:`load`)."""
        return self._vocab is not None

    @property
    def vocab(self) -> Vocabulary:
        """The :class:`~rnnkit.text.Vocabulary`; raises NotFittedError before :meth:`adapt`."""
        if self._vocab is None:
            raise NotFittedError(
                "this TextVectorizer has no vocabulary yet: call adapt(texts) first, or load a "
                "saved one with TextVectorizer.load(path)"
            )
        return self._vocab

    @property
    def vocab_size(self) -> int:
        """The number of ids V (specials included): the embedding/softmax size for a model."""
        return len(self.vocab)

    # -- strings <-> ids -----------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; unknown tokens become ``unk_id`` (1), never an error.

        Padded/truncated to ``output_sequence_length`` when it is set.
        """
        if not isinstance(text, str):
            raise invalid("text", text, "a str (use encode_batch for several texts)")
        ids = self.vocab.lookup_ids(self.tokenizer.tokenize(text))
        if self.output_sequence_length is None:
            return ids
        return fit_to_length(
            ids,
            self.output_sequence_length,
            padding=self.padding,
            truncating=self.truncating,
            value=self.vocab.pad_id,
        )

    def encode_batch(
        self, texts: Iterable[str], *, return_lengths: bool = False
    ) -> list[list[int]] | tuple[list[list[int]], list[int]]:
        """Encode B texts into a rectangular B x T list of id lists.

        T is ``output_sequence_length`` if set, else the longest text's length. With
        ``return_lengths=True`` also returns the B real lengths (ids before padding, after
        truncation; 0 for a text with no tokens).
        """
        vocab, tokenize = self.vocab, self.tokenizer.tokenize
        rows = []
        for i, text in enumerate(_check_texts(texts)):
            if not isinstance(text, str):
                raise invalid(f"texts[{i}]", text, "a str")
            rows.append(vocab.lookup_ids(tokenize(text)))
        if self.output_sequence_length is not None:
            check_padded_size("output_sequence_length", self.output_sequence_length, len(rows))
        ids, lengths = pad_rows(
            rows,
            self.output_sequence_length,
            padding=self.padding,
            truncating=self.truncating,
            value=vocab.pad_id,
        )
        return (ids, lengths) if return_lengths else ids

    def decode(self, ids: Iterable[int], *, skip_special: bool = True) -> str:
        """Turn ids back into text, joining tokens the tokenizer's way ("" or " ").

        With ``skip_special`` (default) the padding and the extra specials (``<bos>``,
        ``<eos>``...) are dropped; ``<unk>`` is always kept, written as ``"<unk>"``, so that
        missing tokens stay visible. Raises InvalidArgumentError for an id outside 0..V-1.
        """
        vocab = self.vocab
        tokens = vocab.lookup_tokens(ids)
        if skip_special:
            dropped = set(vocab.specials) - {UNK}
            tokens = [token for token in tokens if token not in dropped]
        return self.tokenizer.detokenize(tokens)

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The configuration and vocabulary as a JSON-ready dict (see the module docstring)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "tokenizer": self.tokenizer.to_dict(),
            "max_tokens": self.max_tokens,
            "min_freq": self.min_freq,
            "output_sequence_length": self.output_sequence_length,
            "padding": self.padding,
            "truncating": self.truncating,
            "specials": list(self.specials),
            "vocabulary": self._vocab.to_dict() if self._vocab is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextVectorizer:
        """Rebuild the vectorizer that :meth:`to_dict` described, vocabulary included.

        Raises:
            DataError: wrong format/version, missing or unknown keys, or a malformed part.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise DataError(f"format={found!r}: expected {FORMAT!r}")
        if data.get("version") != VERSION:
            raise DataError(f"version={data.get('version')!r}: expected {VERSION}")
        if set(data) != _KEYS:
            raise DataError(
                f"text vectorizer keys: missing {sorted(_KEYS - set(data))}, "
                f"unknown {sorted(set(data) - _KEYS)}"
            )
        try:
            vectorizer = cls(
                tokenizer_from_dict(data["tokenizer"]),
                max_tokens=data["max_tokens"],
                min_freq=data["min_freq"],
                output_sequence_length=data["output_sequence_length"],
                padding=data["padding"],
                truncating=data["truncating"],
                specials=data["specials"],
            )
        except ValueError as error:
            raise DataError(f"text vectorizer: {error}") from None
        if data["vocabulary"] is not None:
            vocab = Vocabulary.from_dict(data["vocabulary"])
            if vocab.specials[2:] != vectorizer.specials:
                raise DataError(
                    f"vocabulary specials={list(vocab.specials)}: expected ['<pad>', '<unk>'] + "
                    f"specials={list(vectorizer.specials)}"
                )
            vectorizer._vocab = vocab
        return vectorizer

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path`` as JSON (a checkpoint's ``vocab.json``)."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> TextVectorizer:
        """Read a vectorizer written by :meth:`save`.

        Raises:
            DataError: the file is not valid JSON or not a vectorizer (naming the file).
        """
        data = read_json(path)
        try:
            return cls.from_dict(data)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None


def _check_texts(texts: Iterable[str]) -> Iterable[str]:
    """Refuse a bare string (whose iteration would yield characters, not texts)."""
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        raise invalid("texts", texts, "an iterable of strings; wrap a single text as [text]")
    return texts
