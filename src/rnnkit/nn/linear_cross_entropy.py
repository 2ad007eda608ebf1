"""Mean cross-entropy of a linear layer's logits over a large vocabulary, without the logits.

Dimensions: N rows (tokens), K features, V classes (vocabulary).

``F.cross_entropy(F.linear(h, W, b).float(), y)`` writes N*V logits, their fp32 copy, the
log-softmax and, backward, as many gradients: for a word-level language model's batch (N =
64*100 tokens, V = 10,000) each is 64 million numbers (256 MB in fp32), freshly allocated and
paged in on every step. On a 2-core AMD EPYC that memory traffic, not the products, was most of
the step (log_softmax 68 ms and its backward 71 ms, copies 113 ms, fills 50 ms, against 85 ms of
products, per step). :func:`linear_cross_entropy` takes the rows a chunk at a time (about
2^20 logits, 4 MB in fp32, which the last-level cache holds), and for each chunk computes the
logits, their softmax and loss, and at once the gradients of h, W and b (softmax - one-hot,
divided by N), so nothing of size N*V outlives a chunk (on a GPU chunks are 32 times as large,
:data:`DEVICE_CHUNK_LOGITS`). The backward only scales the stored gradients by the
loss's gradient. The same fused, chunked scheme as Liger Kernel's fused linear cross-entropy
(Hsu et al. 2024) and Apple's Cut Cross-Entropy (Wijmans et al. 2024), in plain torch operators.

Products run in the autocast dtype when autocast is on (as ``F.linear`` would), the softmax in
fp32 (fp64 for fp64 inputs); gradients accumulate in that dtype across chunks. Results equal
the unfused expression's up to float rounding (fp32: about 1e-7 relative; bf16: within bf16
rounding). First derivatives only (no ``create_graph`` through it).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.nn.precision import autocast_disabled, autocast_enabled

CHUNK_LOGITS = 1 << 20  # logits per chunk on the CPU: rows = max(MIN_ROWS, CHUNK_LOGITS // V)
# Elsewhere (a GPU; nothing measured there) chunks are larger: a GPU's caches are not what
# bounds it, and each chunk launches a dozen kernels, so a usual batch (64 x 100 tokens of a
# 10,000-word vocabulary) runs in two chunks while the memory stays bounded (128 MB of fp32)
DEVICE_CHUNK_LOGITS = 1 << 25
MIN_ROWS = 128  # fewer rows make the products inefficient (M < 128)


def linear_cross_entropy(
    hidden: Tensor, weight: Tensor, bias: Tensor | None, targets: Tensor, *,
    ignore_index: int | None = None, label_smoothing: float = 0.0,
) -> Tensor:  # fmt: skip
    """``F.cross_entropy(F.linear(hidden, weight, bias), targets, ...)``, mean reduction.

    hidden: (N, K), weight: (V, K), bias: (V,) or None, targets: (N,) int64 in [0, V), or
    ``ignore_index``: such rows count for nothing, and the mean is over the others (nan when
    there are none, with zero gradients, as torch's). ``label_smoothing`` ε in [0, 1]: each
    row's target distribution is (1 - ε) one-hot + ε / V, as torch's.
    Returns a 0-dim tensor, fp32 (fp64 for fp64 products); differentiable in hidden, weight
    and bias (once).
    """
    if hidden.dim() != 2 or targets.shape != hidden.shape[:1]:
        shapes = f"{tuple(hidden.shape)} and {tuple(targets.shape)}"
        raise ValueError(f"hidden (N, K) and targets (N,) expected, got {shapes}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing in [0, 1] expected, got {label_smoothing}")
    kept = None if ignore_index is None else targets != ignore_index  # (N,) the counted rows
    _check_targets(targets, weight.shape[0], kept)
    device = hidden.device.type
    dtype = torch.get_autocast_dtype(device) if autocast_enabled(device) else hidden.dtype
    if bias is None:
        bias = weight.new_zeros(weight.shape[0])
    return _LinearCrossEntropy.apply(
        hidden, weight, bias, targets, kept, dtype, torch.is_grad_enabled(), float(label_smoothing)
    )


def _check_targets(targets: Tensor, classes: int, kept: Tensor | None) -> None:
    """torch's errors for targets it would refuse: another dtype than int64 (RuntimeError), a
    class outside [0, V) in a ``kept`` row (all without it: IndexError)."""
    if targets.dtype != torch.long:
        raise RuntimeError(f"expected target dtype to be Long, but got {targets.dtype}")
    if targets.is_meta:  # shapes only: no values to check
        return
    counted = targets if kept is None else targets[kept]
    if counted.numel():
        low, high = (int(v) for v in torch.aminmax(counted))
        if low < 0 or high >= classes:
            raise IndexError(f"Target {low if low < 0 else high} is out of bounds.")


class _LinearCrossEntropy(torch.autograd.Function):
    """See the module docstring: the loss, with the gradients computed alongside it."""

    @staticmethod
    def forward(
        ctx, hidden: Tensor, weight: Tensor, bias: Tensor, targets: Tensor, kept: Tensor | None,
        dtype: torch.dtype, graph: bool, eps: float,
    ) -> Tensor:  # fmt: skip
        rows, classes = hidden.shape[0], weight.shape[0]
        # under no_grad, needs_input_grad still follows requires_grad (and forward always runs
        # without grad mode, so the caller's is passed in): nothing is needed then
        need_h, need_w, need_b = (n and graph for n in ctx.needs_input_grad[:3])
        count = rows if kept is None else int(kept.sum())  # the rows the mean is over
        device = hidden.device.type
        with autocast_disabled(device):
            h, w, b = hidden.to(dtype), weight.to(dtype), bias.to(dtype)
            grad_h = torch.empty_like(h) if need_h else None
            exact = torch.promote_types(dtype, torch.float32)  # the softmax's and sums' dtype
            zeros = {"dtype": exact, "device": weight.device}
            grad_w = torch.zeros(weight.shape, **zeros) if need_w else None
            grad_b = torch.zeros(classes, **zeros) if need_b else None
            total = torch.zeros((), dtype=exact, device=hidden.device)
            budget = CHUNK_LOGITS if device == "cpu" else DEVICE_CHUNK_LOGITS
            step = max(MIN_ROWS, budget // max(classes, 1))
            for start in range(0, rows, step):
                end = min(start + step, rows)
                h_chunk, y = h[start:end], targets[start:end][:, None]
                dropped = None if kept is None else ~kept[start:end, None]  # (n, 1)
                if dropped is not None:
                    y = y.masked_fill(dropped, 0)  # any class: the row's loss and grads are 0
                logits = torch.addmm(b, h_chunk, w.t()).to(exact)  # (n, V)
                # per row: (1 - eps) (lse - z_y) + eps (lse - mean z), lse = log sum exp z
                target_part = logits.gather(1, y).mul_(1 - eps)
                if eps:
                    target_part += logits.sum(1, keepdim=True).mul_(eps / classes)
                top = logits.amax(1, keepdim=True)
                probs = logits.sub_(top).exp_()  # in place: the logits are not needed again
                sums = probs.sum(1, keepdim=True)
                row_loss = top + sums.log() - target_part
                if dropped is not None:
                    row_loss = row_loss.masked_fill(dropped, 0.0)
                total += row_loss.sum()
                if not (need_h or need_w or need_b):
                    continue
                # d(mean loss)/d logits = (softmax - (1 - eps) one-hot - eps / V) / count
                scale = 1.0 / max(count, 1)
                probs.div_(sums * max(count, 1))  # one pass: softmax / count
                if eps:
                    probs.sub_(eps * scale / classes)
                probs.scatter_add_(1, y, probs.new_full(y.shape, -(1 - eps) * scale))
                if dropped is not None:
                    probs.masked_fill_(dropped, 0.0)
                grad = probs.to(dtype)
                if need_h:
                    torch.mm(grad, w, out=grad_h[start:end])
                if need_w:
                    if dtype == exact:
                        grad_w.addmm_(grad.t(), h_chunk)
                    else:
                        grad_w += torch.mm(grad.t(), h_chunk)
                if need_b:
                    grad_b += probs.sum(0)
        ctx.save_for_backward(*(g for g in (grad_h, grad_w, grad_b) if g is not None))
        ctx.dtypes = hidden.dtype, weight.dtype, bias.dtype
        return total / count if count else total.new_tensor(float("nan"))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss: Tensor) -> tuple[Tensor | None, ...]:
        saved = iter(ctx.saved_tensors)
        grads = [
            next(saved).mul(grad_loss).to(dtype) if needed else None
            for needed, dtype in zip(ctx.needs_input_grad[:3], ctx.dtypes, strict=True)
        ]
        return (*grads, None, None, None, None, None)
