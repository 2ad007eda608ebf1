"""A classifier's embedding and recurrent stack from a word-level language model (ULMFiT).

``rnnkit train classify --encoder-from RUN`` (``ClassifyDataConfig.encoder_from``) starts the
classifier from the language model of the run directory (or checkpoint) RUN, trained with
``rnnkit train lm --level word --tokenizer glove`` (Howard & Ruder 2018, "Universal Language
Model Fine-tuning for Text Classification"):

- **Shape.** The recurrent stack is the language model's: cell, num_layers, hidden_size,
  proj_size, layer_norm and embedding_size are taken from it; one direction only. A
  classifier setting that differs both from its default and from the language model's is an
  error, as is a char-level or one-hot model, or one tokenised otherwise than the classifier
  (the language model's ``tokenizer`` must be the classifier's ``standardize``).
- **Vocabulary, by token string.** The classifier's vocabulary is built from its own training
  texts as always. Row i of its embedding (token t) is the language model's row of t when the
  language model knows t (``<unk>`` maps to ``<unk>``; ``<pad>`` stays zero); the other rows
  are initialised as without transfer (the bundled vectors when their dimension is the
  language model's embedding size, else random). The recurrent weights are copied exactly.
- **Fine-tuning** (TextClassifier.param_groups / unfreeze): every layer at the full rate by
  default; on request ULMFiT's discriminative learning rates (the head at the full rate, each
  lower layer ``discriminative_lr``, e.g. 2.6, times less, the embedding lowest) and gradual
  unfreezing (epoch 1 trains the head alone, each later epoch one more layer, top down).
  Both are off by default: after a short language-model run they cost accuracy
  (docs/classification.md, "Measured").

The language model is read with :func:`rnnkit.tasks.lm_inference.load_language_model`: its
manifest's sizes and SHA-256 are verified, tensors come from safetensors only.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch

from rnnkit.config import defaults
from rnnkit.errors import CheckpointError, invalid
from rnnkit.models.classifier import ClassifierConfig, TextClassifier
from rnnkit.tasks.lm_inference import LoadedLanguageModel, load_language_model
from rnnkit.text import UNK, TextVectorizer

logger = logging.getLogger("rnnkit.tasks")
# what the language model decides: its weights have these shapes
ENCODER_FIELDS = ("cell", "num_layers", "hidden_size", "proj_size", "layer_norm", "embedding_size")


def load_encoder(run: str, standardize: str) -> LoadedLanguageModel:
    """The language model of ``run``, checked to be usable by a classifier whose texts are
    standardised with ``standardize``; any problem is one error naming ``encoder_from``."""
    try:
        lm = load_language_model(run)
    except CheckpointError as exc:
        error = CheckpointError(f"encoder_from: {exc}")
        error.argument = "encoder_from"  # type: ignore[attr-defined]  # the CLI names --encoder-from
        raise error from None
    if lm.level != "word":
        raise invalid(
            "encoder_from", run, "a word-level language model (rnnkit train lm --level word); "
            f"it is {lm.level} level",
        )  # fmt: skip
    if lm.model.embedding is None:
        raise invalid("encoder_from", run, "a language model with an embedding (embedding_size > 0)")
    tokenizer = lm.config["data"].get("tokenizer", "whitespace")
    if {tokenizer, standardize} != {"whitespace", "none"} and tokenizer != standardize:
        raise invalid(
            "encoder_from", run, f"a language model tokenised as the classifier's texts "
            f"(rnnkit train lm --tokenizer {standardize}); it was trained with tokenizer={tokenizer}",
        )  # fmt: skip
    return lm


def encoder_config(model: ClassifierConfig, lm: LoadedLanguageModel, run: str) -> ClassifierConfig:
    """``model`` with the language model's stack shape (ENCODER_FIELDS) and one direction.

    A field set to something other than both its default and the language model's value is
    an error (the user asked for a shape the weights do not have).
    """
    base, source = defaults(ClassifierConfig), lm.model.config
    fixed = {name: getattr(source, name) for name in ENCODER_FIELDS} | {"bidirectional": False}
    for name, value in fixed.items():
        given = getattr(model, name)
        if given not in (value, base[name]):
            raise invalid(
                name, given, f"{value!r}, the value of the language model encoder_from={run!r} "
                "(or leave it out)",
            )  # fmt: skip
    return replace(model, **fixed)


def transfer_weights(
    network: TextClassifier, lm: LoadedLanguageModel, vectorizer: TextVectorizer,
    ids: list[list[int]],
) -> None:  # fmt: skip
    """Copy the language model's embedding rows (by token string) and recurrent stack into
    ``network`` (built with :func:`encoder_config`), and mark it transferred: one optimizer
    group per layer, with ULMFiT's schedule when its config asks for it.

    ``ids`` (the encoded training texts) weigh the logged share of running words mapped.
    """
    ours, theirs = list(vectorizer.vocab), lm.vectorizer.vocab
    pairs = [
        (i, theirs.token_to_id(token))
        for i, token in enumerate(ours)
        if i != vectorizer.vocab.pad_id and (token == UNK or theirs.token_to_id(token) != theirs.unk_id)
    ]
    rows, source = (torch.tensor(side, dtype=torch.long) for side in zip(*pairs, strict=True))
    with torch.no_grad():
        network.embedding.weight[rows] = lm.model.embedding.weight[source].to(network.embedding.weight)
    network.rnn.load_state_dict(lm.model.rnn.state_dict())
    network.pretrained = network.transferred = True
    running = np.bincount(np.concatenate([np.asarray(r, dtype=np.int64) for r in ids]), minlength=len(ours))
    covered = running[rows.numpy()].sum() / max(running.sum(), 1)
    config = network.config
    logger.info(
        f"encoder_from: {len(pairs):,} of {len(ours) - 1:,} embedding rows from the language model "
        f"({covered:.1%} of the running words), {config.num_layers}-layer {config.cell} of "
        f"{config.hidden_size} copied; lr x{config.discriminative_lr:g}^-k per layer down, "
        f"gradual unfreezing {'on' if config.gradual_unfreezing else 'off'}"
    )
