"""Standardisation consistent with GloVe's vocabulary (``standardize="glove"``).

GloVe 6B (Pennington, Socher & Manning 2014) was trained on lower-cased text split by the
Stanford (Penn Treebank style) tokenizer, so its vocabulary holds ``n't``, ``'s``, ``$``,
``1,000``, ``3.5``, ``u.s.`` and every punctuation mark as separate words. Deleting punctuation
(Keras' default) turns ``doesn't`` into ``doesnt``, which no pretrained vocabulary holds.
:func:`glove_standardize` rewrites a text into GloVe's tokens joined by single spaces:

- web text is cleaned first: HTML tags (IMDB's ``<br />``) are removed, entities decoded
  (``&amp;``, and AG News' ``#39;`` / ``quot;`` written without the ``&``), curly quotes and
  apostrophes made ASCII;
- lower-case; URLs (``http://...``, ``www....``) and e-mail addresses stay one token;
- clitics split as in the Penn Treebank: ``doesn't`` -> ``does n't``, ``can't`` -> ``ca n't``,
  ``it's`` -> ``it 's``, also ``'m 're 've 'll 'd``;
- numbers keep their inner separators (``1,000``, ``3.5``, ``10:30``, ``1/2``); dotted
  abbreviations of single letters stay whole (``u.s.``, ``e.g.``); ``...`` is one token;
- an emoticon standing alone (after whitespace, before whitespace or ``. , ! ?``) stays one
  token: ``:)``, ``;-)``, ``:((``, ``:d``, ``:p``, ``(:``, ``<3``, ``^_^`` (GloVe holds
  ``:)``; the others are learnt as units). Inside a word (``great:)``) it is split;
- every other non-alphanumeric character (``$ % - ( ) ! ?`` ...) is a token of its own.

    >>> glove_standardize("It's $5.50 - doesn't <br />matter!")
    "it 's $ 5.50 - does n't matter !"

Applying it twice gives the same tokens as applying it once (tested).
"""

from __future__ import annotations

import html
import re

__all__ = ["glove_standardize", "glove_tokens"]

_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")  # <br />, <i>, </a href=...>
_BARE_ENTITY_RE = re.compile(r"(?<![&\w])(#\d{1,5}|quot|amp|lt|gt|nbsp|hellip|rsquo|lsquo);")
_QUOTES = str.maketrans(  # typographic quotes and dashes made ASCII (cp1252's too in IMDB);
    {  # AG News' backslash line breaks made spaces
        "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "`": "'", "\\": " ",
        "\u2013": "-", "\u2014": "-", "\x96": "-", "\x97": "-",
    }
)  # fmt: skip
_TOKEN_RE = re.compile(
    r"""
    (?<!\S)(?:[:;=][-o'^]?[)(\]\[dp/|*3]+|[)(\]\[][-o'^]?[:;=]|</?3|\^_*\^)(?![^\s.,!?])
                                                     # emoticon standing alone: :) ;-) :(( <3
  | (?:https?://|www\.)[^\s<>"]+[^\s<>".,;:!?)\]'] # URL, without trailing punctuation
  | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                     # e-mail address
  | \w+(?=n't\b)                                     # does|n't, ca|n't, wo|n't
  | n't\b
  | '(?:s|m|d|ll|re|ve)\b                            # it|'s, i|'m, they|'re ...
  | \d+(?:[.,:/]\d+)+                                # 1,000  3.5  10:30  1/2
  | (?<![\w.])[^\W\d_](?:\.[^\W\d_])+\.              # u.s.  e.g.  a.m.
  | \w+
  | \.\.\.+                                          # ellipsis
  | [^\w\s]                                          # any other symbol, one at a time
    """,
    re.VERBOSE,
)


def clean_text(text: str) -> str:
    """``text`` without HTML tags, entities decoded, quotes and dashes ASCII, lower-cased."""
    if not isinstance(text, str):  # a plain TypeError: this module stays standalone (re, html)
        hint = "; decode bytes first, e.g. text.decode('utf-8')" if isinstance(text, bytes) else ""
        raise TypeError(f"text={text!r:.60}: expected a str{hint}")
    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    if ";" in text:
        text = html.unescape(_BARE_ENTITY_RE.sub(r"&\1;", text))
    return text.translate(_QUOTES).lower()


def glove_tokens(text: str) -> list[str]:
    """The GloVe-style tokens of ``text`` (see the module docstring for the rules).

    No token spans whitespace, so each whitespace-separated chunk is tokenised alone: a chunk
    of letters and digits only (most words) is one token, the others go through the full
    pattern. The tokens equal ``_TOKEN_RE.findall(clean_text(text))`` (tested); on IMDB
    reviews this takes half the time.
    """
    tokens: list[str] = []
    for chunk in clean_text(text).split():
        if chunk.isalnum():
            tokens.append(chunk)
        else:
            tokens.extend(_TOKEN_RE.findall(chunk))
    return tokens


def glove_standardize(text: str) -> str:
    """``text`` as GloVe-style tokens joined by single spaces (a ``standardize`` function)."""
    return " ".join(glove_tokens(text))
