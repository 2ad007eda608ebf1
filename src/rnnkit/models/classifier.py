"""Text classifier: embedding -> rnnkit.nn stack with lengths -> pooling -> dropout -> linear.

Dimensions: B batch, T time (padded), V vocabulary, E embedding size, H hidden units,
dirs = 2 if bidirectional else 1, A attention units, C classes, K outputs.

    ids (B, T) ──embed──▶ (B, T, E) ──dropout──▶ RNN/LSTM/GRU × L (lengths) ──▶ (B, T, dirs*H)
               ──pool over each text's real steps──▶ (B, dirs*H) ─┬─▶ dropout ──▶ linear ──▶ (B, K)
    ids, lengths ──n-gram bag (ngrams > 0; rnnkit.models.ngrams)──▶ (B, D) ─┘ (concatenated)

Pooling: ``last`` = the top layer's output at each text's own last step (bidirectional: that,
concatenated with the reverse direction's output at the first step, which has read the whole
text); ``mean`` / ``max`` over the real steps only; ``max_mean`` = both, concatenated
(B, 2*dirs*H; the max and average parts of ULMFiT's concat pooling); ``attention`` = additive
attention (Bahdanau et al. 2015) ``softmax_t(v·tanh(W h_t + b))`` masked to the real steps,
summed with the outputs. Padding never changes a prediction: a bidirectional stack gets
``lengths``; a forward-only one cannot see the padding after a text, and pooling ignores the
padded steps.

Output: two classes use ONE sigmoid logit (K = 1, logistic regression on the pooled state;
p(class 1) = sigmoid(z)); more classes use K = C softmax logits. :meth:`TextClassifier.loss`
and :meth:`TextClassifier.probabilities` hide the difference. Parameters: about
V*E + L*dirs*G*H*(E' + H) + (dirs*H + D)*K (G = 4 LSTM, 3 GRU, 1 RNN; E' = E, then dirs*H),
plus (V + buckets)*D for the n-gram bag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.embeddings import embedding_layer
from rnnkit.errors import invalid
from rnnkit.models.ngrams import NgramBag
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.nn.sequence import check_lengths
from rnnkit.validation import (
    MAX_UNITS,
    check_choice,
    check_fits_in_memory,
    check_float,
    check_int,
    recurrent_parameters,
)

POOLINGS = ("last", "mean", "max", "max_mean", "attention")
MAX_NGRAM = 5  # the longest word n-gram the bag takes
MAX_BUCKETS = 1 << 24  # n-gram hash buckets (16.8 million)
_LAYER_RE = re.compile(r"_l(\d+)(?:_reverse)?$")  # weight_ih_l0, ln_c_bias_l1, ..._l0_reverse


@dataclass
class ClassifierConfig(RecurrentConfig):
    """Everything that defines a classifier's shape; saved under "model" in config.json.

    The recurrent stack's options (cell, num_layers, hidden_size, dropout, recurrent_dropout,
    layer_norm, proj_size, implementation) come from RecurrentConfig with its defaults.
    """

    vocab_size: int = 20_000  # V: embedding rows; set from the vectorizer when trained
    num_classes: int = 2  # C: set from the labels when trained (2 -> one sigmoid logit)
    embedding_size: int = 100  # E; with pretrained vectors left at 100 or set to their dimension
    bidirectional: bool = False  # a reverse direction too (outputs 2*H wide)
    embedding_dropout: float = 0.2  # on the embedded inputs (B, T, E)
    pooling: str = "max"  # last | mean | max | max_mean | attention, over each text's real steps
    attention_size: int = 64  # A: hidden units of the attention scorer (pooling=attention)
    freeze_embeddings: bool = False  # keep the embedding fixed (pretrained vectors as they are)
    embedding_lr_scale: float = 0.3  # a pretrained embedding's learning rate / the others'
    discriminative_lr: float = 1.0  # encoder_from: each lower layer's lr is this factor smaller (ULMFiT: 2.6)
    gradual_unfreezing: bool = False  # encoder_from: the head alone, then one more layer per epoch
    ngrams: int = 2  # a bag of the words and word n-grams up to this length beside the RNN; 0: none
    ngram_buckets: int = 262_144  # hash buckets shared by the n-grams of 2 or more words
    ngram_dim: int = 16  # D: the n-gram bag's vector size

    # What a config.json saved before a field existed meant (build_model fills them in).
    OLDER_RUNS: ClassVar[dict[str, Any]] = {"ngrams": 0}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("pooling", self.pooling, POOLINGS)
        check_int("vocab_size", self.vocab_size, 1)
        for name in ("embedding_size", "attention_size"):
            check_int(name, getattr(self, name), 1, MAX_UNITS)
        check_int("num_classes", self.num_classes, 2)
        check_float("embedding_dropout", self.embedding_dropout, 0, 1, hi_open=True)
        check_int("ngrams", self.ngrams, 0, MAX_NGRAM)
        check_int("ngram_buckets", self.ngram_buckets, 1, MAX_BUCKETS)
        check_int("ngram_dim", self.ngram_dim, 1, MAX_UNITS)
        dirs = 2 if self.bidirectional else 1
        rnn_params = recurrent_parameters(
            self.cell, self.num_layers, self.hidden_size, self.embedding_size, dirs
        )
        head = dirs * self.hidden_size * (self.attention_size + self.num_classes + 1)
        bag = (self.vocab_size + self.ngram_buckets) * self.ngram_dim if self.ngrams else 0
        parts = {  # the setting named when the model does not fit: the largest part's
            "hidden_size": rnn_params + head,
            "embedding_size": self.vocab_size * self.embedding_size,
            "ngram_dim": bag,
        }
        name = max(parts, key=parts.__getitem__)
        check_fits_in_memory(name, getattr(self, name), sum(parts.values()))
        check_float("embedding_lr_scale", self.embedding_lr_scale, 0, 1, lo_open=True)
        check_float("discriminative_lr", self.discriminative_lr, 1, 100)
        if not isinstance(self.gradual_unfreezing, bool):
            raise invalid("gradual_unfreezing", self.gradual_unfreezing, "True or False")

    @property
    def num_outputs(self) -> int:
        """K: 1 sigmoid logit for two classes, else one softmax logit per class."""
        return 1 if self.num_classes == 2 else self.num_classes


class TextClassifier(nn.Module):
    """forward(ids (B, T), lengths (B,)) -> logits (B, K); see the module docstring.

    ``embedding_matrix`` (V, E), e.g. from :func:`rnnkit.embeddings.build_embedding_matrix`,
    initialises the embedding; without it the rows are drawn from N(0, 1) (row 0, <pad>, zero).
    """

    def __init__(
        self, config: ClassifierConfig, embedding_matrix: np.ndarray | Tensor | None = None
    ) -> None:
        super().__init__()
        self.config = config
        size = (config.vocab_size, config.embedding_size)
        if embedding_matrix is None:
            self.embedding = nn.Embedding(*size, padding_idx=0)
        else:
            matrix = np.asarray(embedding_matrix, dtype=np.float32)
            if matrix.shape != size:
                raise invalid("embedding_matrix", matrix.shape, f"shape (vocab_size, E) = {size}")
            self.embedding = embedding_layer(matrix, freeze=False, padding_idx=0)
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.pretrained = embedding_matrix is not None  # its rows get a lower learning rate
        self.transferred = False  # set by rnnkit.tasks.transfer: layer-wise lrs and unfreezing
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.rnn = config.make_rnn(config.embedding_size, config.bidirectional)
        width = config.output_size * (2 if config.bidirectional else 1)  # dirs*H
        if config.pooling == "attention":
            self.attention = nn.Sequential(
                nn.Linear(width, config.attention_size), nn.Tanh(),
                nn.Linear(config.attention_size, 1, bias=False),
            )  # fmt: skip
        self.dropout = nn.Dropout(config.dropout)
        pooled = width * (2 if config.pooling == "max_mean" else 1)
        self.ngram_bag = None
        if config.ngrams:
            self.ngram_bag = NgramBag(
                config.vocab_size, config.ngrams, config.ngram_buckets, config.ngram_dim
            )
            pooled += config.ngram_dim
        self.head = nn.Linear(pooled, config.num_outputs)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids: (B, T) token ids, 0 = padding; lengths: (B,) real steps, each in 1..T.

        Returns logits (B, K). A text's logits do not depend on the padding after it nor on
        the other texts of the batch (up to float rounding).
        """
        lengths = check_lengths(lengths, ids.shape[0], ids.shape[1])  # (B,) CPU, each in 1..T
        x = self.embedding_dropout(self.embedding(ids))  # (B, T, E)
        # A forward-only stack never sees the padding that follows a text, so its outputs at
        # real steps are exact without lengths, and torch's padded CPU kernel runs about 3x
        # faster than the packed one that lengths select. A reverse direction starts at the end
        # of the text, so it needs the lengths.
        output, _ = self.rnn(x, lengths=lengths if self.config.bidirectional else None)
        pooled = self.pool(output, lengths, overwrite=not output.requires_grad)  # (B, dirs*H)
        return self.output(pooled, ids, lengths)

    def output(self, pooled: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits (B, K) from the pooled recurrent features (B, P): joined by the n-gram bag's
        vector (B, D) when there is one, then dropout and the output layer."""
        if self.ngram_bag is not None:
            bag = self.ngram_bag(ids, lengths).to(pooled.dtype)  # (B, D)
            pooled = torch.cat([pooled, bag], dim=-1)  # (B, P + D)
        return self.head(self.dropout(pooled))

    def pool(self, output: Tensor, lengths: Tensor, overwrite: bool = False) -> Tensor:
        """Reduce the top layer's output (B, T, dirs*H) over each text's real steps -> (B, dirs*H)
        (max_mean: (B, 2*dirs*H), the max then the mean).

        Steps at or after a text's length are ignored, whatever they hold. ``overwrite``: the
        caller no longer needs ``output``, so max pooling masks it in place (in inference this
        saves a (B, T, dirs*H) copy: 13 ms beside the LSTM's 105 ms on an IMDB batch of 256).
        """
        batch, time, width = output.shape
        lengths = lengths.to(output.device)
        if self.config.pooling == "last":
            last = output[torch.arange(batch, device=output.device), lengths - 1]  # (B, dirs*H)
            if not self.config.bidirectional:
                return last
            half = width // 2  # forward after the last step, reverse after reading back to step 0
            return torch.cat([last[:, :half], output[:, 0, half:]], dim=-1)
        real = torch.arange(time, device=output.device)[None, :] < lengths[:, None]  # (B, T)
        if self.config.pooling in ("mean", "max_mean"):
            mean = (output * real[..., None]).sum(1) / lengths[:, None].to(output.dtype)
            if self.config.pooling == "mean":
                return mean
        if self.config.pooling in ("max", "max_mean"):
            fill = output.masked_fill_ if overwrite else output.masked_fill  # after the mean
            peak = fill(~real[..., None], float("-inf")).amax(1)
            return peak if self.config.pooling == "max" else torch.cat([peak, mean], dim=-1)
        scores = self.attention(output).squeeze(-1)  # (B, T)
        weights = scores.masked_fill(~real, float("-inf")).softmax(-1)  # (B, T), 0 at padding
        return torch.einsum("bt,bth->bh", weights.to(output.dtype), output)

    def probabilities(self, logits: Tensor) -> Tensor:
        """logits (B, K) -> class probabilities (B, C), rows summing to 1."""
        logits = logits.float()
        if self.config.num_outputs == 1:
            return torch.cat([torch.sigmoid(-logits), torch.sigmoid(logits)], dim=-1)
        return logits.softmax(-1)

    def loss(self, logits: Tensor, targets: Tensor, class_weights: Tensor | None = None) -> Tensor:
        """Mean cross-entropy of logits (B, K) against class ids (B,); weighted per class.

        With ``class_weights`` (C,) the mean is sum(w_y * loss) / sum(w_y), as torch's
        ``cross_entropy(weight=...)``; binary tasks use the sigmoid's binary cross-entropy.
        """
        logits = logits.float()
        if self.config.num_outputs > 1:
            return F.cross_entropy(logits, targets, weight=class_weights)
        losses = F.binary_cross_entropy_with_logits(
            logits.squeeze(-1), targets.float(), reduction="none"
        )  # (B,)
        if class_weights is None:
            return losses.mean()
        w = class_weights.to(losses)[targets]  # (B,)
        return (w * losses).sum() / w.sum()

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters bottom to top: [embedding], recurrent layer 0, ..., layer L-1 (both
        directions), then the head (with the attention scorer and the n-gram bag)."""
        layers: list[list[nn.Parameter]] = [[] for _ in range(self.config.num_layers)]
        for name, param in self.rnn.named_parameters():
            layers[int(_LAYER_RE.search(name).group(1))].append(param)  # type: ignore[union-attr]
        recurrent = {id(p) for layer in layers for p in layer}
        top = [p for p in self.parameters() if id(p) not in recurrent and p is not self.embedding.weight]
        return [[self.embedding.weight], *layers, top]

    def param_groups(self) -> list[dict[str, object]]:
        """Optimizer groups (the Trainer reads each one's ``lr_scale``).

        Transferred from a language model (``transferred``): one group per layer group of
        :meth:`layer_groups`, the head at the full learning rate and each lower group
        ``discriminative_lr`` times smaller (ULMFiT's discriminative fine-tuning), every group
        listed even while gradual unfreezing holds it. Otherwise: everything but the embedding
        at the full learning rate, then the embedding (unless frozen), at
        ``embedding_lr_scale`` of it when it was initialised from pretrained vectors: they are
        fine-tuned gently."""
        embedding = self.embedding.weight
        if self.transferred:
            groups = self.layer_groups()
            decay, top = self.config.discriminative_lr, len(groups) - 1
            return [
                {"params": params, "lr_scale": decay ** -(top - k)}
                for k, params in enumerate(groups)
                if k > 0 or not self.config.freeze_embeddings
            ]
        others = [p for p in self.parameters() if p.requires_grad and p is not embedding]
        groups: list[dict[str, object]] = [{"params": others, "lr_scale": 1.0}]
        if embedding.requires_grad:
            scale = self.config.embedding_lr_scale if self.pretrained else 1.0
            groups.append({"params": [embedding], "lr_scale": scale})
        return groups

    def unfreeze(self, epoch: int) -> int | None:
        """Gradual unfreezing (ULMFiT) for epoch ``epoch`` (0-based): only the top ``epoch + 1``
        layer groups of :meth:`layer_groups` train (the head alone first, the embedding last,
        never with ``freeze_embeddings``). Returns how many train, None when it does not apply
        (not transferred, or ``gradual_unfreezing`` off)."""
        if not (self.transferred and self.config.gradual_unfreezing):
            return None
        groups = self.layer_groups()
        count = min(epoch + 1, len(groups))
        for k, params in enumerate(groups):
            train = k >= len(groups) - count and not (k == 0 and self.config.freeze_embeddings)
            for param in params:
                param.requires_grad_(train)
        return count

    def num_parameters(self) -> int:
        """Trainable parameters (a frozen embedding not counted)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
