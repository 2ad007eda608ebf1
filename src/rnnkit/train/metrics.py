"""Metrics: language-model units, a classification report, and the ``metrics.jsonl`` log.

Usage::

    bits_per_char(1.2)                  # mean nats per character -> bits per character
    perplexity(4.6)                     # mean nats per token -> perplexity
    report = classification_report(y_true, y_pred, ["neg", "pos"])
    print(report.format_table())
    log = MetricLog(run_dir / "metrics.jsonl")
    log.append({"step": 100, "train_loss": 2.1})
    plot_curves(run_dir / "metrics.jsonl", run_dir / "loss.png")
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.errors import DataError, invalid
from rnnkit.validation import json_problem, parse_json

_MAX_EXP_NATS = 700.0  # math.exp overflows a float64 just above 709.78


def bits_per_char(nats: float) -> float:
    """Convert a mean cross-entropy in nats per character into bits per character."""
    return nats / math.log(2.0)


def perplexity(nats: float) -> float:
    """``exp(nats)`` for a mean cross-entropy in nats per token; ``inf`` beyond 700 nats."""
    return math.inf if nats > _MAX_EXP_NATS else math.exp(nats)


@dataclass
class ClassificationReport:
    """Scores of a classifier on labelled examples; all rates in [0, 1].

    ``confusion[i][j]`` counts examples of true class ``i`` predicted as ``j`` (rows = true,
    columns = predicted). A class never predicted (or never present) gets precision
    (or recall) 0.0, not NaN; ``macro_f1`` is the unweighted mean over all ``label_names``.
    """

    label_names: list[str]
    accuracy: float
    macro_f1: float
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    confusion: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: totals, ``per_class`` by label name, and the confusion matrix."""
        per_class = {
            name: {"precision": p, "recall": r, "f1": f, "support": s}
            for name, p, r, f, s in zip(
                self.label_names, self.precision, self.recall, self.f1, self.support, strict=True
            )
        }
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "n": sum(self.support),
            "per_class": per_class,
            "labels": list(self.label_names),
            "confusion": [list(row) for row in self.confusion],
        }

    def format_table(self) -> str:
        """An aligned text table of per-class scores followed by the confusion matrix."""
        width = max(9, *(len(name) for name in self.label_names))
        head = f"{'precision':>9}  {'recall':>6}  {'f1':>6}  {'support':>7}"
        lines = [f"{'class':<{width}}  {head}"]
        rows = zip(
            self.label_names, self.precision, self.recall, self.f1, self.support, strict=True
        )
        for name, p, r, f, s in rows:
            lines.append(f"{name:<{width}}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {s:7d}")
        n = sum(self.support)
        lines.append(f"{'accuracy':<{width}}  {'':9}  {'':6}  {self.accuracy:6.4f}  {n:7d}")
        lines.append(f"{'macro f1':<{width}}  {'':9}  {'':6}  {self.macro_f1:6.4f}  {n:7d}")
        lines.append("")
        lines.append("confusion matrix (rows = true, columns = predicted)")
        cell = max(width, *(len(str(c)) for row in self.confusion for c in row))
        lines.append(" " * width + "".join(f"  {name:>{cell}}" for name in self.label_names))
        for name, row in zip(self.label_names, self.confusion, strict=True):
            lines.append(f"{name:<{width}}" + "".join(f"  {c:>{cell}d}" for c in row))
        return "\n".join(lines)


def _labels(values: Sequence[int] | Tensor, name: str, n_classes: int) -> list[int]:
    """Return class indices as a list of ints, checking they lie in [0, n_classes)."""
    out = [int(v) for v in (values.reshape(-1).tolist() if isinstance(values, Tensor) else values)]
    bad = [v for v in out if not 0 <= v < n_classes]
    if bad:
        raise invalid(name, bad[0], f"class indices in [0, {n_classes}) (len(label_names))")
    return out


def classification_report(
    y_true: Sequence[int] | Tensor, y_pred: Sequence[int] | Tensor, label_names: Sequence[str]
) -> ClassificationReport:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Args:
        y_true: (N,) true class indices in ``[0, len(label_names))``.
        y_pred: (N,) predicted class indices, same range.
        label_names: the name of each class, in index order.
    """
    k = len(label_names)
    if k == 0:
        raise invalid("label_names", list(label_names), "at least one class name")
    true = _labels(y_true, "y_true", k)
    pred = _labels(y_pred, "y_pred", k)
    if len(true) != len(pred):
        raise invalid("y_pred", f"{len(pred)} labels", f"as many labels as y_true ({len(true)})")
    if not true:
        raise invalid("y_true", [], "at least one example")
    confusion = torch.zeros(k, k, dtype=torch.long)  # (true, predicted)
    confusion.index_put_(
        (torch.tensor(true), torch.tensor(pred)),
        torch.ones(len(true), dtype=torch.long),
        accumulate=True,
    )
    hits = confusion.diagonal().double()
    support = confusion.sum(dim=1).double()  # examples of each true class
    predicted = confusion.sum(dim=0).double()  # examples predicted as each class
    precision = torch.where(predicted > 0, hits / predicted.clamp(min=1), 0.0)
    recall = torch.where(support > 0, hits / support.clamp(min=1), 0.0)
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-300), 0.0)
    return ClassificationReport(
        label_names=list(label_names),
        accuracy=hits.sum().item() / len(true),
        macro_f1=f1.mean().item(),
        precision=precision.tolist(),
        recall=recall.tolist(),
        f1=f1.tolist(),
        support=[int(s) for s in support.tolist()],
        confusion=confusion.tolist(),
    )


class RunningMean:
    """A weighted running mean, e.g. of a per-token loss over batches of different sizes."""

    def __init__(self) -> None:
        self.total = 0.0
        self.weight = 0.0

    def update(self, value: float, weight: float = 1.0) -> None:
        """Add ``value`` (a mean over ``weight`` items) to the running mean."""
        self.total += float(value) * weight
        self.weight += weight

    @property
    def mean(self) -> float:
        """The weighted mean so far; NaN before the first update."""
        return self.total / self.weight if self.weight else math.nan

    def reset(self) -> None:
        self.total = 0.0
        self.weight = 0.0


class MetricLog:
    """Appends one JSON object per line to ``metrics.jsonl`` (flushed at once) and reads it back.

    Lines are appended, never rewritten, so a resumed run continues the same file.
    Non-finite floats are written as JSON ``null``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line (ints, floats, str, bools, None, lists, dicts)."""
        line = json.dumps(_finite(record), sort_keys=False, allow_nan=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()

    def truncate(self, step: int) -> None:
        """Keep only the records up to ``step`` (a resume from a checkpoint at ``step``).

        Records written after that checkpoint, and a torn last line, would otherwise appear
        twice or break the log once the resumed run writes them again.
        """
        if not self.path.exists():
            return
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r, allow_nan=False) + "\n" for r in kept), "utf-8")
        tmp.replace(self.path)

    def read(self) -> list[dict[str, Any]]:
        """All records so far (an empty list when the file does not exist yet).

        A torn last line (a crash while writing: no newline at its end) is skipped. Any other
        line that is not a JSON object (not UTF-8, malformed, nested too deeply to parse) is
        a DataError naming the file and line, and so is a file that cannot be read.
        """
        if not self.path.exists():
            return []
        try:
            data = self.path.read_bytes()
        except OSError as exc:  # e.g. a directory
            raise DataError(
                f"{self.path}: cannot be read ({exc.strerror}); expected the run's metrics log"
            ) from None
        lines = data.split(b"\n")  # after a last newline: one empty "line"
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = parse_json(line.decode("utf-8"))
            except ValueError as exc:
                if number == len(lines):  # no newline after it: torn by a crash
                    break
                problem: str | None = f"not JSON ({json_problem(exc)})"
            else:
                problem = _record_problem(record)
            if problem:
                raise DataError(f"{self.path}:{number}: {problem}; expected one JSON object a line")
            records.append(record)
        return records


def _record_problem(record: Any) -> str | None:
    """Why a parsed line of the log is not a record (an object whose step is an int), or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}"
    step = record.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool):
        return f"step {repr(step)[:40]} is not an int"
    return None


def _finite(value: Any) -> Any:
    """Replace NaN/inf floats (and 0-d tensors) by JSON-safe values, recursively."""
    if isinstance(value, Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def plot_curves(jsonl_path: str | Path, png_path: str | Path) -> bool:
    """Draw ``train_loss`` and ``val_loss`` against ``step`` from a metrics log into a PNG.

    Uses the Agg canvas directly (no pyplot), so it works headless and leaves any interactive
    backend alone. Records without ``step`` or without a loss are skipped. Returns False
    (drawing nothing) when matplotlib is not installed; the caller prints a one-line note.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    records = MetricLog(jsonl_path).read()
    fig = Figure(figsize=(7, 4))
    FigureCanvasAgg(fig)  # the Agg canvas, without touching pyplot's global backend
    ax = fig.add_subplot()
    for key, style in (("train_loss", "-"), ("val_loss", "o-")):
        points = [(r["step"], r[key]) for r in records if "step" in r and r.get(key) is not None]
        if points:
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, style, label=key.replace("_", " "), markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    Path(png_path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=120)
    return True
