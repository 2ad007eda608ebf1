"""Word-and-punctuation tokens back to ordinary text, for scoring translations with sacrebleu.

sacrebleu expects detokenised text (it applies its own 13a tokenisation to hypothesis and
reference alike), so a translation made of ``word_punct`` tokens is joined with these simple
rules rather than left as ``"a man , smiling ."``:

* no space before closing punctuation ``. , ! ? ; : % ) ] }``
* no space after an opening bracket ``( [ {``
* no space around ``- ' ’ /`` between two word characters (``t - shirt`` -> ``t-shirt``,
  ``man ' s`` -> ``man's``)

Quotation marks are left with their spaces. It is a heuristic, not a Moses detokeniser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rnnkit.validation import check_strings

_BEFORE = re.compile(r" ([.,!?;:%)\]}])")
_AFTER = re.compile(r"([(\[{]) ")
_INNER = re.compile(r"(\w) ([-'’/]) (?=\w)")


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens with spaces, then close up punctuation as the module docstring says."""
    tokens = check_strings("tokens", tokens, "an iterable of str tokens", "a str token")
    text = " ".join(tokens)
    text = _INNER.sub(r"\1\2", text)
    return _AFTER.sub(r"\1", _BEFORE.sub(r"\1", text))
