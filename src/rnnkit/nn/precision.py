"""Whether bf16 pays on this machine: short measurements, cached per machine and shape class.

oneDNN's bf16 recurrent kernels differ a lot between CPU generations and makers (on one
2-core AMD EPYC VM whose torch reports AVX2 only, no bf16 instructions, torch.nn.LSTM could
not build a bf16 primitive under autocast, bf16 kernels ran 1.4-10x slower than fp32 and a
bf16 torch.mm reached 0.6 GFLOP/s; an Intel Xeon measured about 60x slower bf16 backward),
so rnnkit measures instead of assuming:

* :func:`bf16_kernel` - under CPU bf16 autocast, does the fused kernel for this kind and
  hidden size run correctly and faster in bf16 than in fp32?
* :func:`bf16_matmul` - under CPU bf16 autocast, is the loop path's per-step recurrent
  product (B, H) x (H, G*H) faster in bf16 (with the casts it needs) than in fp32?
* :func:`bf16_products` - under CPU bf16 autocast, where the tanh wavefront runs its
  recurrence in fp32, are its products over all steps (the input projection, the weights'
  gradients) faster in bf16 (with the casts they need)?
* :func:`bf16_step_faster` - does a run's own training step (its model, one of its batches)
  run faster under bf16 autocast (``--precision auto`` on the CPU)?
* :func:`bf16_training_faster` - does a small LSTM model train faster under bf16 autocast
  (``--precision auto`` where the run's own step is not measured)?

Answers are cached per machine by :mod:`rnnkit.nn.measured` (in memory and in
``$XDG_CACHE_HOME/rnnkit/measured.json``). The environment variable ``RNNKIT_BF16``
overrides: ``0`` = never bf16 (no measurement), ``1`` = always.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable

import torch
from torch import Tensor

from rnnkit.nn import measured

logger = logging.getLogger("rnnkit.nn")
SPEEDUP = 1.1  # bf16 must be at least this much faster to be chosen
GATES = {"lstm": 4, "gru": 3}  # gate blocks per kind (the SimpleRNNs: 1)
TOLERANCE = 0.05  # largest relative difference of bf16 outputs from fp32 counted correct


def _cached(key: str, measure: Callable[[], bool]) -> bool:
    """The answer for ``key``: ``RNNKIT_BF16`` when set to 0 or 1, else measured once."""
    return measured.cached(f"bf16:{key}", measure, override="RNNKIT_BF16")


def _bf16_faster(bf16: Callable[[], object], fp32: Callable[[], object]) -> bool:
    """Is bf16 at least ``SPEEDUP`` times faster (median of interleaved rounds: :func:`rnnkit.nn.measured.faster`)?"""
    return measured.faster(bf16, fp32, SPEEDUP)


def _products_faster(bf16: Callable[[], object], fp32: Callable[[], object]) -> bool:
    """:func:`_bf16_faster` for plain matrix products, outside autocast; a build without bf16
    products answers no."""
    with torch.autocast("cpu", enabled=False):
        try:
            return _bf16_faster(bf16, fp32)
        except RuntimeError as exc:  # no bf16 matrix product on this build
            logger.debug("bf16 matmul fails here: %s", exc)
            return False


def size_class(hidden: int) -> int:
    """Hidden sizes measured together: the power of two at or above ``hidden`` (>= 64)."""
    return max(64, 1 << (hidden - 1).bit_length())


def autocast_enabled(device: str) -> bool:
    """``torch.is_autocast_enabled(device)``, False for a device type autocast does not know
    (the meta device), where torch's own query raises."""
    return torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)


def autocast_disabled(device: str) -> contextlib.AbstractContextManager:
    """``torch.autocast(device, enabled=False)``, or nothing for a device type autocast does
    not know (the meta device)."""
    if torch.amp.is_autocast_available(device):
        return torch.autocast(device, enabled=False)
    return contextlib.nullcontext()


def cpu_autocast(x: Tensor, weight: Tensor | None) -> bool:
    """Is CPU autocast on for this input and weight? (It leaves float64 alone, so a float64
    input or model computes in float64, as torch.nn's does.)"""
    return (
        x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and x.dtype != torch.float64
        and (weight is None or weight.dtype != torch.float64)
    )


@functools.cache
def _onednn_supports(dtype: torch.dtype) -> bool:
    """Does this CPU run oneDNN's bf16 (fp16) kernels? torch.nn's LSTM asks the same."""
    check = {torch.bfloat16: "_is_mkldnn_bf16_supported", torch.float16: "_is_mkldnn_fp16_supported"}
    return bool(getattr(torch.ops.mkldnn, check[dtype])())


def _onednn_lstm(x: Tensor) -> bool:
    """Would torch.nn.LSTM run oneDNN's LSTM on this padded input (ATen's use_mkldnn)?"""
    if not (torch.backends.mkldnn.is_available() and torch._C._get_mkldnn_enabled()):
        return False
    if x.numel() == 0:
        return False
    if x.dtype == torch.float32:
        return True
    if x.dtype == torch.bfloat16:
        return _onednn_supports(torch.bfloat16)
    return x.dtype == torch.float16 and not torch.is_grad_enabled() and _onednn_supports(x.dtype)


def torch_autocast_dtypes(
    mode: str, x: Tensor, state: list[torch.dtype], uneven: bool, projected: bool
) -> tuple[torch.dtype, ...]:
    """The dtypes of torch.nn's (output, h_n[, c_n]) under CPU autocast (:func:`cpu_autocast`).

    Autocast runs torch's products in its lower precision L (bf16 or fp16) and leaves the rest
    of the arithmetic to type promotion, so: RNN gives L; GRU's h_t = n + z (h_{t-1} - n)
    promotes L with h_0's dtype; LSTM's c_t = f c_{t-1} + i g promotes L with c_0's dtype and
    h_t = o tanh(c_t) follows it, or is L with a projection (a product). oneDNN's LSTM (no
    projection, where torch.nn uses it; not for a PackedSequence of ``uneven`` lengths) runs
    wholly in L. ``state``: the initial states' dtypes (h_0[, c_0]; the input's when zeros).
    """
    low = torch.get_autocast_dtype("cpu")
    if mode.startswith("rnn_"):
        return (low, low)
    if mode == "gru":
        h = torch.promote_types(low, state[0])
        return (h, h)
    if not uneven and not projected and _onednn_lstm(x):
        return (low, low, low)
    c = torch.promote_types(low, state[1])
    h = low if projected else c
    return (h, h, c)


def bf16_kernel(mode: str, hidden: int, kernel: Callable[..., tuple[torch.Tensor, ...]]) -> bool:
    """Should the CPU fused ``kernel`` (torch.lstm, ...) of ``mode`` run in bf16 at this size?"""
    size = size_class(hidden)
    return _cached(f"kernel:{mode}:H{size}", lambda: _measure_kernel(mode, size, kernel))


def _measure_kernel(mode: str, hidden: int, kernel: Callable[..., tuple[torch.Tensor, ...]]) -> bool:
    """fwd+bwd of one layer, B=64 T=32 D=H (H > 256: B=32 T=16), in fp32 and bf16: bf16
    works, agrees, is faster.

    The shape matters at small H: on a 2-core AMD EPYC an LSTM of 64 ran 1.07x faster in bf16
    at B=32 T=16 (fixed costs weigh more) and 1.30x at B=64 T=32 (1.38x at T=60), so the
    smaller measurement kept training batches of that size in fp32. Above H=256 fixed costs
    are small and B=64 T=32 would take seconds (an LSTM of 1024: 9.4 s), so it stays small."""
    gen = torch.Generator().manual_seed(0)
    gates = GATES.get(mode, 1)
    shapes = [(gates * hidden, hidden)] * 2 + [(gates * hidden,)] * 2
    weights = [(torch.rand(s, generator=gen) - 0.5) / hidden**0.5 for s in shapes]
    steps, batch = (32, 64) if hidden <= 256 else (16, 32)
    x = torch.randn(steps, batch, hidden, generator=gen)
    h0 = torch.zeros(1, batch, hidden)
    hx = [h0, h0] if mode == "lstm" else h0

    def run(dtype: torch.dtype) -> torch.Tensor:
        ws = [w.to(dtype).requires_grad_() for w in weights]
        state = [h.to(dtype) for h in hx] if isinstance(hx, list) else hx.to(dtype)
        out = kernel(x.to(dtype), state, ws, True, 1, 0.0, True, False, False)[0]
        out.float().sum().backward()
        return out.detach().float()

    with torch.enable_grad(), torch.autocast("cpu", enabled=False):
        try:
            error = (run(torch.bfloat16) - run(torch.float32)).abs().max().item()
        except RuntimeError as exc:  # e.g. oneDNN cannot build a bf16 primitive here
            logger.debug("bf16 %s kernel fails here: %s", mode, exc)
            return False
        if not error <= TOLERANCE:
            return False
        return _bf16_faster(lambda: run(torch.bfloat16), lambda: run(torch.float32))


def bf16_matmul(mode: str, hidden: int) -> bool:
    """Should the loop path's recurrent products of ``mode`` (lstm, gru, rnn_tanh...) run in
    bf16 at this hidden size?"""
    size = size_class(hidden)
    return _cached(f"matmul:{mode}:H{size}", lambda: _measure_matmul(GATES.get(mode, 1), size))


def _measure_matmul(gates: int, hidden: int, batch: int = 64, steps: int = 20) -> bool:
    """``steps`` products h (B, H) x W_hh^T (H, G*H) plus the gates' input, as the loop runs
    them: fp32 addmm against h rounded to bf16, a bf16 mm and the result back in fp32."""
    gen = torch.Generator().manual_seed(0)
    h = torch.rand(batch, hidden, generator=gen)
    gi = torch.rand(batch, gates * hidden, generator=gen)
    w = torch.rand(hidden, gates * hidden, generator=gen)
    w_bf16 = w.bfloat16()

    def bf16() -> None:
        for _ in range(steps):
            torch.mm(h.bfloat16(), w_bf16).float().add_(gi)

    def fp32() -> None:
        for _ in range(steps):
            torch.addmm(gi, h, w)

    return _products_faster(bf16, fp32)


def bf16_products(hidden: int) -> bool:
    """Should the wavefront's products over all steps (:mod:`rnnkit.nn.wavefront`: (T*B, D)
    x (D, H) for the input projection, (H, T*B) x (T*B, H) for each weight's gradient) run in
    bf16 at this hidden size? Its recurrence stays in fp32 either way."""
    size = size_class(hidden)
    return _cached(f"products:H{size}", lambda: _measure_products(size))


def _measure_products(hidden: int, rows: int = 8192) -> bool:
    """A projection and a weight gradient of ``rows`` rows (T*B) at width ``hidden``: fp32
    products against bf16 ones with their inputs cast (the gradient's into kept buffers, as
    the wavefront's backward does) and their results cast back."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(rows, hidden, generator=gen)
    grad = torch.rand(rows, hidden, generator=gen)
    w = torch.rand(hidden, hidden, generator=gen)
    w_bf16 = w.bfloat16()
    kept = torch.empty(2, rows, hidden, dtype=torch.bfloat16)

    def bf16() -> None:
        torch.mm(x.bfloat16(), w_bf16).float()
        torch.mm(kept[0].copy_(grad).t(), kept[1].copy_(x)).float()

    def fp32() -> None:
        torch.mm(x, w)
        torch.mm(grad.t(), x)

    return _products_faster(bf16, fp32)


def bf16_step_faster(key: str, step: Callable[[bool], object]) -> bool:
    """Does ``step(bf16)`` (a run's own training step: forward and backward of its model on
    one of its batches, under CPU bf16 autocast when ``bf16``) run faster in bf16? Measured
    once per ``key`` (the task and the model's settings); a failing bf16 step means no."""

    def measure() -> bool:
        try:
            return _bf16_faster(lambda: step(True), lambda: step(False))
        except RuntimeError as exc:  # e.g. no bf16 primitive for a layer on this build
            logger.debug("a bf16 training step fails here: %s", exc)
            return False

    return _cached(f"training:{key}", measure)


def bf16_training_faster() -> bool:
    """Does a small LSTM language model step (fwd+bwd) run faster under CPU bf16 autocast?"""
    return _cached("training:lstm", _measure_training)


def _measure_training() -> bool:
    from rnnkit.nn.layers import LSTM  # here: layers imports this module's users

    with torch.random.fork_rng(devices=[]):  # leave the caller's random stream alone
        torch.manual_seed(0)
        model = torch.nn.ModuleDict(
            {"rnn": LSTM(64, 256, num_layers=2, batch_first=True), "out": torch.nn.Linear(256, 64)}
        )
        x = torch.randn(32, 32, 64)

    def step(bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model["out"](model["rnn"](x)[0])
        out.float().square().mean().backward()

    with torch.enable_grad():
        return _bf16_faster(lambda: step(True), lambda: step(False))
