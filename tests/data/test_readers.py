"""Tests of rnnkit.data.readers: every format from small files written here, errors, real data."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from rnnkit.data.readers import (
    LabelMap,
    from_lists,
    label_names_from,
    read_labelled,
    read_texts,
    shuffled,
    train_val_split,
)
from rnnkit.errors import DataError, InvalidArgumentError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


CSV = 'text,label\n"Hello, world",pos\n"two\nlines, here",neg\nplain,pos\n'


def test_csv_with_quoted_commas_and_newlines(tmp_path: Path) -> None:
    data = read_labelled(write(tmp_path / "a.csv", CSV))
    assert data.texts == ["Hello, world", "two\nlines, here", "plain"]
    assert data.labels == ["pos", "neg", "pos"]
    assert data.skipped == 0 and data.source.endswith("a.csv") and len(data) == 3


def test_csv_columns_by_name_index_and_digit_string(tmp_path: Path) -> None:
    path = write(tmp_path / "b.csv", "id,title,body,y\n1,T1,B1,x\n2,T2,,y\n")
    for cols, label in [(["title", "body"], "y"), ([1, 2], 3), (["1", "2"], "3")]:
        data = read_labelled(path, text_cols=cols, label_col=label)
        assert data.texts == ["T1 B1", "T2"]  # joined with one space, empty fields left out
        assert data.labels == ["x", "y"]


@pytest.mark.parametrize(
    ("header", "pattern"),
    [("text,text,label", r"^text_cols='text': .*'text' names columns 0, 1 \(give an index instead\)"),
     ("text,label,label", r"^label_col='label': .*'label' names columns 1, 2")],
)  # fmt: skip
def test_a_column_name_the_header_repeats_is_refused(tmp_path: Path, header, pattern) -> None:
    path = write(tmp_path / "dup.csv", f"{header}\na,b,c\nd,e,f\n")
    with pytest.raises(InvalidArgumentError, match=pattern):
        read_labelled(path)
    assert read_labelled(path, text_cols=[0], label_col=2).texts == ["a", "d"]  # by index


def test_csv_without_header_like_ag_news(tmp_path: Path) -> None:
    path = write(tmp_path / "ag.csv", '"3","Title one","Desc, one"\n"1","T2","D2"\n')
    data = read_labelled(path, text_cols=[1, 2], label_col=0, header=False)
    assert data.texts == ["Title one Desc, one", "T2 D2"] and data.labels == ["3", "1"]
    default = read_labelled(path, header=False)  # label column 0, text = all other columns
    assert default.texts == data.texts and default.labels == data.labels


def test_tsv_jsonl_and_gz(tmp_path: Path) -> None:
    tsv = read_labelled(write(tmp_path / "a.tsv", 'text\tlabel\nsay "hi", ok\tpos\n'))
    assert tsv.texts == ['say "hi", ok'] and tsv.labels == ["pos"]  # TSV: quotes kept verbatim
    lines = [{"text": "good film", "label": 1}, {"text": 'bad, "quoted"', "label": 0}]
    jsonl = "\n".join(json.dumps(r) for r in lines) + "\n\n"
    for name in ("a.jsonl", "a.jsonl.gz", "a.json"):
        data = read_labelled(write(tmp_path / name, jsonl))
        assert data.texts == ["good film", 'bad, "quoted"'] and data.labels == ["1", "0"]
    gz = read_labelled(write(tmp_path / "a.csv.gz", CSV))
    assert gz.texts == read_labelled(write(tmp_path / "c.csv", CSV)).texts
    shouted = tmp_path / "B.CSV.GZ"  # the suffixes in any letter case
    shouted.write_bytes(gzip.compress(CSV.encode()))
    assert read_labelled(shouted).texts == gz.texts


def test_jsonl_custom_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "k.jsonl", '{"title": "A", "body": "b", "y": "z"}\n')
    data = read_labelled(path, text_cols=["title", "body"], label_col="y")
    assert data.texts == ["A b"] and data.labels == ["z"]
    with pytest.raises(InvalidArgumentError, match=r"label_col='lab'.*title, body, y"):
        read_labelled(path, text_cols="title", label_col="lab")


def test_hidden_files_and_folders_are_not_data(tmp_path: Path) -> None:
    root = tmp_path / "reviews"
    write(root / "pos" / "a.txt", "fine")
    write(root / "neg" / "b.txt", "dull")
    write(root / "pos" / ".hidden.txt", "not a review")
    write(root / "neg" / "._b.txt", b"\x00\x05\x16\x07 resource fork")  # not UTF-8 either
    write(root / ".ipynb_checkpoints" / "c.txt", "a notebook's copy")
    data = read_labelled(root)
    assert sorted(zip(data.labels, data.texts, strict=True)) == [("neg", "dull"), ("pos", "fine")]


def test_folder_per_class(tmp_path: Path) -> None:
    root = tmp_path / "train"
    write(root / "pos" / "1_9.txt", "great <br />movie")
    write(root / "pos" / "0_8.txt", "fine")
    write(root / "neg" / "2_1.txt", "awful")
    write(root / "unsup" / "3_0.txt", "no label")
    write(root / "urls.txt", "not a class")
    data = read_labelled(root, classes=["pos", "neg"])
    assert data.labels == ["neg", "pos", "pos"]  # classes sorted, files sorted within
    assert data.texts == ["awful", "fine", "great <br />movie"]
    assert read_labelled(root).labels.count("unsup") == 1  # default: every subfolder with .txt
    with pytest.raises(InvalidArgumentError, match=r"classes='neutral'.*neg, pos, unsup"):
        read_labelled(root, classes=["neutral"])


def test_missing_field_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", 'text,label\n"multi\nline",a\n,b\nok,\nshort\nfine,c\n')
    with pytest.raises(DataError, match=r"bad\.csv:4: empty text"):
        read_labelled(path)
    data = read_labelled(path, skip_bad_rows=True)
    assert data.texts == ["multi\nline", "fine"] and data.labels == ["a", "c"]
    assert data.skipped == 3
    assert [e.split(": ", 1)[0][-5:] for e in data.skipped_examples] == ["csv:4", "csv:5", "csv:6"]
    assert "1 fields" in data.skipped_examples[2]
    spanning = write(tmp_path / "span.csv", 'text,label\nok,a\n"two\nlines",\n')
    with pytest.raises(DataError, match=r"span\.csv:3: empty label"):  # where the row starts
        read_labelled(spanning)


def test_bad_jsonl_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "b.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"\n[1]\n')
    with pytest.raises(DataError, match=r"b\.jsonl:2: invalid JSON"):
        read_labelled(path)
    data = read_labelled(path, skip_bad_rows=True)
    assert data.texts == ["a"] and data.skipped == 2


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    body = b"text,label\nfine,a\nalso fine,b\ncaf\xe9,c\n"
    for name in ("latin.csv", "latin.csv.gz"):
        with pytest.raises(DataError, match=rf"{name}:4: bytes b'\\xe9.*not valid utf-8"):
            read_labelled(write(tmp_path / name, body))
    data = read_labelled(tmp_path / "latin.csv", encoding="latin-1")
    assert data.texts[-1] == "café"


def test_nonexistent_column_lists_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "title,description,class\nt,d,1\n")
    with pytest.raises(InvalidArgumentError, match=r"text_cols='body'.*\(title, description, cl"):
        read_labelled(path, text_cols="body", label_col="class")
    unknown = write(tmp_path / "u.csv", "head,tail,kind\nt,d,1\n")
    with pytest.raises(InvalidArgumentError, match=r"label_col='label'.*head, tail, kind"):
        read_labelled(unknown)  # no "label" and no other name of LABEL_NAMES in this header
    with pytest.raises(InvalidArgumentError, match=r"label_col=5.*0\.\.2 \(the file has no header"):
        read_labelled(path, header=False, label_col=5)


@pytest.mark.parametrize(
    ("header", "texts", "label", "inferred"),
    [
        ("review,sentiment", ["review"], "sentiment", "text from 'review'; label from 'sentiment'"),
        ("Label,Text", ["Text"], "Label", "text from 'Text'; label from 'Label'"),
        ("Class Index,Title,Description", ["Title", "Description"], "Class Index", None),
        ("id,text,target", ["text"], "target", "label from 'target'"),
        ("sentence\tlabel", ["sentence"], "label", "text from 'sentence'"),
        ("label,body_of_message", ["body_of_message"], "label", None),  # the one other column
        ("title,text,label", ["text"], "label", ""),  # "text" itself wins over other text names
    ],
)
def test_columns_found_by_common_header_names(
    tmp_path: Path, header: str, texts: list[str], label: str, inferred: str | None
) -> None:
    sep = "\t" if "\t" in header else ","
    names = header.split(sep)
    row = {n: f"v-{n}" for n in names}
    row[label] = "pos"
    path = write(tmp_path / ("a.tsv" if sep == "\t" else "a.csv"),
                 f"{header}\n{sep.join(row[n] for n in names)}\n")  # fmt: skip
    data = read_labelled(path)
    assert data.texts == [" ".join(f"v-{t}" for t in texts)] and data.labels == ["pos"]
    if inferred is not None:
        assert data.inferred == inferred
    jsonl = write(tmp_path / "a.jsonl", json.dumps(row) + "\n")
    assert read_labelled(jsonl).texts == data.texts
    assert read_texts(path) == data.texts  # unlabelled reads find the text the same way


def test_named_columns_are_never_replaced_by_found_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "review,sentiment,note\ngood,pos,x\n")
    assert read_labelled(path, text_cols="note").texts == ["x"]
    assert read_labelled(path, label_col="note").labels == ["x"]
    with pytest.raises(InvalidArgumentError, match=r"label_col='label'.*a, b"):
        read_labelled(write(tmp_path / "b.csv", "a,b\n1,2\n"))  # nothing to go by: as before


def test_empty_file_missing_file_and_unknown_format(tmp_path: Path) -> None:
    for name, text in [("e.csv", ""), ("h.csv", "text,label\n"), ("e.jsonl", "\n\n")]:
        with pytest.raises(DataError, match=rf"{name}: no rows; expected"):
            read_labelled(write(tmp_path / name, text))
    only_bad = write(tmp_path / "bad.csv", "text,label\n,x\n")
    with pytest.raises(DataError, match=r"no rows \(1 bad, e\.g\. .*bad\.csv:2: empty text\)"):
        read_labelled(only_bad, skip_bad_rows=True)
    with pytest.raises(DataError, match="does not exist"):
        read_labelled(tmp_path / "absent.csv")
    huge = write(tmp_path / "huge.csv", 'text,label\nok,a\n"' + "x" * 1_100_000 + '",b\n')
    with pytest.raises(DataError, match=r"huge\.csv:3: field larger than field limit"):
        read_labelled(huge)
    with pytest.raises(InvalidArgumentError, match="encoding='klingon'"):
        read_labelled(huge, encoding="klingon")
    with pytest.raises(InvalidArgumentError, match=r"format=None.*'a\.txt'"):
        read_labelled(write(tmp_path / "a.txt", "x"))


def test_from_lists() -> None:
    data = from_lists(["a", "b"], [1, 0])
    assert data.labels == ["1", "0"] and data.source == "<lists>"
    with pytest.raises(InvalidArgumentError, match="labels='1 labels'"):
        from_lists(["a", "b"], [1])


def test_classes_file_maps_one_based_indices(tmp_path: Path) -> None:
    classes = write(tmp_path / "classes.txt", "World\nSports\nBusiness\nSci/Tech\n")
    labels = label_names_from(["2", "1", "4", "2"], classes_file=classes)
    assert labels.names == ["World", "Sports", "Business", "Sci/Tech"]
    assert labels.encode(["1", "4"]) == [0, 3] and labels.decode([1, 2]) == ["Sports", "Business"]
    assert label_names_from(["Sports"], classes).encode(["Sports"]) == [1]  # names used directly
    with pytest.raises(DataError, match=r"classes\.txt: labels \['5'\]"):
        label_names_from(["1", "5"], classes_file=classes)


def test_label_map_sorting_roundtrip_and_unseen_label() -> None:
    assert label_names_from(["10", "9", "-1"]).names == ["-1", "9", "10"]  # numeric order
    labels = label_names_from(["pos", "neg", "pos"])
    assert labels.names == ["neg", "pos"] and labels.encode(["pos", "neg"]) == [1, 0]
    assert LabelMap.from_dict(json.loads(json.dumps(labels.to_dict()))) == labels
    with pytest.raises(DataError, match=r"label 'neutral' was not seen.*\['neg', 'pos'\]"):
        labels.encode(["pos", "neutral"])


def test_train_val_split_is_stratified_seeded_and_complete() -> None:
    data = from_lists([f"t{i}" for i in range(100)], ["a"] * 80 + ["b"] * 20)
    train, val = train_val_split(data, val_fraction=0.1, seed=3)
    assert Counter(val.labels) == {"a": 8, "b": 2} and len(train) == 90
    assert len(train_val_split(data.subset(range(9), "9"), val_fraction=0.3)[1]) == 3  # 2.7
    assert sorted(train.texts + val.texts) == sorted(data.texts)
    again = train_val_split(data, val_fraction=0.1, seed=3)
    assert again[1].texts == val.texts and train_val_split(data, 0.1, seed=4)[1].texts != val.texts
    assert all(t.startswith("t") for t in val.texts) and val.texts != sorted(val.texts)
    mixed = shuffled(data, seed=1)
    assert sorted(mixed.texts) == sorted(data.texts) and mixed.texts != data.texts
    assert dict(zip(mixed.texts, mixed.labels, strict=True)) == dict(
        zip(data.texts, data.labels, strict=True)
    )
    with pytest.raises(InvalidArgumentError, match=r"val_fraction=1\.0"):
        train_val_split(data, val_fraction=1.0)
    with pytest.raises(InvalidArgumentError, match=r"val_fraction=0\.001"):
        train_val_split(from_lists(["a", "b"], ["x", "y"]), val_fraction=0.001)


@pytest.mark.skipif(not (DATA / "ag_news" / "train.csv").exists(), reason="shared data absent")
def test_real_ag_news() -> None:
    path = DATA / "ag_news" / "train.csv"
    data = read_labelled(path, text_cols=[1, 2], label_col=0, header=False)
    assert len(data) == 20_000 and data.skipped == 0
    assert Counter(data.labels) == {"1": 5000, "2": 5000, "3": 5000, "4": 5000}
    labels = label_names_from(data.labels, DATA / "ag_news" / "classes.txt")
    assert labels.decode(labels.encode(["1", "4"])) == ["World", "Sci/Tech"]
    assert data.texts[0].startswith("Philo is in the know Normally, there are few")


@pytest.mark.skipif(not (DATA / "imdb" / "train.csv").exists(), reason="shared data absent")
def test_real_imdb_reads_completely() -> None:  # speed is a benchmark, not a timed test
    data = read_labelled(DATA / "imdb" / "train.csv")
    assert len(data) == 25_000 and Counter(data.labels) == {"pos": 12_500, "neg": 12_500}
    assert all(data.texts)


@pytest.mark.parametrize("labels", [["1", "1.0", "2"], ["pos", "POS", "neg"], ["pos ", "pos", "neg"]])
def test_labels_that_differ_only_in_form_are_named_in_a_warning(labels, caplog) -> None:
    with caplog.at_level("WARNING", logger="rnnkit"):
        names = label_names_from(labels).names
    assert sorted(names) == sorted(labels)  # still separate classes, as written
    assert "differ only in letter case, blanks or number form" in caplog.text


def test_distinct_labels_give_no_warning(caplog) -> None:
    with caplog.at_level("WARNING", logger="rnnkit"):
        label_names_from(["1", "2", "10", "pos", "neg"])
    assert caplog.text == ""
