"""`rnnkit inspect` in-process: the page it writes, and its bad inputs (one line, exit 2)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from rnnkit.cli.main import main


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def status(argv: list[str]) -> int:
    """main's exit status, argparse's errors (SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


def page_data(path: Path) -> dict:
    page = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'id="data">(.*?)</script>', page, re.S).group(1))


def test_inspect_writes_one_page(lm_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "page.html"
    code = main(["inspect", str(lm_run), "--text", "he said €", "--out", str(out), "--layer", "0", "--unit", "7"])  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (9 tokens)"
    data = page_data(out)
    assert data["start"] == {"layer": 0, "unit": 7} and data["unknown"] == [8]
    assert data["title"] == "rnnkit inspect: run" and len(data["lm"]["top"][0]) == 5


def test_inspect_reads_a_gzip_file(classifier_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "review.txt.gz"
    source.write_bytes(gzip.compress(b"a good film\n"))
    out = tmp_path / "review.html"
    assert main(["inspect", str(classifier_run), "--file", str(source), "--out", str(out)]) == 0
    assert page_data(out)["tokens"] == ["a", "good", "film"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "he", "--unit", "16"], "unit=16: expected an int in 0..15"),
        (["--text", "he", "--layer", "5"], "layer=5: expected an int in 0..1"),
        (["--text", ""], "text='': expected a non-empty text to inspect"),
        (["--text", "he", "--top-k", "0"], "top_k=0: expected a positive int"),
        (["--text", "he said", "--max-tokens", "3"], "text='7 tokens': expected at most max_tokens=3"),
        (["--text", "he", "--out", "/no/such/dir/page.html"], "--out='/no/such/dir/page.html': expected a file in an existing directory"),
        ([], "one of the arguments --text --file is required"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(lm_run: Path, tmp_path: Path, capsys, args, message) -> None:
    argv = ["inspect", str(lm_run), "--out", str(tmp_path / "x.html"), *args]
    assert status(argv) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "x.html").exists()


def test_a_run_that_is_not_a_model_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["inspect", str(tmp_path), "--text", "hello"]) == 2
    assert "config.json: missing" in one_error_line(capsys)
    assert main(["inspect", str(tmp_path / "nothing"), "--text", "hello"]) == 2
    assert "does not exist" in one_error_line(capsys)
