"""Generation on token ids: filters, greedy/beam/top-k equivalences, seeded sampling, the
sampled distribution, token steps against the forward."""

from __future__ import annotations

import math

import pytest
import torch

import rnnkit.generate as generate_module
import rnnkit.nn.step as step_module
from rnnkit.errors import InvalidArgumentError
from rnnkit.generate import (
    GumbelNoise,
    NumpyTokenStep,
    Sampling,
    TokenStep,
    beam_search,
    choose,
    filter_logits,
    sample,
    token_step,
)
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.nn.step import laid_out


@pytest.fixture(scope="module")
def model() -> LanguageModel:
    torch.manual_seed(0)
    lm = LanguageModel(
        LanguageModelConfig(vocab_size=13, hidden_size=24, embedding_size=8, dropout=0.0)
    )
    with torch.no_grad():  # sharper distributions than at initialisation
        lm.decoder.weight.mul_(8)
    return lm.eval()


def run(
    model, sampling: Sampling, length: int = 20, seed: int | None = 0, n: int = 1
) -> list[list[int]]:
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    steps = list(sample(model, [3, 4], length, sampling, n, gen))
    return torch.stack(steps, 1).tolist()


def test_filter_logits_top_k_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, 2, None)).tolist() == [[False, False, True, True]]
    # nucleus 0.75: 0.5 alone is < 0.75, 0.5 + 0.3 reaches it -> keep two
    assert torch.isinf(filter_logits(logits, None, 0.75)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, None, 0.5)).tolist() == [[False, True, True, True]]
    assert not torch.isinf(filter_logits(logits, None, 1.0)).any()


def test_top_k_1_and_beam_1_equal_greedy(model) -> None:
    greedy = run(model, Sampling(greedy=True))
    assert run(model, Sampling(top_k=1), seed=5) == greedy
    assert run(model, Sampling(top_k=1, temperature=3.0), seed=9) == greedy
    best = beam_search(model, [3, 4], 20, width=1)
    assert best[0].ids == greedy[0]


def test_beam_search_scores_at_least_greedy_and_sorted(model) -> None:
    greedy = beam_search(model, [3, 4], 12, width=1)[0]
    beams = beam_search(model, [3, 4], 12, width=5)
    assert len(beams) == 5
    assert beams[0].log_prob >= greedy.log_prob - 1e-6
    assert [b.score for b in beams] == sorted((b.score for b in beams), reverse=True)
    # The log-probability is the model's: recompute the best beam's by teacher forcing.
    ids = torch.tensor([[3, 4, *beams[0].ids]])
    logp = model(ids)[0][0, 1:-1].log_softmax(-1)
    expected = logp.gather(1, ids[0, 2:, None]).sum().item()
    assert math.isclose(beams[0].log_prob, expected, rel_tol=1e-4, abs_tol=1e-4)


def test_early_finishes_do_not_narrow_the_beam(model) -> None:
    # The two most likely first tokens end a hypothesis at once; the beam must still carry
    # `width` live hypotheses to the full length instead of stopping with the two short ones.
    first = model(torch.tensor([[3, 4]]))[0][0, -1].topk(2).indices.tolist()
    beams = beam_search(model, [3, 4], 6, width=2, is_finished=lambda ids: ids[-1] in first)
    lengths = sorted(len(b.ids) for b in beams)
    assert lengths[:2] == [1, 1]  # the two early finishes are kept as results
    assert lengths[-1] == 6  # and the search went on to the full length
    assert all(b.ids[0] not in first for b in beams if len(b.ids) == 6)


def test_seeded_sampling_is_reproducible_and_batched(model) -> None:
    sampling = Sampling(temperature=1.5, top_p=0.95)
    first = run(model, sampling, seed=11, n=4)
    assert first == run(model, sampling, seed=11, n=4)
    assert first != run(model, sampling, seed=12, n=4)
    assert len({tuple(s) for s in first}) > 1  # four different samples in one batch


def test_a_seeded_sample_is_a_prefix_of_a_longer_one(model) -> None:
    # The noise is drawn in blocks; a longer run must still start with the shorter one.
    sampling = Sampling(temperature=1.3)
    assert run(model, sampling, length=40, seed=5, n=3) == [
        ids[:40] for ids in run(model, sampling, length=300, seed=5, n=3)
    ]


@pytest.mark.parametrize("temperature", [5.0, 1e38, 1e308])  # the noise overflows at 1e38
@pytest.mark.parametrize("top_k", [None, 3])  # a filtered logit is -inf like a banned one
def test_banned_ids_are_never_produced(model, temperature, top_k) -> None:
    gen = torch.Generator().manual_seed(0)
    sampling = Sampling(temperature=temperature, top_k=top_k)
    steps = torch.stack(list(sample(model, [3], 200, sampling, 4, gen, banned=[0, 1])))
    assert not torch.isin(steps, torch.tensor([0, 1])).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 0}, "temperature=0"),
        ({"temperature": -1.0}, "temperature=-1.0"),
        ({"top_k": 0}, "top_k=0"),
        ({"top_p": 0.0}, "top_p=0.0"),
        ({"top_p": 1.5}, "top_p=1.5"),
    ],
)
def test_bad_sampling_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        Sampling(**kwargs)


def test_bad_beam_width(model) -> None:
    with pytest.raises(InvalidArgumentError, match="beam=0"):
        beam_search(model, [3], 5, width=0)


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(),
        Sampling(temperature=2.0),
        Sampling(top_k=2),
        Sampling(top_p=0.7),
        Sampling(temperature=2.0, top_p=0.7),  # the nucleus of the flattened distribution
        Sampling(temperature=0.5, top_k=3),
    ],
)
def test_sampled_frequencies_follow_the_filtered_softmax(sampling: Sampling) -> None:
    # 20,000 rows drawn at once: each frequency within 0.012 of its probability (about 3.5
    # standard deviations at p = 0.5); at temperature 0.7 or 1.4 instead of 1 some would be
    # 0.04-0.08 off.
    n = 20_000
    logits = torch.log(torch.tensor([[0.45, 0.3, 0.15, 0.07, 0.03]])).expand(n, -1)
    generator = torch.Generator().manual_seed(0)
    noise = GumbelNoise(logits, steps=1, generator=generator, scale=sampling.temperature)
    frequencies = torch.bincount(choose(logits, sampling, noise), minlength=5) / n
    scaled = logits[:1] / sampling.temperature
    expected = filter_logits(scaled, sampling.top_k, sampling.top_p).softmax(-1)[0]
    torch.testing.assert_close(frequencies, expected, rtol=0, atol=0.012)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(
    "how", ["stored", "transposed", "numpy", "numpy one-hot", "numpy no table"]
)
def test_token_steps_equal_the_model_forward(cell: str, how: str, monkeypatch) -> None:
    # Both weight layouts (laid_out picks one by measuring) and the numpy steps (with the
    # first layer's input gates multiplied or looked up) give the forward's logits.
    monkeypatch.setattr(step_module, "_transposed_faster", lambda *shape: how == "transposed")
    if how == "numpy no table":
        monkeypatch.setattr(NumpyTokenStep, "TABLE_BYTES", 0)
    torch.manual_seed(1)
    config = LanguageModelConfig(
        vocab_size=11, hidden_size=16, embedding_size=0 if how == "numpy one-hot" else 6,
        cell=cell,
    )  # fmt: skip
    lm = LanguageModel(config).eval()
    ids = torch.randint(0, 11, (3, 7))
    step = NumpyTokenStep(lm) if how.startswith("numpy") else TokenStep(lm, rows=3)
    no_table = how in ("stored", "transposed", "numpy no table")
    assert (getattr(step, "table", None) is None) == no_table
    with torch.no_grad():
        expected, _ = lm(ids)
        logits, state = lm(ids[:, :1])
        steps, states = [logits[:, 0]], step.start(state)
        for t in range(1, 7):
            logits, states = step(ids[:, t], states)
            assert logits.is_contiguous()  # (N, V) laid out as ATen's, whichever step made it
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("numpy_faster", [True, False])
def test_token_step_takes_the_measured_faster_one_once(
    model, fresh_measurements, monkeypatch, numpy_faster
) -> None:
    calls = []

    def faster(candidate, baseline, speedup, interleaved):
        calls.append((speedup, interleaved))
        candidate(), baseline()  # both run their steps without failing
        return numpy_faster

    monkeypatch.setattr(fresh_measurements, "faster", faster)
    monkeypatch.setenv("RNNKIT_ROW_BLOCKS", "0")  # no layout measured (test_numpy_step.py's)
    expected = NumpyTokenStep if numpy_faster else TokenStep
    assert type(token_step(model, rows=2)) is expected
    assert type(token_step(model, rows=2)) is expected  # the cached answer
    assert calls == [(generate_module.NUMPY_SPEEDUP, False)]  # numpy's BLAS pool spins after
    assert type(token_step(model, rows=3)) is expected  # another row count: measured again
    assert len(calls) == 2
    (key,) = [k for k in fresh_measurements._ANSWERS if "N2:float32" in k]
    assert "numpy_step:lstm:L2:D8:H24:V13:" in key


@pytest.mark.parametrize(("override", "expected"), [("0", TokenStep), ("1", NumpyTokenStep)])
def test_the_override_decides_without_measuring(
    model, fresh_measurements, monkeypatch, override, expected
) -> None:
    monkeypatch.setenv("RNNKIT_NUMPY_STEP", override)
    monkeypatch.setattr(fresh_measurements, "faster", lambda *a, **k: pytest.fail("measured"))
    assert type(token_step(model)) is expected


def test_a_model_numpy_cannot_step_gets_aten_steps(fresh_measurements, monkeypatch) -> None:
    monkeypatch.setenv("RNNKIT_NUMPY_STEP", "1")
    torch.manual_seed(0)
    lm = LanguageModel(LanguageModelConfig(vocab_size=9, hidden_size=8, embedding_size=4))
    assert type(token_step(lm.bfloat16().eval())) is TokenStep


@pytest.mark.parametrize("n", [1, 3])
def test_numpy_and_aten_steps_sample_the_same(model, monkeypatch, n) -> None:
    sampling = Sampling(temperature=1.2, top_k=8)
    results = {}
    for override in ("0", "1"):
        monkeypatch.setenv("RNNKIT_NUMPY_STEP", override)
        results[override] = (
            run(model, sampling, length=60, seed=4, n=n),
            [(h.ids, h.log_prob) for h in beam_search(model, [3, 4], 12, width=3)],
        )
    (samples_aten, beams_aten), (samples_numpy, beams_numpy) = results["0"], results["1"]
    assert samples_numpy == samples_aten
    assert [ids for ids, _ in beams_numpy] == [ids for ids, _ in beams_aten]
    for (_, a), (_, b) in zip(beams_aten, beams_numpy, strict=True):
        assert math.isclose(a, b, rel_tol=1e-5)


@pytest.mark.parametrize("override", ["0", "1"])
def test_the_callers_code_between_tokens_keeps_its_torch_threads(
    model, monkeypatch, override
) -> None:
    monkeypatch.setenv("RNNKIT_NUMPY_STEP", override)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = [torch.get_num_threads() for _ in sample(model, [3, 4], 5, Sampling(), 2)]
        assert seen == [2] * 5
        assert torch.get_num_threads() == 2
        stream = sample(model, [3, 4], 50, Sampling(), 2)
        next(stream), next(stream)
        stream.close()  # left early: restored as well
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_sampling_records_no_graph_and_yields_ordinary_tensors(model) -> None:
    model.requires_grad_(True)
    steps = list(sample(model, [3, 4], 5, Sampling(), 2, torch.Generator().manual_seed(0)))
    assert all(not s.requires_grad and not s.is_inference() for s in steps)
    assert all(p.grad is None for p in model.parameters())


def test_laid_out_keeps_the_values_and_the_global_random_state() -> None:
    weight = torch.randn(32, 8)
    state = torch.get_rng_state()
    for rows in (1, 4):
        assert torch.equal(laid_out(weight, rows), weight)
    assert torch.equal(torch.get_rng_state(), state)
