"""Pad and truncate id sequences to one length (Keras ``pad_sequences`` semantics).

::

    seq = [5, 6, 7, 8], length 3       seq = [5, 6], length 4
    truncating="post": [5, 6, 7]       padding="post": [5, 6, 0, 0]
    truncating="pre":  [6, 7, 8]       padding="pre":  [0, 0, 5, 6]

The classifier's ``truncate`` has a third side, ``"middle"``: a long text keeps its first
quarter of ``max_len`` and its last three quarters (seq = [1, ..., 10], length 4: [1, 8, 9,
10]). Reviews and messages tend to state their verdict at the end and their subject at the
start; Sun et al. (2019, "How to fine-tune BERT for text classification?") found this
head + tail cut best on IMDB.

Defaults are ``"post"`` for both (keep the start of a text, pad at the end), which suits RNNs
given ``lengths``; Keras' ``pad_sequences`` defaults to ``"pre"`` for both. Also home to the
small argument checks shared by ``rnnkit.text``.

This module is the one place that pads and truncates: the classifier pipeline
(``rnnkit.tasks.classification``: a text's ``max_len`` and ``truncate`` side) and
``rnnkit.data.batching.collate`` call :func:`truncate`; ``pad_sequences`` and
``TextVectorizer`` keep Keras' argument names (``maxlen``, ``output_sequence_length``,
``truncating``) so that Keras code ports unchanged.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.validation import check_int, check_memory

SIDES = ("post", "pre")  # the values of ``padding`` and ``truncating``
TRUNCATE_SIDES = (*SIDES, "middle")  # the values of the classifier's ``truncate``
INT64 = (-(2**63), 2**63 - 1)  # the range of a padding id (torch.long)
_ROWS = "B sequences of ints (lists, tuples or 1-D arrays)"
_ROW = "a sequence of ints (a list, tuple or 1-D array)"


def check_side(name: str, value: Any) -> str:
    """Return ``value`` if it is ``"post"`` or ``"pre"``, else raise InvalidArgumentError."""
    if value not in SIDES:
        raise invalid(name, value, "'post' or 'pre'")
    return value


def check_text(text: Any, name: str = "text") -> str:
    """``text`` if it is a str, else an ArgumentTypeError naming ``name`` (bytes: decode first).

    Called once per text by every tokenizer and standardizer, never per character.
    """
    if isinstance(text, str):
        return text
    hint = "; decode bytes first, e.g. text.decode('utf-8')" if isinstance(text, bytes) else ""
    raise invalid(name, text, f"a str{hint}", ArgumentTypeError)


def truncate(rows: Iterable[Sequence[int]], max_len: int | None, side: str = "post") -> list[list[int]]:
    """Each id sequence cut to at most ``max_len`` ids: its start ("post"), its end ("pre"),
    or its first ``max_len // 4`` and last ``max_len - max_len // 4`` ("middle": the middle is cut).

    ``max_len`` None keeps every sequence whole. Arguments are assumed valid.
    """
    if max_len is None:
        return [list(row) for row in rows]
    if side == "post":
        return [list(row[:max_len]) for row in rows]
    if side == "pre":
        return [list(row[max(0, len(row) - max_len) :]) for row in rows]
    head = max_len // 4
    return [list(row) if len(row) <= max_len else [*row[:head], *row[len(row) - (max_len - head) :]] for row in rows]


def fit_to_length(
    seq: Sequence[int],
    length: int,
    *,
    padding: str = "post",
    truncating: str = "post",
    value: int = 0,
) -> list[int]:
    """Return ``seq`` as a list of exactly ``length`` ids, truncated or padded with ``value``.

    ``padding``/``truncating`` are ``"post"`` (at the end) or ``"pre"`` (at the start); the
    arguments are assumed valid (see :func:`pad_sequences` for the checked version).
    """
    n = len(seq)
    if n >= length:
        return truncate([seq], length, truncating)[0]
    fill = [value] * (length - n)
    return [*seq, *fill] if padding == "post" else [*fill, *seq]


def pad_sequences(
    sequences: Iterable[Sequence[int]],
    maxlen: int | None = None,
    *,
    padding: str = "post",
    truncating: str = "post",
    value: int = 0,
) -> tuple[list[list[int]], list[int]]:
    """Pad/truncate every sequence to ``maxlen`` (default: the longest), return ``(ids, lengths)``.

    Args:
        sequences: B sequences of ints (lists, tuples or 1-D arrays).
        maxlen: the output length T; None pads to the longest sequence.
        padding: ``"post"`` pads at the end, ``"pre"`` at the start.
        truncating: ``"post"`` drops ids from the end, ``"pre"`` from the start.
        value: the padding id (a vocabulary's ``pad_id``, 0 in rnnkit).

    Returns:
        ``ids``: B lists of T ints; ``lengths``: B ints, the number of real (kept) ids in each
        row, ``min(len(seq), T)``; a row from an empty sequence has length 0.

    Raises:
        InvalidArgumentError: for a bad ``maxlen``, ``padding``, ``truncating`` or ``value``.
        ArgumentTypeError: ``sequences`` is not an iterable of sequences of ints (a str, a
            number, a row holding a str, a float or None), naming the first bad row or
            element (``sequences[2][0]``).
    """
    length = check_int("maxlen", maxlen, 1, optional=True)
    check_side("padding", padding)
    check_side("truncating", truncating)
    check_int("value", value, *INT64)
    rows = id_rows(sequences)
    if length is not None:
        check_padded_size("maxlen", length, len(rows))
    return pad_rows(rows, length, padding=padding, truncating=truncating, value=value)


def check_padded_size(name: str, length: int, rows: int) -> None:
    """Refuse a length whose ``rows`` x ``length`` padded ids (a list slot of 8 bytes each)
    would not fit in this machine's memory."""
    what = f"a smaller length: {rows:,} x {length:,} padded ids"
    check_memory(name, length, max(rows, 1) * length * 8, what)


def pad_rows(
    rows: Sequence[Sequence[int]],
    maxlen: int | None,
    *,
    padding: str = "post",
    truncating: str = "post",
    value: int = 0,
) -> tuple[list[list[int]], list[int]]:
    """:func:`pad_sequences` without its checks, for rows known to be valid (a vectorizer's)."""
    length = max(map(len, rows), default=0) if maxlen is None else maxlen
    lengths = [min(len(row), length) for row in rows]
    fitted = [
        fit_to_length(row, length, padding=padding, truncating=truncating, value=value)
        for row in rows
    ]
    return fitted, lengths


def id_rows(sequences: Iterable[Sequence[int]]) -> list[Sequence[int]]:
    """The rows of ``sequences``, each a sequence of ints (kept as given when it already is one).

    A row of Python ints is checked by one ``sum`` in C (an int total: every element is an int,
    a bool counting as one); a row that fails it is checked id by id, and other integers
    (numpy ints, 0-d integer tensors) are converted with ``operator.index``.

    Raises:
        ArgumentTypeError: naming the first bad row (``sequences[i]``) or id (``sequences[i][j]``).
    """
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise invalid("sequences", sequences, _ROWS, ArgumentTypeError)
    rows = []
    for i, seq in enumerate(sequences):
        row = seq
        if type(seq) is not list:  # a list (the common case) needs no further look
            if isinstance(seq, (str, bytes)) or not isinstance(seq, Iterable):
                raise invalid(f"sequences[{i}]", seq, _ROW, ArgumentTypeError)
            row = seq if isinstance(seq, Sequence) else list(seq)
        if not _all_ints(row):
            row = [as_index(f"sequences[{i}][{j}]", v, "an int") for j, v in enumerate(row)]
        rows.append(row)
    return rows


def _all_ints(row: Sequence[Any]) -> bool:
    """Whether every element of ``row`` is an int (or bool): a float, numpy or tensor element
    makes the sum another type, a str or None makes it fail. About 4x cheaper than checking
    each element's type, so padding stays as fast as copying the rows."""
    try:
        return type(sum(row)) is int
    except TypeError:
        return False


def as_index(name: str, value: Any, expected: str) -> int:
    """``value`` as an int if it is an integer (int or bool, numpy int, 0-d integer tensor).

    Raises:
        ArgumentTypeError: ``name=value: expected <expected>``.
    """
    try:
        return operator.index(value)
    except TypeError:
        raise invalid(name, value, expected, ArgumentTypeError) from None
