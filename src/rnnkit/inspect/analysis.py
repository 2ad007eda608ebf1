"""What each unit, gate and token of a trained model does on one text, as numpy arrays.

Dimensions: L layers, T tokens, U = dirs*H units per layer (a bidirectional layer's reverse
units are H..2H-1, as in its output), K top predictions, C classes.

::

    from rnnkit.inspect import inspect
    view = inspect("runs/shakespeare", "To be, or not to be: that is the question.")
    view.activation[1, :, 42]       # (T,) tanh(c) of unit 42 of layer 1 at every character
    view.ranked("inside quotes")    # [(layer, unit, r), ...] strongest correlation first
    view.lm.top_tokens[3]           # the 5 likeliest tokens after the 4th character

The states come from :func:`rnnkit.nn.recording.record` over the model's recurrent stack
(equal to its fused forward); a language model's predictions and a classifier's probabilities
are computed from the recorded top layer with the model's own output layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.config import from_dict
from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.inspect.attribution import MAX_IG_STEPS, integrated_gradients, method
from rnnkit.inspect.tokens import (
    Tokens,
    check_inspected_text,
    classifier_tokens,
    features,
    lm_tokens,
)
from rnnkit.nn.recording import Recording, record
from rnnkit.tasks.classifier_inference import LoadedClassifier
from rnnkit.tasks.lm_inference import LoadedLanguageModel
from rnnkit.tasks.loading import check_no_pin
from rnnkit.tasks.loading import load_run as load_task_run
from rnnkit.validation import is_integer

SATURATED_GATES = ("input", "forget", "output", "reset", "update")  # the sigmoid gates
LOW, HIGH = 0.1, 0.9  # a gate below LOW is left-saturated, above HIGH right-saturated
Loaded = LoadedLanguageModel | LoadedClassifier
# InspectConfig's caps: top-k strings per position, batched IG copies, tokens on the page
LIMITS = {"top_k": 100, "ig_steps": MAX_IG_STEPS, "max_tokens": 20_000}


@dataclass
class InspectConfig:
    """How much :func:`inspect` computes; the ``rnnkit inspect`` flags map to these fields."""

    top_k: int = 5  # K: next-token predictions kept per position (language model), at most 100
    ig_steps: int = 32  # integrated-gradients steps S (classifier attribution): S passes, in one batch; at most 1000
    max_tokens: int = 2000  # T at most: the page holds L*T*U numbers (~7 bytes each); at most 20000

    def __post_init__(self) -> None:
        for name, cap in LIMITS.items():
            value = getattr(self, name)
            if not is_integer(value) or not 1 <= value <= cap:
                raise invalid(name, value, f"a positive int, at most {cap}")
            setattr(self, name, int(value))


@dataclass
class LMView:
    """A language model's predictions: top_ids / top_probs (T, K) after each token, best
    first; top_tokens their strings; next_prob (T,) the probability given to the token that
    actually follows (NaN after the last)."""

    top_ids: np.ndarray
    top_tokens: list[list[str]]
    top_probs: np.ndarray
    next_prob: np.ndarray


@dataclass
class ClassifierView:
    """A classifier's prediction: probabilities (C,) over ``labels``; attribution (T,) of each
    token toward the predicted class (``method`` says how); attention (T,) the pooling weights
    (attention pooling only, else None)."""

    labels: list[str]
    probabilities: np.ndarray
    predicted: str
    attribution: np.ndarray
    method: str
    log_p: float  # F(x) = log p(predicted class)
    baseline_log_p: float  # F(0): attributions add up to log_p - baseline_log_p
    attention: np.ndarray | None


@dataclass
class Inspection:
    """Everything ``rnnkit inspect`` shows (see the module docstring for the dimensions).

    activation (L, T, U): tanh(c) for LSTM, h for GRU/RNN; h (L, T, dirs*H_out) the layers'
    outputs; c (L, T, U) LSTM cell states or None; gates: name -> (L, T, U); features:
    name -> (T,); variance (L, U) of each unit's activation; correlation: feature ->
    (L, U) Pearson r (0 where a unit or feature is constant); saturation: gate -> (2, L, U)
    fractions of steps below 0.1 and above 0.9.
    """

    task: str  # "lm" or "classify"
    cell: str  # lstm | gru | rnn
    tokens: Tokens
    directions: int  # 2 for a bidirectional model, else 1
    activation: np.ndarray
    h: np.ndarray
    c: np.ndarray | None
    gates: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    variance: np.ndarray
    correlation: dict[str, np.ndarray]
    saturation: dict[str, np.ndarray]
    lm: LMView | None = None
    classifier: ClassifierView | None = None

    def ranked(self, by: str = "variance", count: int = 10) -> list[tuple[int, int, float]]:
        """The ``count`` units (layer, unit, score) with the largest variance, or the largest
        |r| with feature ``by``, best first."""
        scores = self.variance if by == "variance" else self.correlation[by]
        order = np.argsort(-np.abs(scores), axis=None, kind="stable")[:count]
        return [(int(i // scores.shape[1]), int(i % scores.shape[1]), float(scores.flat[i])) for i in order]


def load_run(run: str | Path, device: str = "cpu", expect_sha256: str | None = None) -> Loaded:
    """The language model or classifier of a run directory (its best/) or checkpoint.

    ``expect_sha256`` pins the checkpoint: its manifest must have this SHA-256.
    """
    return load_task_run(run, device, expect_sha256, ("lm", "classify"))  # type: ignore[return-value]


def _inspect_config(config: object) -> InspectConfig:
    """``config``: an InspectConfig, a dict of its fields, or None (the defaults)."""
    if config is None:
        return InspectConfig()
    if isinstance(config, dict):
        return from_dict(InspectConfig, config, "config")
    if not isinstance(config, InspectConfig):
        raise invalid("config", config, "an InspectConfig, a dict of its fields or None",
                      ArgumentTypeError)  # fmt: skip
    return config


def inspect(
    run: str | Path | Loaded,
    text: str,
    config: InspectConfig | None = None,
    device: str = "cpu",
    expect_sha256: str | None = None,
) -> Inspection:
    """Run a trained model over ``text`` and collect what every unit and gate does.

    ``run``: a run or checkpoint directory, or an already loaded model; ``config`` an
    :class:`InspectConfig` or a dict of its fields. Characters or words
    outside the vocabulary are read as ``<unk>`` and flagged in ``tokens.unknown``; an empty
    text, or one longer than ``config.max_tokens`` tokens, is an InvalidArgumentError.
    ``expect_sha256`` pins a directory's checkpoint (see :func:`load_run`).
    """
    config = _inspect_config(config)
    check_inspected_text(text)
    if isinstance(run, (LoadedLanguageModel, LoadedClassifier)):
        check_no_pin(expect_sha256)
        loaded = run
    elif isinstance(run, (str, Path)):
        loaded = load_run(run, device, expect_sha256)
    else:
        raise invalid("run", run, "a run or checkpoint directory, or a loaded model",
                      ArgumentTypeError)  # fmt: skip
    model = loaded.model
    model_device = next(model.parameters()).device
    is_lm = isinstance(loaded, LoadedLanguageModel)
    if is_lm:
        tokens = lm_tokens(text, loaded.vectorizer, bool(loaded.config["data"]["lowercase"]))
    else:
        settings = loaded.config["vectorizer"]
        tokens = classifier_tokens(text, loaded.vectorizer, settings["max_len"], settings["truncate"])
    if len(tokens) > config.max_tokens:
        shown = f"{len(tokens)} tokens"
        raise invalid("text", shown, f"at most max_tokens={config.max_tokens} (a shorter text)")
    ids = torch.as_tensor(tokens.ids, device=model_device)[None]  # (1, T)
    with torch.no_grad():  # the models' own embedding (eval mode: no dropout)
        rec = record(model.rnn, model.embed(ids) if is_lm else model.embedding(ids))
    units = _unit_fields(tokens, rec)
    if is_lm:
        return Inspection("lm", model.config.cell, tokens, **units, lm=_lm_view(loaded, rec, tokens, config.top_k))
    view = _classifier_view(loaded, rec, ids, config.ig_steps)
    return Inspection("classify", model.config.cell, tokens, **units, classifier=view)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    """(L, T, 1, W) recorded tensor -> (L, T, W) float64 array."""
    return tensor[:, :, 0].detach().cpu().double().numpy()


def _unit_fields(tokens: Tokens, rec: Recording) -> dict[str, Any]:
    """The fields of :class:`Inspection` about units and gates, from a batch-1 recording."""
    activation = _numpy(rec.activation)
    gates = {name: _numpy(value) for name, value in rec.gates.items()}
    feats = features(tokens.tokens)
    return dict(
        directions=rec.h_n.shape[0] // rec.h.shape[0], activation=activation, h=_numpy(rec.h),
        c=None if rec.c is None else _numpy(rec.c), gates=gates, features=feats,
        variance=activation.var(axis=1),
        correlation={name: pearson(activation, value) for name, value in feats.items()},
        saturation={
            name: np.stack([(g < LOW).mean(axis=1), (g > HIGH).mean(axis=1)])
            for name, g in gates.items()
            if name in SATURATED_GATES
        },
    )  # fmt: skip


def pearson(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r between each unit of values (L, T, U) and feature (T,) -> (L, U); 0 where
    either is constant."""
    a = values - values.mean(axis=1, keepdims=True)
    f = feature - feature.mean()
    spread = np.sqrt((a**2).sum(axis=1) * (f**2).sum())
    product = np.einsum("ltu,t->lu", a, f)
    return np.divide(product, spread, out=np.zeros_like(product), where=spread > 1e-12)


def _lm_view(lm: LoadedLanguageModel, rec: Recording, tokens: Tokens, top_k: int) -> LMView:
    with torch.no_grad():
        probs = lm.model.decoder(rec.output[:, 0]).float().softmax(-1)  # (T, V)
    k = min(top_k, probs.shape[-1])
    top_probs, top_ids = probs.topk(k, dim=-1)  # (T, K)
    following = torch.as_tensor(tokens.ids[1:], device=probs.device)
    next_prob = torch.full((len(tokens),), float("nan"))
    next_prob[:-1] = probs[:-1].gather(1, following[:, None])[:, 0].cpu()
    vocab = lm.vectorizer.vocab
    return LMView(
        top_ids=top_ids.cpu().numpy(),
        top_tokens=[vocab.lookup_tokens(row) for row in top_ids.tolist()],
        top_probs=top_probs.cpu().double().numpy(),
        next_prob=next_prob.double().numpy(),
    )


def _classifier_view(
    clf: LoadedClassifier, rec: Recording, ids: torch.Tensor, ig_steps: int
) -> ClassifierView:
    model = clf.model
    output = rec.output.transpose(0, 1)  # (1, T, U)
    lengths = torch.tensor([output.shape[1]])
    with torch.no_grad():
        logits = model.output(model.pool(output, lengths), ids, lengths)  # (1, K)
        probabilities = model.probabilities(logits)[0]
        attention = None
        if model.config.pooling == "attention":  # the pool's weights over one unpadded text
            attention = model.attention(output)[0, :, 0].softmax(-1).cpu().double().numpy()
    target = int(probabilities.argmax())
    attribution, log_p, baseline = integrated_gradients(model, ids[0], target, ig_steps)
    return ClassifierView(
        labels=list(clf.labels.names), probabilities=probabilities.cpu().double().numpy(),
        predicted=clf.labels.names[target], attribution=attribution,
        method=method(model, ig_steps), log_p=log_p, baseline_log_p=baseline,
        attention=attention,
    )  # fmt: skip
