"""Parallel text (sentence pairs) from two aligned files or one two-column TSV/CSV file.

    pairs = read_parallel("train.de", "train.en")              # line i of each is one pair
    pairs = read_parallel("train.tsv")                         # source<TAB>target per line
    pairs = read_parallel("pairs.csv", header=True)            # CSV, first row names columns

Plain or ``.gz`` files, UTF-8. Two aligned files must have the same number of lines: a
difference is a :class:`DataError` giving both counts (never a silent misalignment). A pair
with an empty side stops the read with a DataError naming ``file:line``, or with
``skip_bad=True`` is counted in ``skipped`` (and its reason kept in ``skipped_examples``).
Lines over a length limit are checked after tokenisation, by :meth:`ParallelTexts.drop_long`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from rnnkit.data.readers import file_errors, open_text
from rnnkit.errors import DataError, invalid

PAIR_FORMATS = ("tsv", "csv")
_MAX_EXAMPLES = 5  # skipped pairs whose reasons are kept


@dataclass
class ParallelTexts:
    """Aligned source and target sentences, their line numbers, and what the read skipped."""

    sources: list[str]
    targets: list[str]
    source: str = "<lists>"  # file(s) read, for messages
    lines: list[int] = field(default_factory=list)  # 1-based line of each pair in its file(s)
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)  # "file:line: problem"

    def __post_init__(self) -> None:
        if not self.lines:
            self.lines = list(range(1, len(self.sources) + 1))

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, indices: Sequence[int]) -> ParallelTexts:
        """The pairs at ``indices`` in that order (line numbers kept for messages)."""
        return ParallelTexts(
            [self.sources[i] for i in indices], [self.targets[i] for i in indices],
            self.source, [self.lines[i] for i in indices],
        )  # fmt: skip

    def skip(self, line: int, problem: str) -> None:
        self.skipped += 1
        if len(self.skipped_examples) < _MAX_EXAMPLES:
            self.skipped_examples.append(f"{self.source}:{line}: {problem}")

    def drop_long(
        self, count: Callable[[str], int], max_len: int, skip: bool
    ) -> ParallelTexts:
        """The pairs whose two sides have at most ``max_len`` tokens by ``count``.

        A longer pair is a DataError naming its line, or with ``skip`` counted and dropped.
        """
        kept = []
        for index, (src, tgt) in enumerate(zip(self.sources, self.targets, strict=True)):
            sizes = (count(src), count(tgt))
            if max(sizes) <= max_len:
                kept.append(index)
                continue
            problem = f"{sizes[0]} source and {sizes[1]} target tokens, over max_len={max_len}"
            if not skip:
                raise DataError(
                    f"{self.source}:{self.lines[index]}: {problem}; expected at most {max_len} "
                    "per side (raise --max-len, or --skip-bad to count and skip such pairs)"
                )
            self.skip(self.lines[index], problem)
        if len(kept) == len(self):
            return self
        out = self.subset(kept)
        out.skipped, out.skipped_examples = self.skipped, self.skipped_examples
        return out


def from_lists(sources: Sequence[str], targets: Sequence[str]) -> ParallelTexts:
    """Wrap two parallel lists of strings (same length, no empty strings)."""
    if isinstance(sources, str) or isinstance(targets, str):
        raise invalid("sources", sources, "a list of strings, not one string")
    if len(sources) != len(targets):
        raise invalid("targets", f"{len(targets)} targets", f"one per source ({len(sources)})")
    for name, texts in (("sources", sources), ("targets", targets)):
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise invalid(f"{name}[{i}]", text, "a non-empty str")
    return ParallelTexts(list(sources), list(targets))


def read_parallel(
    source: str | Path, target: str | Path | None = None, *, format: str | None = None,
    header: bool = False, skip_bad: bool = False, role: str = "source",
) -> ParallelTexts:  # fmt: skip
    """Read pairs from two aligned files, or (``target=None``) one two-column TSV/CSV file.

    ``format`` (tsv | csv) applies to the one-file form; None infers it from the suffix
    (``.tsv``/``.csv``, before a ``.gz``). Two files may not end in ``.tsv``/``.csv``: such a
    file holds pairs, so a target beside it is a mistake (an InvalidArgumentError). ``header`` drops the first row of a TSV/CSV file.
    ``role`` names the source in errors ("source", "val_source", "test_source").
    """
    source = Path(source)
    if target is None:
        name = f"{source}"
        rows = _delimited(source, _pair_format(source, format, role), header)
    else:
        name = f"{source} + {target}"
        target_role = role.replace("source", "target")
        for this, other, path in ((role, target_role, source), (target_role, role, Path(target))):
            suffixes = [s for s in path.suffixes if s.lower() != ".gz"]
            if suffixes and suffixes[-1].lstrip(".").lower() in PAIR_FORMATS:
                raise invalid(this, str(path), f"a file of sentences, one a line, aligned with "
                              f"{other}: a {suffixes[-1]} file holds pairs (give such a file "
                              f"alone, as {role})")  # fmt: skip
        rows = _aligned(source, Path(target))
    pairs = ParallelTexts([], [], name)
    for line, src, tgt in rows:
        src, tgt = src.strip(), tgt.strip()
        if src and tgt:
            pairs.sources.append(src)
            pairs.targets.append(tgt)
            pairs.lines.append(line)
            continue
        problem = "empty source" if not src else "empty target"
        if not skip_bad:
            raise DataError(
                f"{name}:{line}: {problem} sentence; expected text on both sides "
                "(--skip-bad counts and skips such pairs)"
            )
        pairs.skip(line, problem)
    if not pairs.sources:
        raise DataError(f"{name}: no sentence pairs; expected at least one")
    return pairs


def _pair_format(path: Path, format: str | None, role: str) -> str:
    if format is not None:
        if format not in PAIR_FORMATS:
            raise invalid("format", format, "tsv or csv")
        return format
    suffixes = [s for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1].lstrip(".") if suffixes else ""
    if suffix not in PAIR_FORMATS:
        target = role.replace("source", "target")
        raise invalid(
            role, str(path), f"two aligned files ({role} and {target}), or one .tsv/.csv "
            "file with source and target columns (or give --format)",
        )  # fmt: skip
    return suffix


def _check_file(path: Path) -> None:
    if not path.is_file():
        problem = "is not a regular file (a pipe, socket or device)" if path.exists() else "no such file"
        raise DataError(f"{path}: {problem}; expected a text file, one sentence per line")


def _aligned(source: Path, target: Path) -> Iterator[tuple[int, str, str]]:
    """(line, source, target) of two files read in step; different line counts: DataError."""
    _check_file(source)
    _check_file(target)
    with closing(_lines(source)) as src, closing(_lines(target)) as tgt:
        for line, (a, b) in enumerate(zip_longest(src, tgt), start=1):
            if a is None or b is None:
                counts = (line - 1 + sum(1 for _ in src) + (a is not None),
                          line - 1 + sum(1 for _ in tgt) + (b is not None))  # fmt: skip
                raise DataError(
                    f"{source} has {counts[0]:,} lines and {target} {counts[1]:,}; expected "
                    "the same number (line i of each file is one sentence pair)"
                )
            yield line, a.rstrip("\r\n"), b.rstrip("\r\n")


def _lines(path: Path) -> Iterator[str]:
    """The lines of ``path``; bytes that are not UTF-8 are a DataError naming this file."""
    with file_errors(path), open_text(path, newline="") as f:
        yield from f


def _delimited(path: Path, format: str, header: bool) -> Iterator[tuple[int, str, str]]:
    """(line, source, target) of a two-column TSV/CSV file; another column count: DataError."""
    _check_file(path)
    delimiter = "\t" if format == "tsv" else ","
    with file_errors(path), open_text(path, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE if format == "tsv" else csv.QUOTE_MINIMAL)  # fmt: skip
        for index, row in enumerate(reader):
            if index == 0 and header:
                continue
            line = reader.line_num
            if len(row) != 2:
                raise DataError(
                    f"{path}:{line}: {len(row)} columns; expected 2 (source{delimiter!r}target)"
                )
            yield line, row[0], row[1]
