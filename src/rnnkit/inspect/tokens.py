"""The text being inspected as the model sees it: tokens, ids, unknowns, and simple features.

Dimensions: T tokens.

A character model reads every character; a word language model reads each line's words and
``<eos>`` between lines; a classifier reads its tokenizer's words cut to the run's ``max_len``.
Tokens outside the vocabulary get ``<unk>``'s id and are flagged, never an error.

Features (one value per token, what a unit's activation is correlated with, after Karpathy,
Johnson & Fei-Fei 2015): ``inside quotes`` (1 from an opening ``"`` up to its closing one),
``position in line`` (tokens since the last newline), ``after newline`` (1 right after one),
``punctuation`` (1 for a token made only of punctuation). A word tokenizer that strips
punctuation leaves the quote and punctuation features constant (correlation 0).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import DataError, invalid
from rnnkit.text import EOS, TextVectorizer, padding
from rnnkit.validation import check_unicode

FEATURES = ("inside quotes", "position in line", "after newline", "punctuation")


@dataclass
class Tokens:
    """tokens: T strings (a newline is ``"\\n"``); ids: (T,) int64; unknown: (T,) bool;
    joiner: what separates tokens when shown ("" for characters, " " for words);
    dropped: tokens cut off by the classifier's max_len."""

    tokens: list[str]
    ids: np.ndarray
    unknown: np.ndarray
    joiner: str
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.tokens)


def lm_tokens(text: str, vectorizer: TextVectorizer, lowercase: bool) -> Tokens:
    """The tokens a language model reads for ``text`` (lower-cased when trained so)."""
    check_inspected_text(text)
    if lowercase:
        text = text.lower()
    tokenize = vectorizer.tokenizer.tokenize
    if vectorizer.tokenizer.kind == "char":
        tokens = tokenize(text)
    else:
        tokens = []
        for index, line in enumerate(text.split("\n")):
            tokens.extend([EOS] if index else [])  # <eos> between lines, as in training
            tokens.extend(tokenize(line))
    return _lookup(tokens, vectorizer, 0)


def classifier_tokens(text: str, vectorizer: TextVectorizer, max_len: int, truncate: str) -> Tokens:
    """The tokens a classifier reads for ``text``: its tokenizer's, cut to ``max_len``."""
    check_inspected_text(text)
    tokens = vectorizer.tokenizer.tokenize(text)
    kept = padding.truncate([tokens], max_len, truncate)[0]
    return _lookup(kept, vectorizer, len(tokens) - len(kept))


def check_inspected_text(text: str) -> None:
    """A str (ArgumentTypeError otherwise) of valid Unicode, not blank: what :func:`inspect`
    reads (checked before a run is loaded, and again by each reader here)."""
    check_unicode(padding.check_text(text), "text")
    if not text.strip():
        raise invalid("text", text, "a non-empty text to inspect")


def _lookup(tokens: list[str], vectorizer: TextVectorizer, dropped: int) -> Tokens:
    if not tokens:
        raise DataError("text: no tokens after tokenization; expected at least one word")
    vocab = vectorizer.vocab
    ids = np.asarray(vocab.lookup_ids(tokens), dtype=np.int64)
    joiner = "" if vectorizer.tokenizer.kind == "char" else " "
    shown = ["\n" if t == EOS else t for t in tokens]
    return Tokens(shown, ids, ids == vocab.unk_id, joiner, dropped)


def features(tokens: list[str]) -> dict[str, np.ndarray]:
    """Name -> (T,) float64 feature values of the tokens (see the module docstring)."""
    inside, quoted, column, after, newline = [], False, 0, [], False
    positions, punct = [], []
    for token in tokens:
        if token.count('"') % 2:
            quoted = not quoted
        inside.append(quoted or '"' in token)
        after.append(newline)
        positions.append(column)
        newline = token == "\n"
        column = 0 if newline else column + 1
        punct.append(all(unicodedata.category(ch).startswith("P") for ch in token))
    values = (inside, positions, after, punct)
    return {name: np.asarray(v, dtype=np.float64) for name, v in zip(FEATURES, values, strict=True)}
