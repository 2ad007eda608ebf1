"""Parallel text: aligned files, TSV/CSV pairs, and every misalignment as a clear error."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rnnkit.data.parallel import from_lists, read_parallel
from rnnkit.errors import DataError, InvalidArgumentError


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_aligned_files_plain_and_gzip(tmp_path: Path) -> None:
    src = write(tmp_path / "a.de.gz", "Ein Hund.\nZwei Katzen.\n")
    tgt = write(tmp_path / "a.en", "A dog.\r\nTwo cats.\r\n")
    pairs = read_parallel(src, tgt)
    assert pairs.sources == ["Ein Hund.", "Zwei Katzen."]
    assert pairs.targets == ["A dog.", "Two cats."]
    assert pairs.lines == [1, 2]


def test_different_line_counts_name_both_counts(tmp_path: Path) -> None:
    src = write(tmp_path / "s", "a\nb\nc\n")
    tgt = write(tmp_path / "t", "x\ny\n")
    with pytest.raises(DataError, match=r"has 3 lines and .* 2; expected the same number"):
        read_parallel(src, tgt)
    with pytest.raises(DataError, match=r"has 2 lines and .* 3"):
        read_parallel(tgt, src)


def test_an_empty_line_is_an_error_or_a_counted_skip(tmp_path: Path) -> None:
    src = write(tmp_path / "s", "a\n \nc\n")
    tgt = write(tmp_path / "t", "x\ny\nz\n")
    with pytest.raises(DataError, match=r"s \+ .*t:2: empty source"):
        read_parallel(src, tgt)
    pairs = read_parallel(src, tgt, skip_bad=True)
    assert (pairs.sources, pairs.targets, pairs.lines) == (["a", "c"], ["x", "z"], [1, 3])
    assert pairs.skipped == 1 and ":2: empty source" in pairs.skipped_examples[0]


def test_over_long_pairs_are_an_error_or_a_counted_skip(tmp_path: Path) -> None:
    pairs = read_parallel(write(tmp_path / "p.tsv", "a b\tx\nc\ty z w\nd\tv\n"))
    with pytest.raises(DataError, match=r"p.tsv:2: 1 source and 3 target tokens, over max_len=2"):
        pairs.drop_long(lambda s: len(s.split()), 2, skip=False)
    kept = pairs.drop_long(lambda s: len(s.split()), 2, skip=True)
    assert kept.sources == ["a b", "d"] and kept.lines == [1, 3] and kept.skipped == 1


def test_tsv_and_csv_pairs(tmp_path: Path) -> None:
    tsv = read_parallel(write(tmp_path / "p.tsv.gz", 'Er sagt "ja".\tHe says "yes".\n'))
    assert tsv.sources == ['Er sagt "ja".'] and tsv.targets == ['He says "yes".']
    csv = read_parallel(write(tmp_path / "p.csv", 'de,en\n"Hallo, Welt",Hello world\n'), header=True)
    assert csv.sources == ["Hallo, Welt"] and csv.lines == [2]
    with pytest.raises(DataError, match=r"p3.tsv:2: 3 columns; expected 2"):
        read_parallel(write(tmp_path / "p3.tsv", "a\tb\nc\td\te\n"))
    with pytest.raises(InvalidArgumentError, match=r"\.tsv/\.csv"):
        read_parallel(write(tmp_path / "pairs.txt", "a\tb\n"))
    with pytest.raises(DataError, match="no such file"):
        read_parallel(tmp_path / "missing.de", tmp_path / "missing.en")


def test_from_lists_checks_its_arguments() -> None:
    assert len(from_lists(["a", "b"], ["x", "y"])) == 2
    with pytest.raises(InvalidArgumentError, match="one per source"):
        from_lists(["a", "b"], ["x"])
    with pytest.raises(InvalidArgumentError, match=r"targets\[1\]"):
        from_lists(["a", "b"], ["x", " "])
