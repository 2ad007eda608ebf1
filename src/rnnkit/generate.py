"""Text generation from a language model: greedy, temperature, top-k, top-p and beam search.

Works on token ids; :class:`rnnkit.tasks.lm_inference.LoadedLanguageModel` adds prompts, stop
strings and streaming text on top. Dimensions: N samples (or beams) decoded together, V vocabulary.

A prompt first primes the recurrent state (one forward pass over its ids); every sample then
starts from that state, so N samples cost one batched step per new token. The steps skip the
layers' forward (checks, state building, the T-step machinery): :class:`TokenStep` runs one
ATen cell operator per layer and one output product (:mod:`rnnkit.nn.step`), and
:class:`NumpyTokenStep` the same equations in numpy (:mod:`rnnkit.nn.numpy_step`);
:func:`token_step` takes whichever measured faster on this machine for the model's sizes.

Sampling uses the Gumbel-max trick: argmax(logits + g), g ~ Gumbel(0, 1) drawn independently
per logit, is distributed exactly as softmax(logits) (``torch.multinomial`` draws one sample the
same way, from exponential noise). :class:`GumbelNoise` draws the noise of many steps at once,
so a step costs an add and an argmax instead of a softmax and a ``multinomial`` call, whose own
noise draw sets up a random stream each time (about 14 us at one row, against a step of
about 75 us for the default char model on 2 CPU cores).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.config import check_types
from rnnkit.errors import invalid
from rnnkit.models.language_model import LanguageModel, State, repeat_state
from rnnkit.nn import measured
from rnnkit.nn.numpy_step import (
    ArrayState,
    NumpyLayerStepper,
    cores_to_blas,
    numpy_steppable,
    one_blas_thread,
    row_blocks,
)
from rnnkit.nn.step import LayerState, LayerStepper, laid_out, select_layer_states, split_state
from rnnkit.validation import check_float, check_int

MIN_TEMPERATURE = 1e-4  # lower still overflows the scaled logits; use greedy decoding instead
MIN_TOP_P = 1e-6
NUMPY_SPEEDUP = 1.1  # numpy token steps must be at least this much faster to be used


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen from the logits (validated on creation)."""

    temperature: float = 1.0  # > 0; below 1 sharpens, above 1 flattens the distribution
    top_k: int | None = None  # keep only the k most likely tokens
    top_p: float | None = None  # keep the smallest set whose probability reaches p (nucleus)
    greedy: bool = False  # always the most likely token (ignores the three above)

    def __post_init__(self) -> None:
        check_types(self)  # greedy a bool; numpy numbers become Python's
        # bounds away from 0: logits / 1e-320 overflow, and a float32 top_p of 1e-320 is 0
        check_float("temperature", self.temperature, MIN_TEMPERATURE, None)
        check_int("top_k", self.top_k, 1, None, optional=True)
        check_float("top_p", self.top_p, MIN_TOP_P, 1, optional=True)


def filter_logits(
    logits: Tensor, top_k: int | None, top_p: float | None, temperature: float = 1.0
) -> Tensor:
    """Set logits outside the top-k / nucleus sets to -inf.  logits: (N, V) -> (N, V).

    The nucleus is that of softmax(logits / ``temperature``); the logits kept are not scaled.
    """
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        sorted_logits = sorted_logits / temperature if temperature != 1 else sorted_logits
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cumulative - sorted_logits.softmax(-1) >= top_p  # mass before >= p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


class GumbelNoise:
    """Gumbel(0, 1) noise times ``scale``, shaped like the logits (N, V), one draw per call.

    Draws a block of steps at once (at most ``BLOCK_NUMBERS`` numbers, and no more steps than
    ``steps``), from ``generator`` (None: torch's global one), so a seed gives the same samples.
    With ``scale`` the sampling temperature T, argmax(logits + noise) samples softmax(logits / T):
    it is argmax(logits / T + g) multiplied through by T > 0, without a division per step.
    """

    BLOCK_NUMBERS = 1 << 20  # 4 MiB of float32

    def __init__(
        self,
        like: Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        scale: float = 1.0,
    ) -> None:
        self.like, self.generator, self.scale = like, generator, scale
        self.block = max(1, min(steps, self.BLOCK_NUMBERS // max(like.numel(), 1)))
        self.draws: Iterator[Tensor] = iter(())

    def __call__(self) -> Tensor:
        noise = next(self.draws, None)
        if noise is None:
            shape = (self.block, *self.like.shape)
            exponential = self.like.new_empty(shape, dtype=torch.float32).exponential_(
                generator=self.generator
            )  # -log of Exp(1) is Gumbel(0, 1); exponential_ may return 0, whose log is -inf
            finfo = torch.finfo(torch.float32)
            gumbel = exponential.clamp_min_(finfo.tiny).log_().mul_(-self.scale)
            # a huge temperature overflows to inf, and -inf (a banned or filtered logit) + inf
            # is nan, which argmax takes: the noise stays finite
            gumbel.clamp_(-finfo.max, finfo.max)
            self.draws = iter(gumbel)
            noise = next(self.draws)
        return noise


def choose(logits: Tensor, sampling: Sampling, noise: Callable[[], Tensor] | None) -> Tensor:
    """Next ids (N,) from logits (N, V), sampled with ``noise``: a :class:`GumbelNoise` whose
    scale is the temperature. Greedy decoding, or no noise, takes the most likely ids."""
    if sampling.greedy or noise is None:
        return logits.argmax(-1)
    kept = filter_logits(logits.float(), sampling.top_k, sampling.top_p, sampling.temperature)
    return (kept + noise()).argmax(-1)


def ban(logits: Tensor, banned: Sequence[int]) -> Tensor:
    """logits (N, V) with the ``banned`` ids (e.g. <pad>) set to -inf, so never chosen."""
    if not banned:
        return logits
    return logits.index_fill(-1, torch.tensor(list(banned), device=logits.device), float("-inf"))


@torch.no_grad()
def prime(model: LanguageModel, prompt_ids: Sequence[int], count: int) -> tuple[Tensor, State]:
    """Run the prompt once; return last-step logits (count, V) and the state, batch count."""
    if len(prompt_ids) == 0:
        raise invalid("prompt_ids", list(prompt_ids), "at least one token id")
    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)
    logits, state = model(ids)
    return logits[:, -1].expand(count, -1), repeat_state(state, count)


class TokenStep:
    """The model one token at a time, inference only: ids (N,) -> logits (N, V), new states.

    The ``banned`` ids get a -inf output bias, so their logits are -inf with no extra op.
    Read the weights once per generation: make a new one after changing them. ``rows``: the
    usual N, for which the weights' layout is chosen (:func:`rnnkit.nn.step.laid_out`).
    """

    def __init__(self, model: LanguageModel, banned: Sequence[int] = (), rows: int = 1) -> None:
        self.layers = LayerStepper(model.rnn, rows)
        decoder = model.decoder
        self.weight = laid_out(decoder.weight.detach(), rows)
        self.bias = ban(decoder.bias.detach()[None], banned)[0]
        if model.embedding is not None:
            self.inputs = model.embedding.weight.detach()
        else:  # one-hot rows, looked up like an embedding
            size = model.config.vocab_size
            self.inputs = torch.eye(size, dtype=self.weight.dtype, device=self.weight.device)

    def __call__(self, ids: Tensor, states: list[LayerState]) -> tuple[Tensor, list[LayerState]]:
        """ids: (N,) int64; states: per layer (h[, c]) each (N, H)."""
        top, states = self.layers(F.embedding(ids, self.inputs), states)
        return torch.addmm(self.bias, top, self.weight.t()), states

    @staticmethod
    def start(state: State) -> list[LayerState]:
        """The steps' states from the model's (L, N, H) state(s)."""
        return split_state(state)

    @staticmethod
    def select(states: list[LayerState], index: Tensor) -> list[LayerState]:
        """Keep the sequences ``index`` (K,) of the steps' states."""
        return select_layer_states(states, index)

    @staticmethod
    def running() -> contextlib.AbstractContextManager:
        """The context the steps run in."""
        return contextlib.nullcontext()


class NumpyTokenStep:
    """:class:`TokenStep` computed in numpy (:mod:`rnnkit.nn.numpy_step`), for a float32 or
    float64 model on the CPU; its states are numpy arrays, its logits a tensor on their memory.

    When the first layer's input gates for every token fit in ``TABLE_BYTES`` (a character
    model: 65 x 1024 numbers), they are computed once and a step looks its rows up. ``rows``:
    the usual N, for which the products are laid out (:func:`rnnkit.nn.numpy_step.row_blocks`).
    """

    TABLE_BYTES = 4 << 20

    def __init__(self, model: LanguageModel, banned: Sequence[int] = (), rows: int = 1) -> None:
        decoder = model.decoder
        self.weight = row_blocks(decoder.weight.detach().numpy(), rows)
        self.bias = ban(decoder.bias.detach()[None], banned)[0].numpy()
        if model.embedding is not None:
            self.inputs = model.embedding.weight.detach().numpy()
        else:
            self.inputs = np.eye(model.config.vocab_size, dtype=self.bias.dtype)
        gates = model.rnn.flat_weights[0].shape[0]
        small = self.inputs.shape[0] * gates * self.inputs.itemsize <= self.TABLE_BYTES
        self.layers = NumpyLayerStepper(model.rnn, rows, self.inputs if small else None)
        self.table = self.layers.table

    def __call__(self, ids: Tensor, states: list[ArrayState]) -> tuple[Tensor, list[ArrayState]]:
        """ids: (N,) int64; states: per layer (h[, c]) each (N, H)."""
        rows = ids.numpy()
        if self.table is None:
            top, states = self.layers(self.inputs[rows], states)
        else:
            top, states = self.layers(None, states, input_gates=self.table[rows])
        logits = np.add(self.weight(top), self.bias, order="C")  # (N, V); the product's is (V, N).T
        return torch.from_numpy(logits), states

    @staticmethod
    def start(state: State) -> list[ArrayState]:
        """The steps' states from the model's (L, N, H) state(s) (copied)."""
        return [tuple(s.numpy().copy() for s in layer) for layer in split_state(state)]

    @staticmethod
    def select(states: list[ArrayState], index: Tensor) -> list[ArrayState]:
        """Keep the sequences ``index`` (K,) of the steps' states."""
        rows = index.cpu().numpy()
        return [tuple(s[rows] for s in layer) for layer in states]

    @staticmethod
    def running() -> contextlib.AbstractContextManager:
        """The context the steps run in: numpy's BLAS on torch's threads, torch on one (see
        :func:`rnnkit.nn.numpy_step.cores_to_blas`)."""
        return cores_to_blas()


def token_step(
    model: LanguageModel, banned: Sequence[int] = (), rows: int = 1
) -> TokenStep | NumpyTokenStep:
    """The model's token step, ATen's or numpy's, whichever measured faster on this machine
    for the model's sizes at ``rows`` sequences (once per machine: :mod:`rnnkit.nn.measured`;
    ``RNNKIT_NUMPY_STEP=0`` or ``1`` decides without measuring)."""
    rnn = model.rnn
    if numpy_steppable(rnn):
        dtype = str(rnn.flat_weights[0].dtype).removeprefix("torch.")
        key = (
            f"numpy_step:{rnn.kernel}:L{rnn.num_layers}:D{rnn.input_size}:H{rnn.hidden_size}:"
            f"V{model.config.vocab_size}:N{rows}:{dtype}:blas_on_torch_threads:row_blocks"
        )
        measure = functools.partial(_numpy_faster, model, rows)
        if measured.cached(key, measure, "RNNKIT_NUMPY_STEP"):
            with one_blas_thread():  # its table's product too: no BLAS thread pool left spinning
                return NumpyTokenStep(model, banned, rows)
    return TokenStep(model, banned, rows)


def _numpy_faster(model: LanguageModel, rows: int, steps: int = 20) -> bool:
    """Do ``steps`` numpy token steps run at least 1.1x faster than ATen's (from zero states)?"""
    rnn = model.rnn
    zeros = rnn.flat_weights[0].new_zeros(rnn.num_layers, rows, rnn.hidden_size)
    state = (zeros, zeros) if rnn.kernel == "lstm" else zeros
    ids = torch.zeros(rows, dtype=torch.long)

    def run(step: TokenStep | NumpyTokenStep) -> Callable[[], None]:
        def steps_from_zero() -> None:
            states = step.start(state)
            with step.running():
                for _ in range(steps):
                    _, states = step(ids, states)

        return steps_from_zero

    with torch.inference_mode(), one_blas_thread():
        aten, numpy_step = TokenStep(model, rows=rows), NumpyTokenStep(model, rows=rows)
    with torch.inference_mode():
        return measured.faster(run(numpy_step), run(aten), NUMPY_SPEEDUP, interleaved=False)


def sample(
    model: LanguageModel,
    prompt_ids: Sequence[int],
    length: int,
    sampling: Sampling,
    num_samples: int = 1,
    generator: torch.Generator | None = None,
    banned: Sequence[int] = (),
) -> Iterator[Tensor]:
    """Yield the next ids (N,) of N samples, ``length`` times (stream them as they come).

    ``banned`` ids are never produced (e.g. <pad>, or <unk> for a character model).
    Autograd records nothing: the steps use detached weights. (An inference-mode decorator
    on a generator enters and leaves the mode at every ``yield``, about 8 us a token.)
    """
    length = check_int("length", length, 0)
    num_samples = check_int("num_samples", num_samples, 1)
    model.eval()
    logits, state = prime(model, prompt_ids, num_samples)
    step = token_step(model, banned, num_samples)
    logits, states = ban(logits, banned), step.start(state)
    noise = None
    if not sampling.greedy:
        noise = GumbelNoise(logits, length, generator, scale=sampling.temperature)
    threads = torch.get_num_threads()
    with step.running():
        inside = torch.get_num_threads()
        for index in range(length):
            ids = choose(logits, sampling, noise)
            torch.set_num_threads(threads)  # the caller's code runs on the caller's threads
            yield ids
            torch.set_num_threads(inside)
            if index < length - 1:
                logits, states = step(ids, states)


@dataclass
class Hypothesis:
    """A finished beam: its ids (after the prompt), summed log-probability and ranking score."""

    ids: list[int]
    log_prob: float
    score: float


@torch.inference_mode()
def beam_search(
    model: LanguageModel,
    prompt_ids: Sequence[int],
    length: int,
    width: int,
    length_penalty: float = 1.0,
    is_finished: Callable[[list[int]], bool] | None = None,
    banned: Sequence[int] = (),
) -> list[Hypothesis]:
    """Beam search for up to ``length`` tokens; returns hypotheses best first.

    score = log P(ids) / len(ids) ** length_penalty (0 = raw sum; 1 = per-token mean).
    A hypothesis ends early when ``is_finished(ids)`` says so (e.g. a stop string appeared).
    A finished extension ranked among the step's best ``width`` becomes a result, and the best
    unfinished extensions refill the beam to ``width``, so an early finish never narrows the
    search. With width 1 and no early finish this is greedy decoding.
    """
    width = check_int("beam", width, 1)
    length = check_int("length", length, 1)
    model.eval()
    logits, state = prime(model, prompt_ids, 1)
    advance = token_step(model, rows=width)
    states = advance.start(state)
    scores = logits.new_zeros(1)  # (K,) summed log-probabilities of the live beams
    beams: list[list[int]] = [[]]
    done: list[Hypothesis] = []
    with advance.running():
        for step in range(length):
            last = step == length - 1
            parents, tokens, values, ended = beam_step(
                scores, logits, beams, width, is_finished, last, length_penalty, banned
            )
            done += ended
            if not parents:
                break
            keep = torch.tensor(parents, device=scores.device)
            beams = [[*beams[p], t] for p, t in zip(parents, tokens, strict=True)]
            scores = torch.tensor(values, dtype=scores.dtype, device=scores.device)
            states = advance.select(states, keep)
            logits, states = advance(torch.tensor(tokens, device=keep.device), states)
    return sorted(done, key=lambda h: h.score, reverse=True)


def beam_step(
    scores: Tensor,
    logits: Tensor,
    beams: list[list[int]],
    width: int,
    is_finished: Callable[[list[int]], bool] | None,
    last: bool,
    length_penalty: float = 1.0,
    banned: Sequence[int] = (),
) -> tuple[list[int], list[int], list[float], list[Hypothesis]]:
    """One step of beam search for one sequence; the core shared by every beam search.

    scores: (K,) summed log-probabilities of the K live ``beams``; logits: (K, V) of their next
    token. Ranks all K*V extensions together (see :func:`beam_search`). On the ``last`` step
    every extension ends, so the best ``width`` become results. Returns the next beams' parent
    rows, tokens and summed log-probabilities, and the hypotheses that ended at this step.
    """
    candidates = scores[:, None] + ban(logits.float(), banned).log_softmax(-1)  # (K, V)
    parents, tokens, values, ended = _extend(
        candidates, beams, width, (lambda _: True) if last else is_finished, 0 if last else width
    )
    hypotheses = [
        Hypothesis(ids, log_prob, log_prob / max(len(ids), 1) ** length_penalty)
        for ids, log_prob in ended
    ]
    return parents, tokens, values, hypotheses


def _extend(
    candidates: Tensor,
    beams: list[list[int]],
    width: int,
    is_finished: Callable[[list[int]], bool] | None,
    live: int,
) -> tuple[list[int], list[int], list[float], list[tuple[list[int], float]]]:
    """One beam-search step's choice from ``candidates`` (K, V) summed log-probabilities.

    Walks the extensions best first: a finished one ranked below ``width`` becomes a result,
    the first ``live`` unfinished ones become the next beams. Returns their (parents, tokens,
    log-probabilities) and the finished (ids, log-probability) pairs.
    """
    flat, vocab = candidates.flatten(), candidates.shape[-1]
    count = min(2 * width, flat.numel())
    while True:  # look further down the ranking only while finishes crowd out live beams
        top = torch.topk(flat, count)
        parents, tokens, values, ended = [], [], [], []
        ranking = zip(top.indices.tolist(), top.values.tolist(), strict=True)
        for rank, (index, value) in enumerate(ranking):
            parent, token = divmod(index, vocab)
            ids = [*beams[parent], token]
            if is_finished is not None and is_finished(ids):
                if rank < width:
                    ended.append((ids, value))
            elif len(parents) < live:
                parents.append(parent)
                tokens.append(token)
                values.append(value)
            if len(parents) == live and rank >= width - 1:  # every finish below width seen
                return parents, tokens, values, ended
        if count == flat.numel():
            return parents, tokens, values, ended
        count = min(2 * count, flat.numel())
