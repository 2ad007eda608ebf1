"""Language model: one-hot or embedding input -> rnnkit.nn stack -> linear layer over the vocabulary.

Dimensions: B batch, T time, V vocabulary, E embedding size (V with one-hot input), H hidden.

    ids (B, T) ──embed──▶ (B, T, E) ──dropout──▶ RNN/LSTM/GRU × L ──▶ (B, T, H)
               ──dropout──▶ linear ──▶ logits (B, T, V)

With ``tie_weights`` the output layer reuses the embedding matrix (Press & Wolf 2017,
Inan et al. 2017); it needs E == H. Parameters: about V*E + L*G*H*(E+H) + H*V (+V biases).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import ShapeMismatchError, invalid
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.nn.linear_cross_entropy import linear_cross_entropy
from rnnkit.validation import MAX_UNITS, check_fits_in_memory, check_int, recurrent_parameters

State = Tensor | tuple[Tensor, Tensor]


@dataclass
class LanguageModelConfig(RecurrentConfig):
    """Everything that defines a language model's shape; saved under "model" in config.json.

    The recurrent stack's options come from RecurrentConfig; the language model's own
    defaults for depth, width and dropout are set here.
    """

    num_layers: int = 2  # L: stacked recurrent layers
    hidden_size: int = 256  # H: units per layer
    dropout: float = 0.1  # on the embedding, between layers and before the output layer
    vocab_size: int = 256  # V: embedding rows and outputs; set from the corpus when trained
    embedding_size: int = 64  # E; 0 feeds one-hot vectors of size V (char-rnn style)
    tie_weights: bool = False  # share the embedding matrix with the output layer (E == H)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("vocab_size", self.vocab_size, 1)
        check_int("embedding_size", self.embedding_size, 0, MAX_UNITS)
        inputs = self.embedding_size or self.vocab_size
        rnn_params = recurrent_parameters(self.cell, self.num_layers, self.hidden_size, inputs)
        io_params = self.vocab_size * (self.embedding_size + self.output_size + 1)
        check_fits_in_memory("hidden_size", self.hidden_size, rnn_params + io_params)
        if self.tie_weights and self.embedding_size != self.output_size:
            raise invalid(
                "tie_weights", True, f"embedding_size == output size (got {self.embedding_size} "
                f"and {self.output_size})",
            )  # fmt: skip


class LanguageModel(nn.Module):
    """Next-token model over ids.  forward(ids (B, T), state) -> (logits (B, T, V), state)."""

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = config
        size = config.embedding_size
        self.embedding = nn.Embedding(config.vocab_size, size) if size else None
        input_size = size or config.vocab_size
        self.rnn = config.make_rnn(input_size)
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.output_size, config.vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight  # type: ignore[union-attr]
        self.reset_io_parameters()

    def reset_io_parameters(self) -> None:
        """Embedding and output weights ~ U(-0.1, 0.1), output bias 0 (Zaremba et al. 2014).

        torch's defaults (an N(0, 1) embedding) give inputs of norm ~sqrt(E) that saturate the
        first layer's gates and, tied to the output, huge initial logits: measured on Penn
        Treebank (2x400 tied LSTM, 1000 steps) validation perplexity 262 with the default
        init, 195 with this one. The recurrent layers keep torch.nn's initialisation.
        """
        with torch.no_grad():
            if self.embedding is not None:
                nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)

    def embed(self, ids: Tensor) -> Tensor:
        """ids (B, T) int64 -> inputs (B, T, E), or one-hot (B, T, V)."""
        if self.embedding is None:
            return F.one_hot(ids, self.config.vocab_size).to(self.decoder.weight.dtype)
        return self.embedding(ids)

    def forward(
        self, ids: Tensor, state: State | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """ids: (B, T) token ids; state: the recurrent state from the previous call or None.

        Returns logits (B, T, V) and the state after the last step (for the next call). With
        ``targets`` (B, T) (the next tokens), the first result is instead the mean cross-entropy
        (a 0-dim tensor, fp32 or fp64), computed without the (B, T, V) logits
        (:func:`rnnkit.nn.linear_cross_entropy.linear_cross_entropy`): training's path, through
        forward so that DistributedDataParallel sees it.
        """
        if targets is not None and targets.shape != ids.shape:
            raise invalid("targets", tuple(targets.shape), f"ids' shape {tuple(ids.shape)}",
                          ShapeMismatchError)  # fmt: skip
        output, state = self.rnn(self.dropout(self.embed(ids)), state)
        output = self.dropout(output)
        if targets is None:
            return self.decoder(output), state
        loss = linear_cross_entropy(
            output.flatten(0, 1), self.decoder.weight, self.decoder.bias, targets.flatten()
        )
        return loss, state

    def num_parameters(self) -> int:
        """Trainable parameters, tied ones counted once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def detach_state(state: State | None) -> State | None:
    """Cut the graph between truncated-BPTT segments while keeping the values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return (state[0].detach(), state[1].detach())
    return state.detach()


def move_state(
    state: State | None, device: torch.device, dtype: torch.dtype = torch.float32
) -> State | None:
    """The state on ``device`` in ``dtype`` (a resumed run's CPU-loaded state moves to the GPU
    here; a state a bf16 step returned, or a run saved under another --precision, is fp32
    again: the fused kernels take the state in the input's dtype)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return (state[0].to(device, dtype), state[1].to(device, dtype))
    return state.to(device, dtype)


def repeat_state(state: State, count: int) -> State:
    """Repeat a batch-1 state (L, 1, H) along the batch dimension -> (L, count, H)."""
    if isinstance(state, tuple):
        return (
            state[0].expand(-1, count, -1).contiguous(),
            state[1].expand(-1, count, -1).contiguous(),
        )
    return state.expand(-1, count, -1).contiguous()

