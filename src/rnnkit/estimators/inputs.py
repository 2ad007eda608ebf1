"""What the estimators accept as data, turned into plain lists (no pandas or datasets import).

Texts: a list/tuple of str, a 1-D numpy array, anything with ``tolist()`` (a pandas Series),
a table's column (a pandas DataFrame or a Hugging Face ``datasets.Dataset``, recognised by
``columns`` / ``column_names``), or any iterable of str but a set (it has no order). Labels: the same containers of str
or int values (rows of one label, ``[["pos"], ...]``, count as a column), never a mix of the
two, nor an empty str. A dict is refused: iterating it would give its keys. A language model's
corpus: one text, a path or bundled corpus name, or a collection of documents (joined with
newlines). A text or label holding a lone surrogate (``"\\ud800"``, half of a UTF-16 pair) is
refused as the command line's readers refuse it: no UTF-8 file (a checkpoint's vocabulary or
config.json) can hold it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.corpora import BUNDLED, load_corpus
from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.validation import check_unicode

TEXT_COLUMN, LABEL_COLUMN = "text", "label"  # column names looked for in a table
_MAX_PATH = 1024  # a longer string (or one with a line break) is a text, never a file name


def columns_of(data: Any) -> list[str] | None:
    """The column names of a table (Hugging Face ``column_names``, pandas ``columns``), or None."""
    names = getattr(data, "column_names", None)
    if names is None and hasattr(data, "columns") and hasattr(data, "__getitem__"):
        names = getattr(data, "columns", None)
    return None if names is None or isinstance(names, str) else [str(n) for n in names]


def column(data: Any, name: str, argument: str) -> Any:
    """Column ``name`` of a table, or an InvalidArgumentError listing the columns it has."""
    names = columns_of(data) or []
    if name not in names:
        raise invalid(argument, f"a table with columns {names}", f"a column named {name!r}")
    return data[name]


def as_list(values: Any, name: str) -> list[Any]:
    """Values of a list, tuple, numpy array (1-D, or (N, 1)), Series or iterable as a list."""
    if isinstance(values, bytes):
        raise invalid(name, values, "str texts, not bytes: decode them first, e.g. "
                      "data.decode('utf-8')", ArgumentTypeError)  # fmt: skip
    if isinstance(values, str):
        raise invalid(name, values, "a list of values; wrap a single text as [text]")
    if isinstance(values, Mapping):  # list(dict) would be its keys
        raise invalid(name, f"a {type(values).__name__}", "a list, array or column of values, not a mapping")
    if isinstance(values, (set, frozenset)):  # no order: answers could not be matched to texts
        raise invalid(name, f"a {type(values).__name__} of {len(values)}",
                      "an ordered list, array or column of values, not a set")  # fmt: skip
    if isinstance(values, np.ndarray):
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise invalid(name, f"array of shape {values.shape}", "a 1-D array (N,)")
        return values.tolist()
    if hasattr(values, "tolist") and not isinstance(values, (list, tuple)):
        return as_list(np.asarray(values.tolist(), dtype=object), name)
    if not isinstance(values, Iterable):
        raise invalid(name, values, "a list, array or column of values")
    return list(values)


def as_texts(data: Any, name: str = "X") -> list[str]:
    """N texts as a list of str (a table gives its "text" column, or its only column)."""
    names = columns_of(data)
    if names is not None:
        others = [n for n in names if n != LABEL_COLUMN]
        if TEXT_COLUMN not in names and len(others) != 1:
            raise invalid(name, f"a table with columns {names}", f"a {TEXT_COLUMN!r} column")
        data = data[TEXT_COLUMN if TEXT_COLUMN in names else others[0]]
    texts = as_list(data, name)
    if not texts:
        raise invalid(name, texts, "at least one text")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise invalid(f"{name}[{bad}]", texts[bad], "a str (every element is one text)")
    for i, text in enumerate(texts):
        check_unicode(text, f"{name}[{i}]")
    return texts


def as_labels(labels: Any, n: int, name: str = "y") -> np.ndarray:
    """(N,) labels of one kind (all str, or all int / bool) as a numpy array."""
    listed = as_list(labels, name)
    try:
        values = np.asarray(listed)
    except ValueError:  # ragged nested lists
        values = np.asarray(listed, dtype=object)
    if values.ndim == 2 and values.shape[1] == 1:  # [[label], ...], as an (N, 1) array
        values = values[:, 0]
    # a row of an array with 2 or more dimensions is itself an array, so this covers them too
    nested = next((i for i, v in enumerate(values) if isinstance(v, (list, tuple, dict, set, np.ndarray))), None)
    if nested is not None:
        raise invalid(f"{name}[{nested}]", listed[nested], "one str or int label per text, not a collection")
    if values.shape != (n,):
        raise invalid(name, f"{values.size} labels", f"one label per text ({n})")
    if values.dtype.kind not in "Uiub":
        items = [v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v for v in listed]
        bad = next((i for i, v in enumerate(items) if not isinstance(v, (str, numbers.Integral))), None)
        if bad is not None:  # None, a float, NaN, an object: name the first
            raise invalid(f"{name}[{bad}]", items[bad], "a str or int label (labels are all "
                          "str or all int)", ArgumentTypeError)  # fmt: skip
        raise invalid(name, values.dtype, "labels that are all str or all int")
    if values.dtype.kind == "U":
        _check_str_labels(values, listed, name)
    return values


def _check_str_labels(values: np.ndarray, listed: list[Any], name: str) -> None:
    """Refuse str labels mixed with numbers (numpy turned those into str), an empty label, or
    a lone surrogate, naming the first such label (the command line refuses the last two)."""
    scalars = [v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v for v in listed]
    number = next((i for i, v in enumerate(scalars) if not isinstance(v, str)), None)
    if number is not None:
        first = next((v for v in scalars if isinstance(v, str)), None)
        raise invalid(
            f"{name}[{number}]", scalars[number],
            f"a str label like {first!r}: labels are all str or all int, not a mix",
        )  # fmt: skip
    empty = np.flatnonzero(np.char.strip(values) == "")
    if empty.size:
        raise invalid(f"{name}[{empty[0]}]", values[empty[0]].item(), "a non-empty label")
    for i, label in enumerate(scalars):
        check_unicode(label, f"{name}[{i}]")


def split_table(data: Any, labels: Any, name: str = "X") -> tuple[Any, Any]:
    """``(texts, labels)`` for ``fit(table)`` / ``fit(table, "label")``: labels by column name."""
    if columns_of(data) is not None and (labels is None or isinstance(labels, str)):
        return data, column(data, labels or LABEL_COLUMN, "y")
    if labels is None:
        raise invalid("y", None, f"labels for the texts of {name} (or a table with a label column)")
    return data, labels


def is_file(text: str) -> bool:
    """Whether ``text`` names an existing file (False for a long or multi-line text)."""
    return _names(text, Path.is_file)


def is_directory(text: str) -> bool:
    """Whether ``text`` names an existing directory (False for a long or multi-line text)."""
    return _names(text, Path.is_dir)


def _names(text: str, test: Callable[[Path], bool]) -> bool:
    """``test`` of the path ``text``, for a text that could be a path (short, one line)."""
    if len(text) >= _MAX_PATH or "\n" in text:
        return False
    try:
        return test(Path(text))
    except OSError:  # e.g. a name component longer than the file system allows
        return False


FILE_SUFFIXES = (".txt", ".gz", ".csv", ".tsv", ".jsonl", ".json", ".md", ".raw", ".tokens")


def looks_like_a_missing_file(text: str) -> bool:
    """Whether ``text`` is one word that ends like a file name (``corpus.txt``,
    ``data/wiki.train.tokens``) yet names no file: a mistyped path, not a text to train on."""
    return (len(text) < _MAX_PATH and not any(c.isspace() for c in text)
            and text.lower().endswith(FILE_SUFFIXES) and not is_file(text))  # fmt: skip


def corpus_name(data: Any) -> str:
    """What config.json records as the corpus: the file or bundled name, else "<text>"."""
    if isinstance(data, Path) or (isinstance(data, str) and (data in BUNDLED or is_file(data))):
        return str(data)
    return "<text>"


def as_corpus(data: Any, name: str = "X") -> str:
    """One training text from a text, a file path or bundled name, or a list of documents.

    A str is read as a file when it names an existing file or a bundled corpus (and is short
    and on one line); any other str is the text itself, so a long text never reaches the file
    system, except one word ending like a file name (``missing.txt``), an existing directory
    or a bundled name in other letter cases (``Nietzsche``): those are refused, since scoring
    the name itself would be nonsense. Documents are joined with newlines.
    """
    if isinstance(data, Path):
        return load_corpus(data)
    if isinstance(data, str):
        if data in BUNDLED or is_file(data):
            return load_corpus(data)
        if not data.strip():
            raise invalid(name, data, "a non-empty text, a file path or a bundled corpus name")
        if looks_like_a_missing_file(data):  # scoring the name itself would be nonsense
            raise invalid(name, data, "an existing file, a bundled corpus name or a text: no "
                          "such file (a one-word text: pass [text])")  # fmt: skip
        if is_directory(data):
            raise invalid(name, data, "a file, a bundled corpus name or a text, not a directory "
                          "(a one-word text: pass [text])")  # fmt: skip
        if data.strip().lower() in BUNDLED:
            raise invalid(name, data, f"the bundled corpus {data.strip().lower()!r} (names are "
                          "lower case) or a text (a one-word text: pass [text])")  # fmt: skip
        check_unicode(data, name)
        return data
    return "\n".join(as_texts(data, name))
