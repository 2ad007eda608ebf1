"""The README's Python examples run as written (in a scratch directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_the_two_commands_first() -> None:
    first = re.search(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S).group(1)
    commands = [line for line in first.splitlines() if line and not line.startswith("#")]
    assert "rnnkit train lm" in commands[0] and "rnnkit generate" in commands[0]
    assert commands[1].endswith("python3 -m pytest")


def test_nn_tour_runs(capsys) -> None:
    exec(compile(BLOCKS[0], "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "torch.Size([3, 5, 32]) torch.Size([4, 3, 16]) fused",
        "loop",
    ]


@pytest.mark.slow
def test_python_section_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[1], "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    (predicted, shape, accuracy), sample, perplexity = lines[:3], lines[3:-1], lines[-1]
    assert predicted in ("['pos' 'neg']", "['pos' 'pos']", "['neg' 'neg']", "['neg' 'pos']")
    assert shape == "(2, 2)" and 0 <= float(accuracy) <= 1
    assert len("\n".join(sample)) == 30 and float(perplexity) > 1  # the sample may hold newlines
    assert (tmp_path / "runs" / "reviews" / "model.safetensors").is_file()


@pytest.mark.slow
def test_language_model_example_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[2], "README.md", "exec"), {})
    assert (tmp_path / "runs" / "tiny" / "best" / "model.safetensors").is_file()
    assert len(capsys.readouterr().out) > 200
