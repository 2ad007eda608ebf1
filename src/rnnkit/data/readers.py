"""Labelled texts from files: CSV, TSV, JSON Lines, one folder per class, or Python lists.

    data = read_labelled("../shared/data/imdb/train.csv")                # header text,label
    data = read_labelled("ag_news/train.csv", text_cols=[1, 2], label_col=0, header=False)
    labels = label_names_from(data.labels, classes_file="ag_news/classes.txt")
    train, val = train_val_split(data, val_fraction=0.1, seed=0)
    y = labels.encode(train.labels)                                       # list[int], 0..C-1

Files are read line by line; a ``.gz`` suffix is decompressed on the fly. A row without a text
or a label stops the read with a :class:`DataError` naming ``file:line``, or with
``skip_bad_rows=True`` is counted in ``skipped`` (never dropped silently).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import logging
import math
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rnnkit.errors import DataError, invalid
from rnnkit.validation import SURROGATE, check_input_file, json_problem, parse_json

logger = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "jsonl", "folder")
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
_MAX_EXAMPLES = 5  # skipped rows whose reasons are kept in LabelledTexts.skipped_examples

Column = str | int

# Header names that public datasets give their label and text columns, tried when no column is
# named and the header has no "label" / "text" (compared in lower case, spaces and hyphens as
# "_"): the first label name present is the label; every text name present (e.g. AG News'
# title and description) is joined as text.
LABEL_NAMES = ("label", "labels", "class", "class_index", "category", "sentiment", "polarity",
               "target", "intent", "topic", "y")  # fmt: skip
TEXT_NAMES = ("text", "sentence", "review", "content", "document", "comment", "message", "tweet",
              "question", "title", "description", "body", "headline", "utterance", "query",
              "abstract", "x")  # fmt: skip

FIELD_LIMIT = 1 << 20  # longest CSV field read, in characters (csv's default: 131,072;
# a 20 Newsgroups message has 160,616); a longer one is a DataError (an unclosed quote)


@dataclass
class LabelledTexts:
    """Parallel lists of texts and their raw labels (as strings), plus what the read skipped."""

    texts: list[str]
    labels: list[str]
    source: str = "<lists>"  # file or folder read, for messages
    skipped: int = 0  # bad rows skipped (skip_bad_rows=True)
    skipped_examples: list[str] = field(default_factory=list)  # "file:line: problem", first few
    inferred: str = ""  # the columns found by their header names (LABEL_NAMES, TEXT_NAMES), if any
    # where each row came from: its first line in ``file`` (int) or its own file (str, a folder
    # read); empty for lists, whose rows are named by position
    origins: list[int | str] = field(default_factory=list, repr=False)
    file: str = ""  # the file read, for the lines in ``origins``

    def __len__(self) -> int:
        return len(self.texts)

    def where(self, i: int) -> str:
        """Row ``i`` for a message: ``file:line`` as read (skipped rows, blank lines and the
        header counted), or ``source: row i+1`` for rows that came from lists."""
        if i < len(self.origins):
            origin = self.origins[i]
            return f"{self.file}:{origin}" if isinstance(origin, int) else f"{origin}"
        return f"{self.source}: row {i + 1}"

    def subset(self, indices: Sequence[int], name: str) -> LabelledTexts:
        """The rows at ``indices``, in that order; ``name`` is appended to the source."""
        return LabelledTexts(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            source=f"{self.source} [{name}]",
            origins=[self.origins[i] for i in indices] if self.origins else [],
            file=self.file,
        )


def from_lists(
    texts: Sequence[str], labels: Sequence[object], source: str = "<lists>"
) -> LabelledTexts:
    """Wrap parallel lists; labels are converted with ``str``."""
    if len(texts) != len(labels):
        raise invalid("labels", f"{len(labels)} labels", f"one label per text ({len(texts)} texts)")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise invalid(f"texts[{bad}]", texts[bad], "a str")
    return LabelledTexts(list(texts), [str(label) for label in labels], source=source)


def gzipped(path: Path) -> bool:
    """Is ``path`` a gzip file by its name (``.gz`` in any letter case, as ``.CSV.GZ``)?"""
    return path.suffix.lower() == ".gz"


def open_text(path: Path, encoding: str = "utf-8", newline: str | None = None) -> TextIO:
    """Open ``path`` for reading text; ``.gz`` is decompressed, a UTF-8 byte-order mark dropped."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise invalid("encoding", encoding, "a Python codec name such as 'utf-8'") from None
    encoding = "utf-8-sig" if codec == "utf-8" else encoding
    if gzipped(path):
        return gzip.open(path, "rt", encoding=encoding, newline=newline)
    return open(path, encoding=encoding, newline=newline)


@contextmanager
def file_errors(path: Path, encoding: str = "utf-8") -> Iterator[None]:
    """Turn undecodable bytes or a broken gzip stream inside the block into a DataError.

    Text is decoded in large chunks, so on failure the file is scanned again line by line to
    name the first line whose bytes are not valid ``encoding``.
    """
    try:
        yield
    except UnicodeDecodeError as e:
        raise _decode_error(path, encoding, e) from None
    except (gzip.BadGzipFile, EOFError) as e:
        raise DataError(f"{path}: {e}; expected a complete gzip file") from None


def _decode_error(path: Path, encoding: str, error: UnicodeDecodeError) -> DataError:
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 0
    with gzip.open(path, "rb") if gzipped(path) else open(path, "rb") as f:
        for raw in f:
            line += 1
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as e:
                error = e
                break
    bad = error.object[error.start : error.start + 4]
    return DataError(
        f"{path}:{line}: bytes {bad!r} are not valid {encoding}; expected {encoding} text"
    )


def read_labelled(
    path: str | Path,
    format: str | None = None,
    text_cols: Column | Sequence[Column] | None = None,
    label_col: Column | None = None,
    header: bool = True,
    skip_bad_rows: bool = False,
    encoding: str = "utf-8",
    classes: Sequence[str] | None = None,
) -> LabelledTexts:
    """Read labelled texts from a file or a folder.

    format: "csv", "tsv", "jsonl" or "folder"; None infers it from the suffix (``.gz`` removed
        first: .csv, .tsv, .jsonl/.json) or a directory -> "folder".
    text_cols, label_col: columns by header name or 0-based index (int or digit string); JSON
        keys for "jsonl". Several text columns are joined with one space. Defaults: with a header
        "text" and "label"; without a header the label is column 0 and the text is every other
        column; for JSON Lines keys "text" and "label".
    header: whether the first CSV/TSV row names the columns. TSV is read without quoting (a field
        holds no tab or newline); CSV follows RFC 4180 (quoted commas, quotes and newlines).
    skip_bad_rows: count rows with an empty/missing text or label, a wrong number of fields or
        invalid JSON in ``skipped`` instead of raising DataError.
    classes: "folder" only: the subfolders to read as classes (default: every subfolder holding
        ``*.txt`` files). Labels are the subfolder names; each ``<label>/*.txt`` is one text.
    """
    path, format = check_labelled_path("path", path, format)
    reader = _Reader(path, text_cols, label_col, header, skip_bad_rows, encoding)
    with file_errors(path, encoding):
        if format == "folder":
            reader.folder(classes)
        elif format == "jsonl":
            reader.jsonl()
        else:
            reader.delimited(tsv=format == "tsv")
    return reader.result()


def read_texts(
    path: str | Path,
    format: str | None = None,
    text_cols: Column | Sequence[Column] | None = None,
    header: bool = True,
    skip_bad_rows: bool = False,
) -> list[str]:
    """The texts of a csv/tsv/jsonl file (``.gz`` too) without labels, e.g. to train a language
    model on a classifier's training file: columns and bad rows as in :func:`read_labelled`,
    but no label column is needed (without a header every column is text)."""
    path, format = check_labelled_path("path", path, format)
    if format == "folder":
        raise invalid("format", format, "csv, tsv or jsonl for unlabelled texts")
    reader = _Reader(path, text_cols, None, header, skip_bad_rows, "utf-8", labelled=False)
    with file_errors(path):
        if format == "jsonl":
            reader.jsonl()
        else:
            reader.delimited(tsv=format == "tsv")
    return reader.result().texts


@dataclass
class _Reader:
    """One read: its options, the rows kept so far, and what happens to a bad row."""

    path: Path
    text_cols: Column | Sequence[Column] | None
    label_col: Column | None
    header: bool
    skip_bad_rows: bool
    encoding: str
    labelled: bool = True  # False: texts only (no label column; labels left empty)
    data: LabelledTexts = field(init=False)

    def __post_init__(self) -> None:
        self.data = LabelledTexts([], [], source=str(self.path), file=str(self.path))

    def result(self) -> LabelledTexts:
        """The rows read; none at all is a DataError (with the first bad row's reason)."""
        data = self.data
        if not data.texts:
            skipped = f" ({data.skipped} bad, e.g. {data.skipped_examples[0]})" if data.skipped else ""
            what = "a text and a label" if self.labelled else "a text"
            raise DataError(f"{self.path}: no rows{skipped}; expected rows with {what}")
        return data

    def add(self, where: str, texts: Iterable[str], label: str, origin: int | str) -> None:
        text = " ".join(t for t in texts if t.strip())  # several text columns: one space between
        label = label.strip()
        if not text:
            self.bad(where, "empty text", "a non-empty text")
        elif not label and self.labelled:
            self.bad(where, "empty label", "a non-empty label")
        elif SURROGATE.search(text + label):  # JSON's "\ud800": no UTF-8 can hold it
            self.bad(where, "a lone surrogate (e.g. \\ud800) in the text or label", "Unicode text")
        else:
            self.data.texts.append(text)
            self.data.labels.append(label)
            self.data.origins.append(origin)

    def bad(self, where: str, problem: str, expected: str) -> None:
        if not self.skip_bad_rows:
            raise DataError(f"{where}: {problem}; expected {expected} (or skip_bad_rows=True)")
        self.data.skipped += 1
        if len(self.data.skipped_examples) < _MAX_EXAMPLES:
            self.data.skipped_examples.append(f"{where}: {problem}")

    def column(self, arg: str, spec: Column, names: list[str] | None, width: int) -> int:
        """Index of column ``spec`` (header name, int or digit string) in rows of ``width``.
        A name the header holds twice is refused: which column was meant cannot be known."""
        if names is not None and spec in names:
            where = [i for i, name in enumerate(names) if name == spec]
            if len(where) > 1:
                raise invalid(arg, spec, f"a column name the header holds once: {spec!r} names "
                              f"columns {', '.join(map(str, where))} (give an index instead)")  # fmt: skip
            return where[0]
        index = spec if isinstance(spec, int) else int(spec) if spec.isdigit() else -1
        if 0 <= index < width:
            return index
        if names is None:
            raise invalid(arg, spec, f"an index 0..{width - 1} (the file has no header)")
        expected = f"a column name in the header ({', '.join(names)}) or an index 0..{width - 1}"
        raise invalid(arg, spec, expected)

    def default_names(self, names: list[str]) -> tuple[list[str], str]:
        """(text columns, label column) for a header when none was named: "text" and "label"
        in any case, else the names public datasets use (TEXT_NAMES, LABEL_NAMES). What was
        found other than "text" and "label" is noted in ``data.inferred``; nothing found
        leaves "text" / "label", which then fail with the header in the message."""
        lower = [re.sub(r"[\s-]+", "_", n.strip().lower()) for n in names]  # "Class Index"
        label = "label"
        if self.labelled and self.label_col is None:
            found = next((n for n in LABEL_NAMES if n in lower), None)
            label = names[lower.index(found)] if found else "label"
        texts = ["text"]
        if self.text_cols is None:
            pairs = [(n, low) for n, low in zip(names, lower, strict=True) if n != label]
            candidates = [n for n, low in pairs if low in TEXT_NAMES]
            exact = [n for n, low in pairs if low == "text"]
            others = [n for n in names if n != label]  # one column beside the label: the text
            texts = exact or candidates or (others if len(others) == 1 else texts)
        notes = [f"text from {', '.join(map(repr, texts))}"] if texts != ["text"] else []
        notes += [f"label from {label!r}"] if label != "label" else []
        self.data.inferred = "; ".join(notes)
        return texts, label

    def columns(self, names: list[str] | None, width: int) -> tuple[list[int], int]:
        """(text column indices, label column index) for a header ``names`` or ``width`` fields;
        unlabelled: the label index is -1 and, without a header, every column is text."""
        default_texts, default_label = self.default_names(names) if names else (["text"], "label")
        if not self.labelled:
            specs = _as_list(self.text_cols if self.text_cols is not None else default_texts)
            if self.text_cols is None and names is None:
                return list(range(width)), -1
            return [self.column("text_cols", c, names, width) for c in specs], -1
        label_spec = self.label_col
        if label_spec is None:
            label_spec = default_label if names is not None else 0
        label = self.column("label_col", label_spec, names, width)
        if self.text_cols is not None:
            specs = _as_list(self.text_cols)
        elif names is not None:
            specs = default_texts
        else:
            return [i for i in range(width) if i != label], label
        texts = [self.column("text_cols", c, names, width) for c in specs]
        if label in texts:  # the same column by name and by index: the label would be input
            raise invalid("text_cols", self.text_cols, f"columns other than the label column"
                          f" {label_spec!r} (column {label})")  # fmt: skip
        return texts, label

    def delimited(self, tsv: bool) -> None:
        if csv.field_size_limit() < FIELD_LIMIT:  # process-wide: the csv module has no other
            csv.field_size_limit(FIELD_LIMIT)
        dialect = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tsv else {}
        with open_text(self.path, self.encoding, newline="") as f:
            reader = csv.reader(f, **dialect)
            text_idx: list[int] = []
            label_idx = width = 0
            next_line = 1
            try:
                for row in reader:
                    line, next_line = next_line, reader.line_num + 1  # a field may span lines
                    where = f"{self.path}:{line}"
                    if not row:
                        continue  # a blank line is no row
                    if not width:  # the first row fixes the width and the columns
                        width = len(row)
                        text_idx, label_idx = self.columns(row if self.header else None, width)
                        if self.header:
                            continue
                    if len(row) != width:
                        self.bad(where, f"{len(row)} fields", f"{width} like the first row")
                    else:
                        label = row[label_idx] if label_idx >= 0 else ""
                        self.add(where, (row[i] for i in text_idx), label, line)
            except csv.Error as e:  # e.g. a field longer than csv.field_size_limit()
                raise DataError(f"{self.path}:{next_line}: {e}; expected CSV") from None

    def jsonl(self) -> None:
        text_keys = _as_list("text" if self.text_cols is None else self.text_cols)
        label_key = "label" if self.label_col is None else self.label_col
        for arg, key in [("text_cols", k) for k in text_keys] + [("label_col", label_key)]:
            if not isinstance(key, str):
                raise invalid(arg, key, "a key name (str) for JSON Lines")
        checked = False
        with open_text(self.path, self.encoding) as f:
            for line, raw in enumerate(f, 1):
                where = f"{self.path}:{line}"
                if not raw.strip():
                    continue
                try:
                    record = parse_json(raw)
                except ValueError as e:  # malformed, nested too deeply, a 5,000-digit number
                    self.bad(where, f"invalid JSON ({json_problem(e)})", "one JSON object per line")
                    continue
                if not isinstance(record, dict):
                    self.bad(where, f"a JSON {type(record).__name__}", "one JSON object per line")
                    continue
                if not checked:  # the first record tells whether the keys exist at all
                    text_keys, label_key = self.json_keys(list(record), text_keys, label_key)
                    keys = [("text_cols", k) for k in text_keys]
                    keys += [("label_col", label_key)] if self.labelled else []
                    for arg, key in keys:
                        if key not in record:
                            raise invalid(arg, key, f"a key of the records ({', '.join(record)})")
                    checked = True
                texts = [record.get(k) for k in text_keys]
                label, problem = json_label(record.get(label_key)) if self.labelled else ("", None)
                if not all(isinstance(t, str) for t in texts):
                    self.bad(where, "text missing or not a string", "a string for each text key")
                elif problem:
                    self.bad(where, problem, "a string or an integer as the class label")
                else:
                    self.add(where, texts, label, line)

    def json_keys(
        self, record_keys: list[str], text_keys: list[str], label_key: str
    ) -> tuple[list[str], str]:
        """The text and label keys of JSON Lines records: as named, or found by name
        (:meth:`default_names`) among the first record's keys when none was named."""
        found_texts, found_label = self.default_names(record_keys)
        texts = text_keys if self.text_cols is not None else found_texts
        return texts, label_key if self.label_col is not None else found_label

    def folder(self, classes: Sequence[str] | None) -> None:
        root = self.path
        found = class_folders(root)
        for name in classes or []:
            if name not in found:
                raise invalid("classes", name, f"a subfolder with .txt files ({', '.join(found)})")
        for name in sorted(classes) if classes else found:
            for file in text_files(root / name):
                with file_errors(file, self.encoding), open_text(file, self.encoding) as f:
                    self.add(f"{file}:1", [f.read()], name, str(file))


def _visible_texts(folder: Path) -> Iterator[Path]:
    """The .txt files of a class folder, hidden ones (``.name``, macOS's ``._name`` resource
    forks) left out, as tools that list folders leave them."""
    return (f for f in folder.glob("*.txt") if not f.name.startswith("."))


def text_files(folder: Path) -> list[Path]:
    """The visible .txt files of a class folder, sorted."""
    return sorted(_visible_texts(folder))


def class_folders(root: Path) -> list[str]:
    """The names of ``root``'s subfolders holding a visible .txt file, sorted; hidden folders
    (``.git``, ``.ipynb_checkpoints``) are not classes. Each folder is listed only as far as
    its first such file."""
    return sorted(
        d.name for d in root.iterdir()
        if d.is_dir() and not d.name.startswith(".") and next(_visible_texts(d), None)
    )  # fmt: skip


def json_label(value: object) -> tuple[str, str | None]:
    """(label as text, None) of a JSON record's label value, or ("", the problem).

    A string is kept as it is; an integer is written in decimal (``1`` and ``1.0`` -> "1").
    A missing label or null gives "" (an empty label). An array or object, true/false, NaN or
    ±inf, or a number with a fraction (``1.5`` looks like a regression target, not a class)
    is a problem naming the value.
    """
    if value is None or isinstance(value, str):
        return value or "", None
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if isinstance(value, bool):
        return "", f"label {str(value).lower()} is a boolean (quote it if it names a class)"
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        if not math.isfinite(value):
            return "", f"label {shown} is not a finite number"
        if value.is_integer():
            return str(int(value)), None
        return "", f"label {shown} has a fraction (a regression target? classes are names or integers)"
    kind = {list: "an array", dict: "an object"}.get(type(value), type(value).__name__)
    return "", f"label {shown} is {kind}, not one class"


def check_labelled_path(name: str, path: str | Path, format: str | None) -> tuple[Path, str]:
    """(path, format) of a labelled file or folder that can be read; ``format`` None infers it.

    Raises DataError naming ``name``, the path and the real problem (empty path, missing,
    a directory given as a file, a folder without class subfolders, ...).
    """
    if format is not None and format not in FORMATS:
        raise invalid("format", format, f"one of {FORMATS} or None")
    if format == "folder" or (format is None and str(path).strip() and Path(path).is_dir()):
        folder = Path(path)
        if not folder.is_dir():
            raise DataError(f"{name} {str(path)!r}: is not a folder; expected a folder per class")
        if not class_folders(folder):
            raise DataError(
                f"{name} {str(path)!r}: no class subfolders with .txt files; expected a folder "
                "with one subfolder of .txt files per class (or a csv/tsv/jsonl file)"
            )
        return folder, "folder"
    expected = f"a {format} file" if format else f"a labelled file or folder, format {FORMATS}"
    file = check_input_file(name, path, expected)
    if format is None:
        stem = file.with_suffix("") if gzipped(file) else file
        format = _SUFFIX_FORMATS.get(stem.suffix.lower())
        if format is None:
            raise invalid("format", None, f"one of {FORMATS} (cannot infer it from {file.name!r})")
    return file, format


def _as_list(cols: Column | Sequence[Column]) -> list[Column]:
    return [cols] if isinstance(cols, str | int) else list(cols)


@dataclass
class LabelMap:
    """Class ids 0..C-1 <-> display names <-> the raw label values found in the data."""

    names: list[str]  # class id -> display name
    values: list[str]  # class id -> raw label as in the file (== names unless a classes file maps)
    _ids: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("names", "values"):
            items = getattr(self, name)
            if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
                raise invalid(name, items, "a list of class labels (str)")
            setattr(self, name, list(items))
        if len(self.names) != len(self.values) or len(set(self.values)) != len(self.values):
            raise invalid("values", self.values, f"{len(self.names)} distinct labels, one a name")
        if len(set(self.names)) != len(self.names):
            raise invalid("names", self.names, "distinct class names")
        self._ids = {v: i for i, v in enumerate(self.values)}

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, labels: Iterable[str]) -> list[int]:
        """Raw labels -> class ids; a label never seen in training is a DataError."""
        try:
            return [self._ids[label] for label in labels]
        except KeyError as e:
            raise DataError(
                f"label {e.args[0]!r} was not seen in training; expected one of {self.values}"
            ) from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Class ids -> display names."""
        return [self.names[i] for i in ids]

    def to_dict(self) -> dict[str, list[str]]:
        return {"names": list(self.names), "values": list(self.values)}

    @classmethod
    def from_dict(cls, d: dict[str, list[str]]) -> LabelMap:
        if not isinstance(d, dict) or set(d) != {"names", "values"}:
            raise invalid("label_map", d, "a dict with keys 'names' and 'values'")
        return cls(d["names"], d["values"])


def _warn_of_look_alikes(values: list[str]) -> None:
    """Warn where distinct labels differ only in letter case, blanks or number form ("pos"
    and "POS", "1" and "1.0"): they stay separate classes, as written, which is rarely meant."""
    groups: dict[str, list[str]] = {}
    for value in values:
        key = value.strip().casefold()
        try:
            number = float(key)
            key = str(int(number)) if number.is_integer() else key
        except (ValueError, OverflowError):
            pass
        groups.setdefault(key, []).append(value)
    alike = [group for group in groups.values() if len(group) > 1]
    if alike:
        shown = "; ".join(" / ".join(map(repr, group)) for group in alike[:5])
        logger.warning("labels that differ only in letter case, blanks or number form are "
                       "separate classes: %s (make them one label in the data if they mean one "
                       "class)", shown)  # fmt: skip


def label_names_from(labels: Iterable[str], classes_file: str | Path | None = None) -> LabelMap:
    """The LabelMap of ``labels`` (raw values, e.g. ``LabelledTexts.labels``).

    Without ``classes_file`` the classes are the sorted distinct labels (numerically when all are
    integers). With it (one name per line, as AG News' classes.txt) the labels must be those
    names or 1-based indices "1".."C", so that "1" -> the first name.
    """
    seen = set(labels)
    if classes_file is None:
        numeric = all(v.removeprefix("-").isdigit() for v in seen)
        values = sorted(seen, key=int) if numeric else sorted(seen)
        _warn_of_look_alikes(values)
        return LabelMap(values, values)
    path = check_input_file("classes", classes_file, "a file of class names, one per line")
    with file_errors(path), open_text(path) as f:
        names = [line.strip() for line in f if line.strip()]
    if not names or len(set(names)) != len(names):
        problem = f"{len(names)} class names, {len(names) - len(set(names))} repeated"
        raise DataError(f"{path}: {problem}; expected distinct names, one per line")
    indices = [str(i) for i in range(1, len(names) + 1)]
    for values in (names, indices):
        if seen <= set(values):
            return LabelMap(names, values)
    bad = sorted(seen - set(indices))[:5]
    raise DataError(f"{path}: labels {bad} are not its names; expected those or 1..{len(names)}")


def shuffled(data: LabelledTexts, seed: int = 0) -> LabelledTexts:
    """The rows in a random order drawn from ``random.Random(seed)``."""
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    return data.subset(order, f"shuffled seed={seed}")


def train_val_split(
    data: LabelledTexts, val_fraction: float = 0.1, seed: int = 0, stratify: bool = True
) -> tuple[LabelledTexts, LabelledTexts]:
    """Shuffle and split into (train, val); with ``stratify`` each label keeps its proportion."""
    if not 0 < val_fraction < 1:
        raise invalid("val_fraction", val_fraction, "a fraction strictly between 0 and 1")
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        groups.setdefault(label if stratify else "", []).append(i)
    train: list[int] = []
    val: list[int] = []
    for key in sorted(groups):
        indices = groups[key]
        rng.shuffle(indices)
        k = round(len(indices) * val_fraction)
        val += indices[:k]
        train += indices[k:]
    if not train or not val:
        expected = f"a fraction leaving rows of the {len(data)} on both sides"
        raise invalid("val_fraction", val_fraction, expected)
    rng.shuffle(train)
    rng.shuffle(val)
    return data.subset(train, "train"), data.subset(val, "val")
