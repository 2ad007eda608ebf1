"""Greedy and beam search over sentences: width 1 == greedy, batching invariance, limits."""

from __future__ import annotations

import pytest
import torch

from rnnkit.errors import InvalidArgumentError
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.seq2seq_search import beam_translate, greedy_translate, max_lengths

BOS, EOS = 2, 3


def model(**options: object) -> Seq2Seq:
    torch.manual_seed(3)
    config = Seq2SeqConfig(source_vocab_size=12, target_vocab_size=9, embedding_size=6,
                           encoder_hidden_size=5, hidden_size=7, attention_size=4, dropout=0.0,
                           **options)  # fmt: skip
    m = Seq2Seq(config).eval()
    with torch.no_grad():
        torch.nn.init.normal_(m.output.weight, std=3.0)  # peaked enough that paths differ
    return m


def end_some_early(m: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor, limits: list[int]) -> None:
    """Raise the <eos> bias until greedy ends some, not all, sentences before their limit."""
    for bias in torch.linspace(-1, 3, 41).tolist():
        with torch.no_grad():
            m.output.bias[EOS] = bias
        found = [len(t.ids) for t in greedy_translate(m, src, lengths, BOS, EOS, limits, [0, BOS])]
        if any(n < k for n, k in zip(found, limits, strict=True)) and any(found):
            return
    raise AssertionError("no <eos> bias ends some sentences early")


def sources(count: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    lengths = torch.randint(1, 7, (count,), generator=g)
    src = torch.randint(4, 12, (count, int(lengths.max())), generator=g)
    src[torch.arange(src.shape[1])[None, :] >= lengths[:, None]] = 0
    return src, lengths


@pytest.mark.parametrize("options", [{}, {"input_feeding": True}, {"attention": "none", "cell": "lstm"}])
def test_beam_width_one_is_greedy(options: dict) -> None:
    m, (src, lengths) = model(**options), sources(12)
    limits = max_lengths(lengths, 1.5, 3)
    end_some_early(m, src, lengths, limits)
    greedy = greedy_translate(m, src, lengths, BOS, EOS, limits, banned=[0, BOS])
    beam = beam_translate(m, src, lengths, BOS, EOS, limits, 1, banned=[0, BOS])
    assert [g.ids for g in greedy] == [b.ids for b in beam]


def test_a_sentence_gets_the_same_beam_alone_and_in_a_batch() -> None:
    m, (src, lengths) = model(), sources()
    limits = max_lengths(lengths, 1.0, 4)
    end_some_early(m, src, lengths, limits)
    together = beam_translate(m, src, lengths, BOS, EOS, limits, 4, banned=[0, BOS])
    for b, n in enumerate(lengths.tolist()):
        alone = beam_translate(m, src[b : b + 1, :n], lengths[b : b + 1], BOS, EOS, limits[b : b + 1], 4,
                               banned=[0, BOS])  # fmt: skip
        assert alone[0].ids == together[b].ids
        assert alone[0].score == pytest.approx(together[b].score, abs=1e-5)


def test_beam_scores_at_least_as_well_as_greedy_without_a_length_penalty() -> None:
    m, (src, lengths) = model(), sources(10)
    limits = [4] * 10
    greedy = greedy_translate(m, src, lengths, BOS, EOS, limits, banned=[0, BOS])
    beam = beam_translate(m, src, lengths, BOS, EOS, limits, 5, length_penalty=0.0, banned=[0, BOS])
    for g, b in zip(greedy, beam, strict=True):
        assert b.score >= g.score - 1e-5  # score = summed log-probability here


def test_outputs_respect_the_length_limit_and_the_banned_ids() -> None:
    m, (src, lengths) = model(), sources()
    limits = [2, 1, 3, 2, 1, 2]
    for found in (greedy_translate(m, src, lengths, BOS, EOS, limits, banned=[0, BOS, 5]),
                  beam_translate(m, src, lengths, BOS, EOS, limits, 3, banned=[0, BOS, 5])):  # fmt: skip
        for translation, limit in zip(found, limits, strict=True):
            assert len(translation.ids) <= limit
            assert not {0, BOS, EOS, 5} & set(translation.ids)


def test_max_lengths_and_bad_widths() -> None:
    assert max_lengths(torch.tensor([0, 4, 10]), 1.5, 2) == [2, 8, 17]
    with pytest.raises(InvalidArgumentError, match="max_len_ratio"):
        max_lengths(torch.tensor([3]), -1.0, 2)
    m, (src, lengths) = model(), sources()
    with pytest.raises(InvalidArgumentError, match="beam=0"):
        beam_translate(m, src, lengths, BOS, EOS, [3] * 6, 0)
