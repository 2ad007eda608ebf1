"""Export a trained model to ONNX, checked in onnxruntime against PyTorch.

Dimensions: B batch, T time (padded), V vocabulary, E embedding, H hidden, L layers,
dirs = 2 if bidirectional else 1, C classes.

Two graphs, both with dynamic B and T::

    classifier    ids (B, T) int64, lengths (B,) int64        -> probabilities (B, C)
    language model ids (B, T) int64, h (L, B, H) [, c (L, B, H)] -> logits (B, T, V), h_out [, c_out]

The language model's graph is one call of the model: feed it one token (T = 1) and the state
it returned last time, and a generation loop runs outside PyTorch (state zeros to start).

Variable lengths do not go through ``pack_padded_sequence`` (its ONNX export is broken
upstream). :class:`ExportableStack` runs each layer direction as one single-layer kernel on
the padded batch (an ONNX ``LSTM``/``GRU``/``RNN`` node): a forward direction cannot see the
padding after a text, and a reverse direction reads each text reversed within its own length
(:func:`rnnkit.nn.sequence.reverse_padded`, a ``Gather``), so its outputs at the real steps
are those of the packed run. The pooling then only reads real steps. It uses the layers'
parameters, not their ``forward``, so the graph does not depend on how ``rnnkit.nn`` dispatches.

Beside ``model.onnx`` goes ``model.json``: the vectorizer (vocabulary and tokenizer settings),
``max_len``/``truncate``, the label names or the start token, and the graph's input and output
names, everything a program with only onnxruntime and numpy needs (docs/export.md).
"""

from __future__ import annotations

import copy
import glob
import importlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    MissingDependencyError,
    NotFittedError,
    invalid,
)
from rnnkit.models.classifier import TextClassifier
from rnnkit.models.language_model import LanguageModel
from rnnkit.nn.sequence import reverse_padded
from rnnkit.tasks.classifier_inference import LoadedClassifier
from rnnkit.tasks.lm_inference import LoadedLanguageModel
from rnnkit.tasks.loading import check_no_pin, load_run
from rnnkit.train.checkpoint import abandoned
from rnnkit.validation import check_output_file

logger = logging.getLogger("rnnkit.export")
FORMATS = ("onnx",)
OPSET = 17  # ONNX opset of the exported graphs (onnxruntime >= 1.14 runs it)
TOLERANCE = 1e-4  # max |onnxruntime - torch| accepted by the check after export
METADATA_FORMAT = "rnnkit.onnx"


def require(module: str) -> Any:
    """Import an optional dependency of the ``onnx`` extra, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is not installed; ONNX export needs it: pip install \"rnnkit[onnx]\""
        ) from exc


class ExportableStack(nn.Module):
    """A recurrent layer's computation from its parameters, one kernel per layer direction.

    forward(x (T, B, D), lengths (B,) or None, state) -> (output (T, B, dirs*H), final state).
    With ``lengths``, outputs at steps >= a sequence's length are undefined (the pooling never
    reads them) and the final state is not computed (None); without, the state is (L*dirs, B, H)
    per tensor, as torch.nn's.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        options = ("user_cell", "layer_norm", "proj_size")
        if any(getattr(layer, name, False) for name in options):
            raise invalid("layer", type(layer).__name__, "a layer without a user cell, "
                          "layer_norm or proj_size (what ONNX's recurrent ops compute)")  # fmt: skip
        self.layer = layer
        self.kernel = getattr(torch, layer.kernel)  # torch.lstm / gru / rnn_tanh / rnn_relu
        self.dirs = layer.num_directions

    def _weights(self, index: int) -> list[Tensor]:
        suffix = layer_suffix(index, self.dirs)
        kinds = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.layer.bias else ())
        return [getattr(self.layer, kind + suffix) for kind in kinds]

    def forward(
        self, x: Tensor, lengths: Tensor | None, state: tuple[Tensor, ...]
    ) -> tuple[Tensor, tuple[Tensor, ...] | None]:
        finals: list[list[Tensor]] = [[] for _ in state]
        for layer in range(self.layer.num_layers):
            outputs = []
            for direction in range(self.dirs):
                index = layer * self.dirs + direction
                hx = [s[index : index + 1] for s in state]  # (1, B, H) each
                inp = x if direction == 0 else reverse_padded(x, lengths)
                # flags: has_biases, 1 layer, no dropout, eval, one direction, time first
                out, *final = self.kernel(
                    inp, hx if len(hx) == 2 else hx[0], self._weights(index), self.layer.bias,
                    1, 0.0, False, False, False,
                )  # fmt: skip
                outputs.append(out if direction == 0 else reverse_padded(out, lengths))
                for kept, part in zip(finals, final, strict=True):
                    kept.append(part)
            x = torch.cat(outputs, dim=-1) if self.dirs == 2 else outputs[0]
        if lengths is not None:
            return x, None
        return x, tuple(torch.cat(parts, dim=0) for parts in finals)


def layer_suffix(index: int, dirs: int) -> str:
    """torch.nn's parameter suffix of layer direction ``index``: '_l0', '_l0_reverse', ..."""
    return f"_l{index // dirs}" + ("_reverse" if index % dirs else "")


class ClassifierGraph(nn.Module):
    """forward(ids (B, T), lengths (B,)) -> class probabilities (B, C); sets ``model`` to eval."""

    def __init__(self, model: TextClassifier) -> None:
        super().__init__()
        self.model = model
        self.stack = ExportableStack(model.rnn)
        self.eval()

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        m = self.model
        x = m.embedding(ids).transpose(0, 1)  # (T, B, E)
        layers = m.rnn.num_layers * m.rnn.num_directions
        zeros = x.new_zeros(layers, x.shape[1], m.rnn.hidden_size)  # (L*dirs, B, H)
        state = (zeros, zeros) if m.rnn.has_cell_state else (zeros,)
        # A forward-only stack cannot see the padding after a text: no lengths needed.
        output, _ = self.stack(x, lengths if m.config.bidirectional else None, state)
        pooled = m.pool(output.transpose(0, 1), lengths)  # (B, dirs*H)
        return m.probabilities(m.output(pooled, ids, lengths))  # (B, C)


class LanguageModelGraph(nn.Module):
    """forward(ids (B, T), *state) -> (logits (B, T, V), *new state); state (L, B, H) each.

    Sets ``model`` to eval mode (no dropout).
    """

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model
        self.stack = ExportableStack(model.rnn)
        self.eval()

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        x = self.model.embed(ids).transpose(0, 1)  # (T, B, E)
        output, final = self.stack(x, None, state)
        assert final is not None
        return (self.model.decoder(output.transpose(0, 1)), *final)  # (B, T, V), (L, B, H)...


def _loaded(
    run_or_model: Any, kind: str, expect_sha256: str | None
) -> tuple[nn.Module, dict[str, Any] | None]:
    """(model, metadata or None) from a run directory, a loaded model or a bare model.

    ``expect_sha256`` pins a run directory's checkpoint (see ``rnnkit.train.checkpoint``).
    """
    if isinstance(run_or_model, (str, Path)):
        run_or_model = load_run(run_or_model, expect_sha256=expect_sha256, tasks=(kind,))
    else:
        check_no_pin(expect_sha256)
    estimator = type(run_or_model).__name__
    if hasattr(run_or_model, "fitted_"):  # a Python API estimator: what it fitted
        if run_or_model.fitted_ is None:
            raise invalid("run_or_model", f"an unfitted {estimator}", "a fitted one: call fit first",
                          NotFittedError)  # fmt: skip
        run_or_model = run_or_model.fitted_
    if isinstance(run_or_model, LoadedClassifier) and kind == "classify":
        meta = {
            "labels": run_or_model.labels.names,
            "max_len": run_or_model.config["vectorizer"]["max_len"],
            "truncate": run_or_model.config["vectorizer"]["truncate"],
        }
        return run_or_model.model, meta | {"vectorizer": run_or_model.vectorizer.to_dict()}
    if isinstance(run_or_model, LoadedLanguageModel) and kind == "lm":
        meta = {"start_token": run_or_model.config["vectorizer"]["start_token"]}
        return run_or_model.model, meta | {"vectorizer": run_or_model.vectorizer.to_dict()}
    expected = TextClassifier if kind == "classify" else LanguageModel
    if not isinstance(run_or_model, expected):
        name = expected.__name__
        raise invalid("run_or_model", estimator,
                      f"a run directory, a fitted rnnkit.{name}, a loaded model or an "
                      f"rnnkit.models.{name} module")  # fmt: skip
    return run_or_model, None


def export_classifier(
    run_or_model: Any, path: str | Path, check: bool = True, expect_sha256: str | None = None
) -> Path:
    """Write the classifier of ``run_or_model`` as ONNX to ``path`` (and ``path``.json).

    ``run_or_model``: a run or checkpoint directory, a fitted ``rnnkit.TextClassifier``
    (the Python API's estimator), a :class:`LoadedClassifier` or a bare
    :class:`TextClassifier` (then no JSON: there is no vectorizer); the model itself is left
    as it was (a copy is exported, in eval mode, on the CPU). With ``check`` the graph
    is run in onnxruntime on a random mixed-length batch and compared with PyTorch.
    ``expect_sha256`` pins a directory's checkpoint: its manifest must have this SHA-256.
    """
    model, meta = _loaded(run_or_model, "classify", expect_sha256)
    graph = ClassifierGraph(copy.deepcopy(model).cpu())
    batch, time = 3, 7
    example = (torch.randint(1, model.config.vocab_size, (batch, time)), torch.tensor([7, 2, 5]))
    spec = {
        "inputs": {"ids": ["batch", "time"], "lengths": ["batch"]},
        "outputs": {"probabilities": ["batch", "classes"]},
    }
    return _export(graph, example, spec, Path(path), meta, "classify", check)


def export_language_model(
    run_or_model: Any, path: str | Path, check: bool = True, expect_sha256: str | None = None
) -> Path:
    """Write one call of the language model as ONNX: (ids, state) -> (logits, new state).

    Same arguments as :func:`export_classifier`; the state is ``h`` (and ``c`` for an LSTM),
    each (num_layers, B, hidden_size), zeros before the first token.
    """
    model, meta = _loaded(run_or_model, "lm", expect_sha256)
    graph = LanguageModelGraph(copy.deepcopy(model).cpu())
    cfg = model.config
    names = ["h", "c"] if model.rnn.has_cell_state else ["h"]
    state = tuple(torch.randn(cfg.num_layers, 3, cfg.hidden_size) for _ in names)
    example = (torch.randint(0, cfg.vocab_size, (3, 5)), *state)
    spec = {
        "inputs": {"ids": ["batch", "time"]} | {n: ["layers", "batch", "hidden"] for n in names},
        "outputs": {"logits": ["batch", "time", "vocab"]}
        | {f"{n}_out": ["layers", "batch", "hidden"] for n in names},
    }
    if meta is not None:
        meta["state_shape"] = [cfg.num_layers, cfg.hidden_size]
    return _export(graph, example, spec, Path(path), meta, "lm", check)


def _export(
    graph: nn.Module,
    example: tuple[Tensor, ...],
    spec: dict[str, dict[str, list[str]]],
    path: Path,
    meta: dict[str, Any] | None,
    task: str,
    check: bool,
) -> Path:
    """Trace ``graph`` with the TorchScript exporter (recurrent ops stay single ONNX nodes)."""
    if not isinstance(check, bool):  # "no" would be true
        raise invalid("check", check, "a bool", ArgumentTypeError)
    require("onnx")
    if check:
        require("onnxruntime")
    check_out(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {name: {i: d for i, d in enumerate(dims) if d in ("batch", "time")}
            for name, dims in (spec["inputs"] | spec["outputs"]).items()}  # fmt: skip
    # written beside the target and renamed over it once whole (and checked): a failed or
    # killed export leaves an earlier model.onnx and its JSON as they were, never half of one;
    # what a killed one left (its process gone) is deleted by the next export to that path
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.onnx")
    tmp_json = metadata_path(tmp)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shapes turned into constants
            torch.onnx.export(
                graph, example, str(tmp), dynamo=False, opset_version=OPSET,
                input_names=list(spec["inputs"]), output_names=list(spec["outputs"]),
                dynamic_axes=axes,
            )  # fmt: skip
        if check:
            diff = check_onnx(graph, tmp, _check_inputs(example, task), shown=path)
            logger.info("%s: max |onnxruntime - torch| = %.2e", path, diff)
        if meta is not None:
            body = {"format": METADATA_FORMAT, "version": 1, "task": task, **spec, **meta}
            tmp_json.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
            os.replace(tmp_json, metadata_path(path))
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp_json):
            leftover.unlink(missing_ok=True)
    for stale in abandoned(path.parent, f".{glob.escape(path.stem)}.tmp-*"):  # killed exports'
        stale.unlink(missing_ok=True)
    return path


def check_out(path: str | Path, name: str = "out") -> Path:
    """``path`` as an .onnx file that can be written, and its JSON beside it: not empty, not a
    directory, not under a file, in a directory (or a directory's place) that may be written to.
    Raises DataError, or InvalidArgumentError for another suffix; messages name ``name``."""
    out = check_output_file(name, path, "an .onnx file to write")
    if out.suffix != ".onnx":
        raise invalid(name, str(out), "a file name ending in .onnx")
    check_output_file(name, metadata_path(out), "a file name for the JSON beside the .onnx file")
    return out


def metadata_path(path: str | Path) -> Path:
    """Where the JSON beside ``model.onnx`` goes: ``model.json``."""
    return Path(path).with_suffix(".json")


def _check_inputs(example: tuple[Tensor, ...], task: str) -> tuple[Tensor, ...]:
    """A batch of another shape than the traced one (dynamic axes), mixed lengths included."""
    gen = torch.Generator().manual_seed(0)
    high = int(example[0].max()) + 1
    ids = torch.randint(0, high, (5, 11), generator=gen)
    if task == "classify":
        return ids, torch.tensor([11, 1, 6, 3, 9])
    return (ids[:, :4], *(torch.randn(s.shape[0], 5, s.shape[2], generator=gen) for s in example[1:]))


def check_onnx(
    graph: nn.Module, path: str | Path, inputs: tuple[Tensor, ...], shown: str | Path | None = None
) -> float:
    """Run ``path`` in onnxruntime on ``inputs`` and return the max difference from ``graph``
    (a message names ``shown``, the file the export is for, when given).

    Raises:
        InvalidArgumentError: a difference above TOLERANCE (the export is not faithful).
    """
    ort = require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
    with torch.no_grad():
        want = graph(*inputs)
    want = (want,) if isinstance(want, Tensor) else want
    diff = max(float(abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True))
    if not diff <= TOLERANCE:
        raise InvalidArgumentError(
            f"{shown or path}: onnxruntime differs from PyTorch by {diff:.2e}; expected <= {TOLERANCE}"
        )
    return diff


def export(
    run: str | Path,
    path: str | Path,
    format: str = "onnx",
    check: bool = True,
    expect_sha256: str | None = None,
) -> Path:
    """Export the run (classifier or language model, from its config.json) to ``path``.

    ``expect_sha256`` pins the run's checkpoint: its manifest must have this SHA-256.
    """
    if format not in FORMATS:
        raise invalid("format", format, f"one of {', '.join(FORMATS)}")
    check_out(path)  # before the run is loaded
    loaded = load_run(run, expect_sha256=expect_sha256, tasks=("classify", "lm"))
    if isinstance(loaded, LoadedClassifier):
        return export_classifier(loaded, path, check)
    return export_language_model(loaded, path, check)
