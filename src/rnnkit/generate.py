"""Text generation from a language model: greedy, temperature, top-k, top-p and beam search.

Works on token ids; :class:`rnnkit.tasks.lm_inference.LoadedLanguageModel` adds prompts, stop
strings and streaming text on top. Dimensions: N samples (or beams) decoded together, V vocabulary.

A prompt first primes the recurrent state (one forward pass over its ids); every sample then
starts from that state, so N samples cost one batched step per new token. The steps skip the
layers' forward (checks, state building, the T-step machinery): :class:`TokenStep` runs one
ATen cell operator per layer and one output product (:mod:`rnnkit.nn.step`).

Sampling uses the Gumbel-max trick: argmax(logits + g), g ~ Gumbel(0, 1) drawn independently
per logit, is distributed exactly as softmax(logits) (``torch.multinomial`` draws one sample the
same way, from exponential noise). :class:`GumbelNoise` draws the noise of many steps at once,
so a step costs an add and an argmax instead of a softmax and a ``multinomial`` call, whose own
noise draw sets up a random stream each time (about 14 us at one row, against a step of
about 130 us for the default char model on 2 CPU cores).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.errors import invalid
from rnnkit.models.language_model import LanguageModel, State, repeat_state
from rnnkit.nn.step import LayerState, LayerStepper, laid_out, select_layer_states, split_state
from rnnkit.validation import check_float, check_int

MIN_TEMPERATURE = 1e-4  # lower still overflows the scaled logits; use greedy decoding instead
MIN_TOP_P = 1e-6


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen from the logits (validated on creation)."""

    temperature: float = 1.0  # > 0; below 1 sharpens, above 1 flattens the distribution
    top_k: int | None = None  # keep only the k most likely tokens
    top_p: float | None = None  # keep the smallest set whose probability reaches p (nucleus)
    greedy: bool = False  # always the most likely token (ignores the three above)

    def __post_init__(self) -> None:
        # bounds away from 0: logits / 1e-320 overflow, and a float32 top_p of 1e-320 is 0
        check_float("temperature", self.temperature, MIN_TEMPERATURE, None)
        check_int("top_k", self.top_k, 1, None, optional=True)
        check_float("top_p", self.top_p, MIN_TOP_P, 1, optional=True)


def filter_logits(logits: Tensor, top_k: int | None, top_p: float | None) -> Tensor:
    """Set logits outside the top-k / nucleus sets to -inf.  logits: (N, V) -> (N, V)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cumulative - sorted_logits.softmax(-1) >= top_p  # mass before >= p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


class GumbelNoise:
    """Gumbel(0, 1) noise shaped like the logits (N, V), one draw per call.

    Draws a block of steps at once (at most ``BLOCK_NUMBERS`` numbers, and no more steps than
    ``steps``), from ``generator`` (None: torch's global one), so a seed gives the same samples.
    """

    BLOCK_NUMBERS = 1 << 20  # 4 MiB of float32

    def __init__(self, like: Tensor, steps: int, generator: torch.Generator | None = None) -> None:
        self.like, self.generator = like, generator
        self.block = max(1, min(steps, self.BLOCK_NUMBERS // max(like.numel(), 1)))
        self.draws: Iterator[Tensor] = iter(())

    def __call__(self) -> Tensor:
        noise = next(self.draws, None)
        if noise is None:
            shape = (self.block, *self.like.shape)
            exponential = self.like.new_empty(shape, dtype=torch.float32).exponential_(
                generator=self.generator
            )  # -log of Exp(1) is Gumbel(0, 1); exponential_ may return 0, whose log is -inf
            tiny = torch.finfo(torch.float32).tiny
            self.draws = iter(exponential.clamp_min_(tiny).log_().neg_())
            noise = next(self.draws)
        return noise


def choose(logits: Tensor, sampling: Sampling, noise: Callable[[], Tensor] | None) -> Tensor:
    """Next ids (N,) from logits (N, V), sampled with ``noise`` (a :class:`GumbelNoise`);
    greedy decoding, or no noise, takes the most likely ids."""
    if sampling.greedy or noise is None:
        return logits.argmax(-1)
    scaled = logits.float() if sampling.temperature == 1 else logits.float() / sampling.temperature
    return (filter_logits(scaled, sampling.top_k, sampling.top_p) + noise()).argmax(-1)


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


@torch.inference_mode()
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
    """
    if not isinstance(length, int) or length < 0:
        raise invalid("length", length, "an int >= 0")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise invalid("num_samples", num_samples, "an int >= 1")
    model.eval()
    logits, state = prime(model, prompt_ids, num_samples)
    logits, states = ban(logits, banned), split_state(state)
    step = TokenStep(model, banned, num_samples)
    noise = None if sampling.greedy else GumbelNoise(logits, length, generator)
    for index in range(length):
        ids = choose(logits, sampling, noise)
        yield ids
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
    if not isinstance(width, int) or width < 1:
        raise invalid("beam", width, "an int >= 1")
    if not isinstance(length, int) or length < 1:
        raise invalid("length", length, "an int >= 1")
    model.eval()
    logits, state = prime(model, prompt_ids, 1)
    states, advance = split_state(state), TokenStep(model, rows=width)
    scores = logits.new_zeros(1)  # (K,) summed log-probabilities of the live beams
    beams: list[list[int]] = [[]]
    done: list[Hypothesis] = []
    for step in range(length):
        parents, tokens, values, ended = beam_step(
            scores, logits, beams, width, is_finished, step == length - 1, length_penalty, banned
        )
        done += ended
        if not parents:
            break
        keep = torch.tensor(parents, device=scores.device)
        beams = [[*beams[p], t] for p, t in zip(parents, tokens, strict=True)]
        scores = torch.tensor(values, dtype=scores.dtype, device=scores.device)
        states = select_layer_states(states, keep)
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
