"""Encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015) for translation.

Dimensions: B batch, S source steps, T target steps, E embedding size, H_e encoder units per
direction, dirs = 2 if bidirectional else 1, K = dirs*H_e encoder output size, H decoder
units, A additive-attention units, V_s / V_t source / target vocabulary, L layers.

    src (B, S) ─embed─▶ (B, S, E) ─encoder RNN × L (lengths)─▶ memory (B, S, K), h_n
    h_n (L*dirs, B, H_e) ─bridge─▶ decoder state (L, B, H)
    tgt_in (B, T) ─embed─▶ (B, T, E) [; h̃_{t-1} with input feeding] ─decoder RNN × L─▶ s (B, T, H)
    s, memory ─attention (padded source masked)─▶ context c (B, T, K), weights α (B, T, S)
    h̃ = tanh(W_c [c; s]) (B, T, H) ─dropout─▶ linear ─▶ logits (B, T, V_t)

Without attention (``attention="none"``) the encoder reaches the decoder only through the
bridged final state (Sutskever et al. 2014, Cho et al. 2014) and ``h̃ = s``. The score
functions follow the papers; the decoder layout is Luong's (attention after the recurrent
step, on the current state s_t), for every score function. Input feeding (Luong 3.3) feeds
``h̃_{t-1}`` into step t, which makes training a step loop instead of one call per layer.
Parameters: about (V_s + V_t)*E + encoder + decoder recurrent weights + (K+H)*H + H*V_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import ShapeMismatchError, invalid
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.nn.linear_cross_entropy import linear_cross_entropy
from rnnkit.text.vocab import PAD_ID
from rnnkit.validation import MAX_UNITS, check_fits_in_memory, check_int, recurrent_parameters

ATTENTIONS = ("none", "additive", "dot", "general")
State = Tensor | tuple[Tensor, Tensor]


@dataclass
class Seq2SeqConfig(RecurrentConfig):
    """Everything that defines an encoder-decoder's shape; saved under "model" in config.json.

    The recurrent options (cell, num_layers, dropout, recurrent_dropout, layer_norm,
    implementation) come from RecurrentConfig and apply to encoder and decoder alike;
    ``hidden_size`` is the decoder's width. An LSTM projection (``proj_size``) is not supported.
    """

    cell: str = "gru"  # recurrent cell of encoder and decoder: lstm | gru | rnn
    hidden_size: int = 256  # H: decoder units
    source_vocab_size: int = 10_000  # V_s: source embedding rows; set from the data when trained
    target_vocab_size: int = 10_000  # V_t: target embedding rows and outputs; set from the data
    embedding_size: int = 256  # E: source and target embeddings
    encoder_hidden_size: int = 256  # H_e: encoder units per direction
    bidirectional: bool = True  # encoder reads both ways (K = 2*H_e)
    attention: str = "general"  # none | additive (Bahdanau) | dot | general (Luong)
    attention_size: int = 256  # A: hidden units of the additive scorer
    input_feeding: bool = False  # feed h̃_{t-1} into decoder step t (Luong); a step loop
    tie_embeddings: bool = False  # output layer reuses the target embedding (needs E == H)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.proj_size:
            raise invalid("proj_size", self.proj_size, "0: the encoder-decoder has no projection")
        if self.attention not in ATTENTIONS:
            raise invalid("attention", self.attention, f"one of {', '.join(ATTENTIONS)}")
        for name in ("source_vocab_size", "target_vocab_size"):
            check_int(name, getattr(self, name), 1)
        for name in ("embedding_size", "encoder_hidden_size", "attention_size"):
            check_int(name, getattr(self, name), 1, MAX_UNITS)  # the caps of hidden_size
        self._check_fits_in_memory()
        if self.attention == "dot" and self.memory_size != self.hidden_size:
            raise invalid(
                "attention", "dot", f"hidden_size == encoder output size {self.memory_size} "
                f"(got hidden_size={self.hidden_size}); use general or additive attention",
            )  # fmt: skip
        if self.tie_embeddings and self.embedding_size != self.hidden_size:
            raise invalid(
                "tie_embeddings", True, f"embedding_size == hidden_size (got "
                f"{self.embedding_size} and {self.hidden_size})",
            )  # fmt: skip

    @property
    def memory_size(self) -> int:
        """K: width of the encoder outputs the decoder attends to."""
        return self.encoder_hidden_size * (2 if self.bidirectional else 1)

    def _check_fits_in_memory(self) -> None:
        """Refuse a model whose weights (about, see the module docstring) exceed the memory,
        naming the setting of its largest part."""
        dirs, (k, h) = 2 if self.bidirectional else 1, (self.memory_size, self.hidden_size)
        feed = h if self.input_feeding else 0
        parts = {
            "encoder_hidden_size": recurrent_parameters(
                self.cell, self.num_layers, self.encoder_hidden_size, self.embedding_size, dirs
            ) + 2 * k * h,  # bridge and combine
            "hidden_size": recurrent_parameters(
                self.cell, self.num_layers, h, self.embedding_size + feed
            ) + h * (self.target_vocab_size + 1),
            "embedding_size": (self.source_vocab_size + self.target_vocab_size) * self.embedding_size,
            "attention_size": self.attention_size * (h + k + 1) if self.attention == "additive" else 0,
        }  # fmt: skip
        name = max(parts, key=parts.__getitem__)
        check_fits_in_memory(name, getattr(self, name), sum(parts.values()))



def select_state(state: State, index: Tensor) -> State:
    """Keep the batch entries ``index`` (K,) of a decoder state (L, B, H) -> (L, K, H)."""
    if isinstance(state, tuple):
        return (state[0].index_select(1, index), state[1].index_select(1, index))
    return state.index_select(1, index)


class Attention(nn.Module):
    """Scores of a decoder state s_t against every encoder output h_j, masked softmax, context.

    Score functions (s_t: (H,), h_j: (K,))::

        dot       score(s_t, h_j) = s_t · h_j                         (Luong; needs H == K)
        general   score(s_t, h_j) = s_t · (W_a h_j)       W_a: (H, K)  (Luong)
        additive  score(s_t, h_j) = v · tanh(W_q s_t + W_k h_j + b)   W_q: (A, H), W_k: (A, K)
                                                                       (Bahdanau)
        α_tj = exp(score_tj) / Σ_{j' < S_b} exp(score_tj')    for j < S_b, and α_tj = 0 for
               padded positions j >= S_b (their score is -inf before the softmax: exactly 0)
        c_t  = Σ_j α_tj h_j

    The key side (``W_a h_j``, ``W_k h_j + b``) is computed once per sentence by :meth:`keys`.
    """

    def __init__(self, kind: str, query_size: int, memory_size: int, attention_size: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "general":
            self.key = nn.Linear(memory_size, query_size, bias=False)  # W_a
        elif kind == "additive":
            self.key = nn.Linear(memory_size, attention_size)  # W_k, b
            self.query = nn.Linear(query_size, attention_size, bias=False)  # W_q
            self.v = nn.Linear(attention_size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """memory (B, S, K) -> keys (B, S, H) (dot, general) or (B, S, A) (additive)."""
        return memory if self.kind == "dot" else self.key(memory)

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """query (B, T, H), keys from :meth:`keys`, memory (B, S, K), mask (B, S) True = real.

        Returns context (B, T, K) and weights α (B, T, S) (rows sum to 1, 0 where masked).
        """
        if self.kind == "additive":
            hidden = torch.tanh(self.query(query)[:, :, None] + keys[:, None])  # (B, T, S, A)
            scores = self.v(hidden).squeeze(-1)  # (B, T, S)
        else:
            scores = query @ keys.transpose(1, 2)  # (B, T, S)
        scores = scores.float().masked_fill(~mask[:, None, :], float("-inf"))
        weights = scores.softmax(-1)  # (B, T, S), float32
        return weights.to(memory.dtype) @ memory, weights


class Bridge(nn.Module):
    """Encoder final state (L*dirs, B, H_e) -> decoder initial state (L, B, H).

    Directions are concatenated per layer, (L, B, dirs*H_e); then ``tanh(W x + b)`` unless the
    encoder is one-directional with H_e == H (then the state passes unchanged). An LSTM's cell
    state gets its own projection.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.layers, self.dirs = config.num_layers, 2 if config.bidirectional else 1
        width = config.memory_size
        self.identity = self.dirs == 1 and width == config.hidden_size
        count = 2 if config.cell == "lstm" else 1
        self.projections = nn.ModuleList(
            [] if self.identity else [nn.Linear(width, config.hidden_size) for _ in range(count)]
        )

    def forward(self, state: State) -> State:
        parts = state if isinstance(state, tuple) else (state,)
        bridged = []
        for index, part in enumerate(parts):
            _, batch, size = part.shape
            joined = part.view(self.layers, self.dirs, batch, size).transpose(1, 2)
            joined = joined.reshape(self.layers, batch, self.dirs * size)  # (L, B, dirs*H_e)
            bridged.append(joined if self.identity else torch.tanh(self.projections[index](joined)))
        return (bridged[0], bridged[1]) if len(bridged) == 2 else bridged[0]


class Seq2Seq(nn.Module):
    """Encoder-decoder.  forward(src (B, S), src_lengths (B,), tgt_in (B, T)) -> logits, α."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = c = config
        self.source_embedding = nn.Embedding(c.source_vocab_size, c.embedding_size)
        self.target_embedding = nn.Embedding(c.target_vocab_size, c.embedding_size)
        self.encoder = c.make_rnn(c.embedding_size, c.bidirectional, c.encoder_hidden_size)
        feed = c.hidden_size if c.input_feeding and c.attention != "none" else 0
        self.decoder = c.make_rnn(c.embedding_size + feed)
        self.bridge = Bridge(c)
        self.attention = None
        if c.attention != "none":
            self.attention = Attention(c.attention, c.hidden_size, c.memory_size, c.attention_size)
            self.combine = nn.Linear(c.memory_size + c.hidden_size, c.hidden_size, bias=False)
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(c.hidden_size, c.target_vocab_size)
        with torch.no_grad():  # U(-0.1, 0.1) as the language model (see its reset_io_parameters)
            for embedding in (self.source_embedding, self.target_embedding):
                nn.init.uniform_(embedding.weight, -0.1, 0.1)
            nn.init.uniform_(self.output.weight, -0.1, 0.1)
            nn.init.zeros_(self.output.bias)
        if c.tie_embeddings:
            self.output.weight = self.target_embedding.weight

    @property
    def feeds_input(self) -> bool:
        """Whether decoder step t takes h̃_{t-1} (input feeding with attention)."""
        return self.config.input_feeding and self.attention is not None

    def encode(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, State]:
        """src (B, S) ids, lengths (B,) -> memory (B, S, K), keys, mask (B, S), decoder state."""
        memory, final = self.encoder(self.dropout(self.source_embedding(src)), lengths=lengths)
        steps = torch.arange(src.shape[1], device=src.device)
        mask = steps[None, :] < lengths.to(src.device)[:, None]  # (B, S)
        keys = self.attention.keys(memory) if self.attention is not None else memory
        return memory, keys, mask, self.bridge(final)

    def attend(
        self, states: Tensor, memory: Tensor, keys: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Decoder states s (B, T, H) -> h̃ (B, T, H) and α (B, T, S) (None without attention)."""
        if self.attention is None:
            return states, None
        context, weights = self.attention(states, keys, memory, mask)
        return torch.tanh(self.combine(torch.cat([context, states], -1))), weights

    def step(
        self, tokens: Tensor, memory: Tensor, keys: Tensor, mask: Tensor, state: State,
        feed: Tensor | None,
    ) -> tuple[Tensor, State, Tensor, Tensor | None]:  # fmt: skip
        """One decoder step for N rows: tokens (N,) -> logits (N, V_t), state, h̃ (N, H), α (N, S).

        ``feed`` is h̃ of the previous step (N, H) for input feeding (zeros or None at t = 0).
        """
        combined, state, weights = self.decode_step(tokens, memory, keys, mask, state, feed)
        return self.output(self.dropout(combined)), state, combined, weights

    def decode_step(
        self, tokens: Tensor, memory: Tensor, keys: Tensor, mask: Tensor, state: State,
        feed: Tensor | None,
    ) -> tuple[Tensor, State, Tensor | None]:  # fmt: skip
        """:meth:`step` up to the output layer: h̃ (N, H), the state and α (N, S)."""
        x = self.dropout(self.target_embedding(tokens[:, None]))  # (N, 1, E)
        if self.feeds_input:
            feed = x.new_zeros(x.shape[0], 1, self.config.hidden_size) if feed is None else feed
            x = torch.cat([x, feed.view(x.shape[0], 1, -1).to(x.dtype)], -1)
        states, state = self.decoder(x, state)  # (N, 1, H)
        combined, weights = self.attend(states, memory, keys, mask)
        return combined[:, 0], state, None if weights is None else weights[:, 0]

    def forward(
        self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, sample_prob: float = 0.0,
        targets: Tensor | None = None, label_smoothing: float = 0.0,
    ) -> tuple[Tensor, Tensor | None]:  # fmt: skip
        """Teacher-forced logits (B, T, V_t) of tgt_in (B, T) (<bos> y_1 ...), and α (B, T, S).

        With ``sample_prob`` > 0 (scheduled sampling, Bengio et al. 2015) each row's input at
        step t > 0 is, with that probability, the model's own previous argmax instead of the
        reference token. With ``targets`` (B, T) (y_1 ... <eos>, <pad> after), the first
        result is instead the mean cross-entropy over the targets that are not <pad>, with
        ``label_smoothing`` (a 0-dim fp32 tensor): through forward so that
        DistributedDataParallel sees it, and without the (B, T, V_t) logits unless scheduled
        sampling needs each step's (:func:`rnnkit.nn.linear_cross_entropy.linear_cross_entropy`).
        """
        if targets is not None and targets.shape != tgt_in.shape:
            raise invalid("targets", tuple(targets.shape), f"tgt_in's shape {tuple(tgt_in.shape)}",
                          ShapeMismatchError)  # fmt: skip
        memory, keys, mask, state = self.encode(src, src_lengths)
        if not self.feeds_input and sample_prob == 0:  # every step at once
            states, _ = self.decoder(self.dropout(self.target_embedding(tgt_in)), state)
            combined, weights = self.attend(states, memory, keys, mask)
            return self._head(self.dropout(combined), targets, label_smoothing), weights
        sampled = sample_prob > 0  # each step's logits then choose the next step's input
        outputs, weights, feed, tokens = [], [], None, tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t > 0 and sampled:
                own = outputs[-1].detach().argmax(-1)
                chosen = torch.rand(own.shape, device=own.device) < sample_prob
                tokens = torch.where(chosen, own, tgt_in[:, t])
            elif t > 0:
                tokens = tgt_in[:, t]
            feed, state, alpha = self.decode_step(tokens, memory, keys, mask, state, feed)
            features = self.dropout(feed)
            outputs.append(self.output(features) if sampled else features)
            weights.append(alpha)
        alphas = None if weights[0] is None else torch.stack(weights, 1)
        if not sampled:
            return self._head(torch.stack(outputs, 1), targets, label_smoothing), alphas
        logits = torch.stack(outputs, 1)
        if targets is None:
            return logits, alphas
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(),
                               ignore_index=PAD_ID, label_smoothing=label_smoothing)  # fmt: skip
        return loss, alphas

    def _head(self, features: Tensor, targets: Tensor | None, label_smoothing: float) -> Tensor:
        """features (B, T, H), the dropped-out h̃ -> logits (B, T, V_t), or with ``targets``
        (B, T) the mean cross-entropy over those that are not <pad>, without the logits."""
        if targets is None:
            return self.output(features)
        return linear_cross_entropy(
            features.flatten(0, 1), self.output.weight, self.output.bias, targets.flatten(),
            ignore_index=PAD_ID, label_smoothing=label_smoothing,
        )  # fmt: skip

    def num_parameters(self) -> int:
        """Trainable parameters, tied ones counted once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
