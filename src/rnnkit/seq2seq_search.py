"""Decoding an encoder-decoder: greedy and beam search, batched over sentences.

Dimensions: B sentences, S source steps, N decoder rows (B for greedy; the live beams of all
sentences together for beam search), V target vocabulary.

Both run one decoder step for all N rows at a time. Beam search ranks each sentence's
extensions with :func:`rnnkit.generate.beam_step`, the same ranking and refill rule as the
language model's beam search: a hypothesis that ends with ``<eos>`` is a result when it ranks
among the step's best ``width``, and the best unfinished extensions refill the beam. A sentence
stops when it has ``width`` results or reaches its maximum length (then the best extensions of
its last step end there). Score = log P(y) / |y| ** length_penalty, ``<eos>`` counted in |y|.
With width 1 beam search returns the greedy translation.

Limits: a width of at most ``MAX_BEAM`` (1,000, as for a language model's beam search), and
at most ``MAX_OUTPUT_TOKENS`` (10,000) tokens a translation, whatever ``ratio * S + offset``
(:func:`max_lengths`) says; ``ratio`` is at most ``MAX_LEN_RATIO`` (100), ``offset`` at most
``MAX_OUTPUT_TOKENS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.generate import ban, beam_step
from rnnkit.models.seq2seq import Seq2Seq, select_state
from rnnkit.tasks.generate_config import MAX_BEAM
from rnnkit.validation import check_float, check_int

MAX_OUTPUT_TOKENS = 10_000  # tokens of one translation at most (its limit is cut to this)
MAX_LEN_RATIO = 100.0  # output tokens per source token, at most


@dataclass
class Translation:
    """One decoded sentence: target ids (without ``<eos>``) and its score."""

    ids: list[int]
    score: float


def check_length_limits(ratio: float, offset: int) -> None:
    """``ratio`` a finite number in [0, MAX_LEN_RATIO], ``offset`` an int in [0, MAX_OUTPUT_TOKENS]."""
    check_float("max_len_ratio", ratio, 0, MAX_LEN_RATIO)
    check_int("max_len_offset", offset, 0, MAX_OUTPUT_TOKENS)


def max_lengths(lengths: Tensor, ratio: float, offset: int) -> list[int]:
    """Per-sentence output limit ``int(ratio * S_b) + offset``, in [1, MAX_OUTPUT_TOKENS].
    lengths: (B,)."""
    check_length_limits(ratio, offset)
    return [min(MAX_OUTPUT_TOKENS, max(1, int(ratio * n) + offset)) for n in lengths.tolist()]


@torch.no_grad()
def greedy_translate(
    model: Seq2Seq, src: Tensor, lengths: Tensor, bos: int, eos: int, limits: Sequence[int],
    banned: Sequence[int] = (),
) -> list[Translation]:  # fmt: skip
    """The most likely token at every step.  src (B, S), lengths (B,), limits: B ints."""
    model.eval()
    memory, keys, mask, state = model.encode(src, lengths)
    batch = src.shape[0]
    tokens = torch.full((batch,), bos, dtype=torch.long, device=src.device)
    out: list[list[int]] = [[] for _ in range(batch)]
    totals = [0.0] * batch
    open_ = [True] * batch
    feed = None
    for step in range(max(limits)):
        logits, state, feed, _ = model.step(tokens, memory, keys, mask, state, feed)
        log_probs = ban(logits.float(), banned).log_softmax(-1)  # (B, V)
        best, tokens = log_probs.max(-1)
        for row, (token, value) in enumerate(zip(tokens.tolist(), best.tolist(), strict=True)):
            if not open_[row]:
                continue
            totals[row] += value
            if token == eos:
                open_[row] = False
            else:
                out[row].append(token)
                open_[row] = step + 1 < limits[row]
        if not any(open_):
            break
    return [Translation(ids, total) for ids, total in zip(out, totals, strict=True)]


@torch.no_grad()
def beam_translate(
    model: Seq2Seq, src: Tensor, lengths: Tensor, bos: int, eos: int, limits: Sequence[int],
    width: int, length_penalty: float = 1.0, banned: Sequence[int] = (),
) -> list[Translation]:  # fmt: skip
    """Beam search of ``width`` per sentence, all sentences' beams in one batch of rows."""
    check_int("beam", width, 1, MAX_BEAM)
    model.eval()
    memory, keys, mask, state = model.encode(src, lengths)
    batch = src.shape[0]
    beams: list[list[list[int]]] = [[[]] for _ in range(batch)]  # sentence -> live id lists
    scores = [memory.new_zeros(1, dtype=torch.float32) for _ in range(batch)]  # (K_b,) each
    done: list[list] = [[] for _ in range(batch)]
    active = list(range(batch))
    tokens = torch.full((batch,), bos, dtype=torch.long, device=src.device)
    feed = None
    ended_by_eos = lambda ids: ids[-1] == eos  # noqa: E731
    for step in range(max(limits)):
        logits, state, feed, _ = model.step(tokens, memory, keys, mask, state, feed)
        rows, next_tokens, still, offset = [], [], [], 0
        for sentence in active:
            live = len(beams[sentence])
            parents, chosen, values, ended = beam_step(
                scores[sentence], logits[offset : offset + live], beams[sentence], width,
                ended_by_eos, step == limits[sentence] - 1, length_penalty, banned,
            )  # fmt: skip
            done[sentence] += ended
            if parents and len(done[sentence]) < width:
                rows += [offset + p for p in parents]
                next_tokens += chosen
                beams[sentence] = [[*beams[sentence][p], t] for p, t in zip(parents, chosen, strict=True)]  # fmt: skip
                scores[sentence] = torch.tensor(values)
                still.append(sentence)
            offset += live
        active = still
        if not active:
            break
        index = torch.tensor(rows, device=src.device)
        memory, keys, mask = memory[index], keys[index], mask[index]
        state = select_state(state, index)
        feed = feed[index] if feed is not None else None
        tokens = torch.tensor(next_tokens, device=src.device)
    results = []
    for hypotheses in done:
        best = max(hypotheses, key=lambda h: h.score)
        ids = best.ids[:-1] if best.ids and best.ids[-1] == eos else best.ids
        results.append(Translation(ids, best.score))
    return results
