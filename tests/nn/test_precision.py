"""bf16 where it pays: the fused kernels' precision under CPU autocast, measured and cached."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.nn import fused, measured, precision


@pytest.fixture
def fresh(fresh_measurements, tmp_path):
    """An empty cache (memory and disk) and no override."""
    return tmp_path


@pytest.mark.parametrize("layer_type", [rnn.GRU, rnn.RNN])
def test_forced_bf16_kernel_agrees_with_fp32_to_bf16_precision(layer_type, monkeypatch) -> None:
    monkeypatch.setenv("RNNKIT_BF16", "1")
    torch.manual_seed(0)
    layer = layer_type(8, 16, num_layers=2, bidirectional=True)
    x, lengths = torch.randn(6, 3, 8), torch.tensor([6, 2, 4])
    expected, _ = layer(x, lengths=lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, h = layer(x, lengths=lengths)
    torch_dtype = torch.float32 if layer_type is rnn.GRU else torch.bfloat16  # torch.nn's
    assert out.dtype == torch_dtype and h.dtype == torch_dtype
    torch.testing.assert_close(out.float(), expected, atol=3e-2, rtol=3e-2)
    out.float().sum().backward()  # gradients reach the fp32 master weights
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in layer.parameters())


def test_measured_answer_is_cached_on_disk_and_reused(fresh, monkeypatch) -> None:
    answer = precision.bf16_kernel("gru", 100, fused.KERNELS["gru"])  # class H=128
    stored = json.loads(measured.cache_path().read_text())
    assert list(stored.values()) == [answer]
    assert next(iter(stored)).endswith("kernel:gru:H128")
    monkeypatch.setattr(measured, "_ANSWERS", {})  # a new process: read from disk
    monkeypatch.setattr(precision, "_measure_kernel", lambda *a: pytest.fail("measured again"))
    assert precision.bf16_kernel("gru", 120, fused.KERNELS["gru"]) == answer


def test_answers_given_while_measuring_are_kept_on_disk(fresh) -> None:
    """A measurement that asks a question of its own (a token step's laying out its
    products): both answers reach the disk, the inner one not overwritten by the outer."""

    def outer() -> bool:
        return not measured.cached("inner", lambda: False, "RNNKIT_TEST_UNSET")

    assert measured.cached("outer", outer, "RNNKIT_TEST_UNSET") is True
    stored = json.loads(measured.cache_path().read_text())
    assert sorted((key.rsplit("|", 1)[1], value) for key, value in stored.items()) == [
        ("inner", False), ("outer", True)
    ]


def test_an_unreadable_or_foreign_cache_file_is_measured_over(fresh) -> None:
    path = measured.cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    for content in ("not json", "[1, 2]"):
        path.write_text(content)
        measured._ANSWERS.clear()
        assert measured.cached("question", lambda: True, "RNNKIT_TEST_UNSET") is True
        assert list(json.loads(path.read_text()).values()) == [True]


def test_a_hand_edited_answer_is_measured_over(fresh) -> None:
    assert measured.cached("question", lambda: True, "RNNKIT_TEST_UNSET") is True
    path = measured.cache_path()
    stored = json.loads(path.read_text())
    path.write_text(json.dumps(dict.fromkeys(stored, "yes")))  # not a bool
    measured._ANSWERS.clear()
    assert measured.cached("question", lambda: False, "RNNKIT_TEST_UNSET") is False


def test_an_override_other_than_0_or_1_is_named_and_ignored(fresh, monkeypatch, caplog) -> None:
    monkeypatch.setenv("RNNKIT_TEST_OVERRIDE", "yes")
    with caplog.at_level("WARNING", logger="rnnkit"):
        assert measured.cached("question", lambda: True, "RNNKIT_TEST_OVERRIDE") is True
    assert "RNNKIT_TEST_OVERRIDE='yes' ignored: expected 0 or 1" in caplog.text


def test_without_a_home_directory_answers_stay_in_memory(fresh, monkeypatch) -> None:
    """HOME unset and no passwd entry: Path.home() raises; nothing is written, nothing fails."""
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home() -> None:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(measured.Path, "home", staticmethod(no_home))
    assert measured.cache_path() is None
    assert measured.cached("question", lambda: True, "RNNKIT_TEST_UNSET") is True
    assert measured.cached("question", lambda: pytest.fail("measured again"), "RNNKIT_TEST_UNSET")


def test_a_relative_xdg_cache_home_is_ignored(fresh, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert measured.cache_path() == tmp_path / ".cache" / "rnnkit" / "measured.json"


def test_a_failing_or_slower_bf16_kernel_means_fp32(fresh, monkeypatch) -> None:
    def broken(*args):
        raise RuntimeError("could not create a primitive descriptor")

    assert precision._measure_kernel("lstm", 64, broken) is False
    timings = itertools.cycle([0.0, 1.0, 0.0, 1.05])  # bf16 1.0 s, fp32 1.05 s
    monkeypatch.setattr(measured.time, "perf_counter", lambda: next(timings))
    assert precision._bf16_faster(lambda: None, lambda: None) is False  # < 1.1x: not worth it


def test_override_zero_never_measures(monkeypatch) -> None:
    monkeypatch.setenv("RNNKIT_BF16", "0")
    monkeypatch.setattr(precision, "_measure_kernel", lambda *a: pytest.fail("measured"))
    layer = rnn.LSTM(4, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = layer(torch.randn(3, 2, 4))
    assert out.dtype == torch.bfloat16  # torch.nn.LSTM's dtype there, computed in fp32
    assert precision.bf16_training_faster() is False


@pytest.mark.parametrize(("override", "dtype"), [("0", torch.float32), ("1", torch.bfloat16)])
def test_precision_auto_on_the_cpu_follows_the_measurement(override, dtype, monkeypatch) -> None:
    from rnnkit.train.device import resolve_precision

    monkeypatch.setenv("RNNKIT_BF16", override)
    assert resolve_precision("auto", torch.device("cpu")) == dtype
    assert resolve_precision("fp32", torch.device("cpu")) == torch.float32


def test_a_cpu_with_other_vector_extensions_measures_afresh(fresh, monkeypatch) -> None:
    """One VM model name ("AMD EPYC") covers AVX2-only and AVX-512 bf16 CPUs: never share."""
    calls = []

    def measure(*args) -> bool:
        calls.append(torch.backends.cpu.get_cpu_capability())
        return len(calls) == 1

    monkeypatch.setattr(precision, "_measure_kernel", measure)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert precision.bf16_kernel("lstm", 64, fused.KERNELS["lstm"]) is True
    monkeypatch.setattr(measured, "_ANSWERS", {})  # a new process on another CPU, same cache
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert precision.bf16_kernel("lstm", 64, fused.KERNELS["lstm"]) is False
    assert calls == ["AVX2", "AVX512"]
    assert len(json.loads(measured.cache_path().read_text())) == 2


def test_loop_products_are_measured_once_per_kind_and_size_class(fresh, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(precision, "_measure_matmul", lambda *shape: calls.append(shape) or True)
    assert precision.bf16_matmul("gru", 200) is True  # class H=256, 3 gate blocks
    assert precision.bf16_matmul("gru", 256) is True  # same class: the cached answer
    assert precision.bf16_matmul("lstm", 256) is True
    assert calls == [(3, 256), (4, 256)]


def test_the_loop_products_measurement_runs_here(fresh) -> None:
    assert isinstance(precision._measure_matmul(1, 64, batch=8, steps=2), bool)


@pytest.mark.parametrize(("interleaved", "order"), [(True, "cb" * 3), (False, "bbbccc")])
def test_faster_alternates_or_runs_the_baseline_first(interleaved, order) -> None:
    calls: list[str] = []
    measured.faster(
        lambda: calls.append("c"), lambda: calls.append("b"), rounds=2, interleaved=interleaved
    )
    assert "".join(calls) == order  # the first call of each is its untimed warm-up


def test_one_lucky_round_does_not_decide(monkeypatch) -> None:
    """The median of the rounds' ratios: one fast candidate call (a quiet moment on the VM)
    does not make it the faster one, as the best time of each would."""
    seconds = [(1.0, 1.0), (1.0, 1.0), (0.5, 1.0), (1.0, 1.0), (1.0, 1.0)]  # (candidate, baseline)
    clock = itertools.accumulate(itertools.chain([0.0], *seconds))
    stamps = iter([t for now in clock for t in (now, now)][1:])  # each call's end starts the next

    monkeypatch.setattr(measured.time, "perf_counter", lambda: next(stamps))
    assert measured.faster(lambda: None, lambda: None, rounds=5) is False
