"""Tokenizers: split a string into string tokens, and join tokens back into a string.

- ``char``: every Unicode code point is a token, the text kept exactly; joined with ``""``.
- ``word``: standardize (default: lowercase, then strip punctuation as Keras
  ``TextVectorization`` does; ``"glove"``: GloVe's own tokens, see :mod:`rnnkit.text.glove`),
  then split on whitespace; joined with ``" "``.
- ``whitespace``: split on whitespace, the text kept as is; joined with ``" "``.
- ``word_punct``: runs of letters/digits/underscore, and every other non-space character as a
  token of its own; joined with ``" "``.

Each tokenizer is a small frozen dataclass that serialises to a dict with a ``kind`` key
(``to_dict``) and is rebuilt by :func:`tokenizer_from_dict`. Tokenizers know nothing about ids;
:class:`rnnkit.text.TextVectorizer` pairs one with a :class:`rnnkit.text.Vocabulary`.

Example::

    >>> WordTokenizer().tokenize("Don't panic, it's OK!")
    ['dont', 'panic', 'its', 'ok']
"""

from __future__ import annotations

import re
import string
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from rnnkit.errors import ArgumentTypeError, DataError, invalid
from rnnkit.text.glove import glove_standardize, glove_tokens
from rnnkit.text.padding import check_text

# The 32 ASCII punctuation characters, exactly the set of Keras' DEFAULT_STRIP_REGEX
# r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']' (the apostrophe included: "don't" -> "dont").
_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
_PUNCT_RE = re.compile(f"[{re.escape(string.punctuation)}]+")
_WORD_PUNCT_RE = re.compile(r"\w+|[^\w\s]")


def strip_punctuation(text: str) -> str:
    """Delete the 32 ASCII punctuation characters (``string.punctuation``) from ``text``."""
    return _strip_punctuation(check_text(text))


def lower_and_strip_punctuation(text: str) -> str:
    """Lowercase ``text`` (Unicode-aware ``str.lower``), then :func:`strip_punctuation`."""
    return _strip_punctuation(check_text(text).lower())


def _strip_punctuation(text: str) -> str:
    if text.isascii():  # str.translate has a fast path for ASCII only; a regex is faster otherwise
        return text.translate(_PUNCT_TABLE)
    return _PUNCT_RE.sub("", text)


STANDARDIZERS: dict[str, Callable[[str], str]] = {
    "lower_and_strip_punctuation": lower_and_strip_punctuation,
    "lower": str.lower,
    "strip_punctuation": strip_punctuation,
    "glove": glove_standardize,  # GloVe / Penn Treebank tokens: "does n't", "it 's", "$ 5" ...
}


class Tokenizer(ABC):
    """Base class: ``tokenize`` a string into tokens, ``detokenize`` tokens into a string.

    Subclasses are frozen dataclasses; their ``init`` fields are their whole configuration.
    """

    kind: ClassVar[str]  # the name in the registry and in the ``kind`` key of ``to_dict``
    joiner: ClassVar[str]  # the string ``detokenize`` puts between tokens

    @abstractmethod
    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into a list of non-empty string tokens."""

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Join ``tokens`` back into one string with this tokenizer's ``joiner``.

        Raises:
            ArgumentTypeError: ``tokens`` is not an iterable of str (naming the first non-str).
        """
        try:
            return self.joiner.join(tokens)
        except TypeError:  # not iterable, or a non-str token: name it where it can be found
            listed = tokens if isinstance(tokens, Sequence) else ()  # an iterator is spent
            bad = next((i for i, t in enumerate(listed) if not isinstance(t, str)), None)
            if bad is None:
                raise invalid("tokens", tokens, "an iterable of str tokens", ArgumentTypeError) from None
            raise invalid(f"tokens[{bad}]", listed[bad], "a str token", ArgumentTypeError) from None

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict: ``{"kind": ..., <field>: <value>, ...}``."""
        return {
            "kind": self.kind,
            **{f.name: getattr(self, f.name) for f in fields(self) if f.init},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer of this class from :meth:`to_dict` output.

        Raises:
            DataError: ``kind`` is not this class's kind, or a key is unknown.
        """
        if data.get("kind") != cls.kind:
            raise DataError(f"tokenizer kind={data.get('kind')!r}: expected {cls.kind!r}")
        allowed = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(data) - allowed - {"kind"})
        if unknown:
            raise DataError(
                f"tokenizer {cls.kind!r} has unknown keys {unknown}: expected only "
                f"{sorted(allowed | {'kind'})}"
            )
        return cls(**{k: v for k, v in data.items() if k != "kind"})


@dataclass(frozen=True)
class CharTokenizer(Tokenizer):
    """Each Unicode code point is a token; ``detokenize(tokenize(s)) == s`` for every string.

    No standardisation: a character-level language model learns case and punctuation.
    """

    kind: ClassVar[str] = "char"
    joiner: ClassVar[str] = ""

    def tokenize(self, text: str) -> list[str]:
        """``list(text)``: one token per code point (combining marks are tokens of their own)."""
        return list(check_text(text))


@dataclass(frozen=True)
class WhitespaceTokenizer(Tokenizer):
    """Split on runs of Unicode whitespace (``str.split()``); no other change to the text."""

    kind: ClassVar[str] = "whitespace"
    joiner: ClassVar[str] = " "

    def tokenize(self, text: str) -> list[str]:
        """``text.split()``."""
        return check_text(text).split()


@dataclass(frozen=True)
class WordTokenizer(Tokenizer):
    """Standardize, then split on whitespace, as Keras ``TextVectorization`` does by default.

    Args:
        standardize: ``"lower_and_strip_punctuation"`` (default: lowercase, then delete the 32
            ASCII punctuation characters, apostrophe and hyphen included, so ``"don't"`` becomes
            ``"dont"``), ``"glove"`` (GloVe's tokens: ``"does n't"``, punctuation kept as
            tokens), ``"lower"``, ``"strip_punctuation"``, ``None`` or ``"none"`` (keep the
            text), or a callable ``str -> str`` (which cannot be saved by :meth:`to_dict`).

    Unlike Keras, lowercasing is Unicode-aware (``str.lower``) and the split is on Unicode
    whitespace.
    """

    kind: ClassVar[str] = "word"
    joiner: ClassVar[str] = " "

    standardize: str | Callable[[str], str] | None = "lower_and_strip_punctuation"
    _standardize: Callable[[str], str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.standardize is None or self.standardize == "none":
            function = None
            object.__setattr__(self, "standardize", None)
        elif isinstance(self.standardize, str) and self.standardize in STANDARDIZERS:
            function = STANDARDIZERS[self.standardize]
        elif callable(self.standardize):
            function = self.standardize
        else:
            names = ", ".join(repr(name) for name in STANDARDIZERS)
            raise invalid("standardize", self.standardize, f"one of {names}, None or a callable")
        object.__setattr__(self, "_standardize", function)

    def tokenize(self, text: str) -> list[str]:
        """Standardize ``text`` and split it on whitespace."""
        check_text(text)
        if self._standardize is glove_standardize:
            return glove_tokens(text)  # the same tokens, without joining and splitting them
        if self._standardize is not None:
            text = self._standardize(text)
            if callable(self.standardize):  # the user's function: it must return a str
                check_text(text, "standardize(text)")
        return text.split()

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "word", "standardize": name or None}``.

        Raises:
            InvalidArgumentError: ``standardize`` is a callable, which JSON cannot hold.
        """
        if callable(self.standardize):
            raise invalid(
                "standardize",
                self.standardize,
                "a named standardization (or None) to save the tokenizer; a callable cannot "
                "be serialised, so save with a name and pass the callable again after loading",
            )
        return {"kind": self.kind, "standardize": self.standardize}


@dataclass(frozen=True)
class WordPunctTokenizer(Tokenizer):
    """Words and punctuation as separate tokens: ``"Hi, there!"`` -> ``["Hi", ",", "there", "!"]``.

    A word is a run of ``\\w`` characters (Unicode letters, digits, underscore); every other
    non-space character is a token of its own. Useful for word-level language models, which
    should keep punctuation. ``detokenize`` joins with single spaces.

    Args:
        lower: lowercase the text first.
    """

    kind: ClassVar[str] = "word_punct"
    joiner: ClassVar[str] = " "

    lower: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.lower, bool):
            raise invalid("lower", self.lower, "True or False")

    def tokenize(self, text: str) -> list[str]:
        """Find the word and punctuation tokens of ``text`` (lowercased if ``lower``)."""
        text = check_text(text)
        return _WORD_PUNCT_RE.findall(text.lower() if self.lower else text)


TOKENIZERS: dict[str, type[Tokenizer]] = {
    cls.kind: cls for cls in (CharTokenizer, WordTokenizer, WhitespaceTokenizer, WordPunctTokenizer)
}


def get_tokenizer(tokenizer: str | Tokenizer) -> Tokenizer:
    """Return ``tokenizer`` itself, or a default-configured tokenizer of that kind name.

    Raises:
        InvalidArgumentError: neither a known kind (``"char"``, ``"word"``, ``"whitespace"``,
            ``"word_punct"``) nor a :class:`Tokenizer`.
    """
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    if isinstance(tokenizer, str) and tokenizer in TOKENIZERS:
        return TOKENIZERS[tokenizer]()
    names = ", ".join(repr(name) for name in TOKENIZERS)
    raise invalid("tokenizer", tokenizer, f"one of {names} or a Tokenizer instance")


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    """Rebuild any registered tokenizer from its ``to_dict`` output (dispatch on ``kind``).

    Raises:
        DataError: ``data`` is not a dict, or its ``kind`` or keys are unknown.
    """
    if not isinstance(data, dict) or data.get("kind") not in TOKENIZERS:
        kind = data.get("kind") if isinstance(data, dict) else data
        raise DataError(f"tokenizer kind={kind!r}: expected one of {sorted(TOKENIZERS)}")
    return TOKENIZERS[data["kind"]].from_dict(data)
