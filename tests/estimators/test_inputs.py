"""What the estimators accept as data: lists, arrays, Series/DataFrame/Dataset stand-ins, text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.errors import InvalidArgumentError
from rnnkit.estimators.inputs import as_corpus, as_labels, as_texts, corpus_name, split_table


class Series:
    """A pandas Series as the estimators see it: values through tolist() (no pandas needed)."""

    def __init__(self, values: list) -> None:
        self.values = values

    def tolist(self) -> list:
        return list(self.values)


class DataFrame:
    """A pandas DataFrame stand-in: ``columns`` and ``frame[name]`` -> Series."""

    def __init__(self, **columns: list) -> None:
        self.data = columns
        self.columns = list(columns)

    def __getitem__(self, name: str) -> Series:
        return Series(self.data[name])


class Dataset:
    """A Hugging Face datasets.Dataset stand-in: ``column_names`` and ``ds[name]`` -> list."""

    def __init__(self, **columns: list) -> None:
        self.data = columns
        self.column_names = list(columns)

    def __getitem__(self, name: str) -> list:
        return list(self.data[name])


TEXTS = ["a fine film", "dull"]


@pytest.mark.parametrize(
    "given",
    [TEXTS, tuple(TEXTS), np.array(TEXTS), np.array(TEXTS, dtype=object)[:, None], Series(TEXTS),
     DataFrame(text=TEXTS, label=[1, 0]), Dataset(text=TEXTS, label=[1, 0]),
     DataFrame(review=TEXTS, label=[1, 0]), iter(TEXTS)],
    ids=["list", "tuple", "array", "column-array", "series", "dataframe", "dataset",
         "dataframe-one-text-column", "iterator"],
)  # fmt: skip
def test_every_text_container_gives_the_same_list(given) -> None:
    assert as_texts(given) == TEXTS


def test_pandas_itself_when_installed() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": TEXTS, "label": ["pos", "neg"]})
    texts, labels = split_table(frame, None)
    assert as_texts(texts) == TEXTS and as_labels(labels, 2).tolist() == ["pos", "neg"]
    assert as_texts(frame["text"]) == TEXTS


def test_tables_give_labels_by_column_name() -> None:
    for table in (DataFrame(text=TEXTS, y=[1, 0]), Dataset(text=TEXTS, y=[1, 0])):
        texts, labels = split_table(table, "y")
        assert as_texts(texts) == TEXTS and as_labels(labels, 2).tolist() == [1, 0]
    with pytest.raises(InvalidArgumentError, match=r"y=.*columns \['text', 'y'\].*'label'"):
        split_table(Dataset(text=TEXTS, y=[1, 0]), None)


@pytest.mark.parametrize(
    ("bad", "message"),
    [("one text", r"X='one text': expected a list of values; wrap a single text as \[text\]"),
     ([], r"X=\[\]: expected at least one text"),
     (["ok", 3], r"X\[1\]=3: expected a str"),
     (np.zeros((2, 2)), r"expected a 1-D array"),
     (DataFrame(a=TEXTS, b=TEXTS), r"expected a 'text' column")],
)  # fmt: skip
def test_bad_texts_name_the_argument(bad, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        as_texts(bad)


def test_labels_are_one_kind_and_one_per_text() -> None:
    assert as_labels(np.array([1, 0, 1]), 3).dtype.kind == "i"
    with pytest.raises(InvalidArgumentError, match=r"y=.*expected one label per text \(3\)"):
        as_labels([1, 0], 3)
    with pytest.raises(InvalidArgumentError, match=r"all str or all int"):
        as_labels([1.5, 2.5], 2)


def test_labels_in_one_element_rows_are_a_column_and_collections_are_refused() -> None:
    assert as_labels([["pos"], ["neg"]], 2).tolist() == ["pos", "neg"]  # as an (N, 1) array
    for bad, shown in [([["pos", "x"], ["neg", "y"]], r"y\[0\]=\['pos', 'x'\]"),
                       ([["pos"], ["neg", "y"]], r"y\[0\]=\['pos'\]"),
                       ([{"a": 1}, {"b": 2}], r"y\[0\]=\{'a': 1\}")]:  # fmt: skip
        with pytest.raises(InvalidArgumentError, match=shown + ": expected one str or int label per text"):
            as_labels(bad, 2)
    with pytest.raises(InvalidArgumentError, match=r"y='a dict': expected .* not a mapping"):
        as_labels({"a": "pos", "b": "neg"}, 2)  # list(dict) would be its keys
    with pytest.raises(InvalidArgumentError, match=r"X='a dict': expected .* not a mapping"):
        as_texts({"a": "good", "b": "bad"})


def test_a_text_is_never_taken_for_a_file_name(tmp_path: Path) -> None:
    long_line = "x" * 5000  # as a path: OSError File name too long
    assert as_corpus(long_line) == long_line
    assert as_corpus("w" * 300) == "w" * 300  # one path component over the 255-byte limit
    assert as_corpus("to be\nor not") == "to be\nor not"
    assert corpus_name("to be\nor not") == "<text>"
    path = tmp_path / "poems.txt"
    path.write_text("the sea\n")
    assert as_corpus(str(path)) == as_corpus(path) == "the sea\n" and corpus_name(str(path)) == str(path)
    assert as_corpus(["one doc", "two doc"]) == "one doc\ntwo doc"
    assert as_corpus(Dataset(text=["a", "b"])) == "a\nb"
    assert len(as_corpus("shakespeare")) > 10_000  # a bundled corpus by name
