"""Scratch buffers reused across calls, for the wavefront's per-step rows and gradients.

Each forward and backward of :mod:`rnnkit.nn.wavefront` fills buffers of (T + L, B, L*H) numbers
(5.4 MB in the IMDB seed). Allocated afresh, a buffer that size came from new pages on most
calls here (glibc hands large blocks back to the kernel), and the first write to each 4 KiB
page costs a fault: about 1 ms a buffer on these VMs (profiled: a 5.4 MB fill took 1.1 ms
fresh, 0.14 ms reused), and reusing them made the IMDB seed's two-layer forward and backward
8-17% faster (two A/B runs, same process). torch has no caching allocator on the CPU, so the
wavefront keeps one buffer per role, thread and inference mode, and takes it again when
nothing else refers to it: no other Python name, no graph that saved it for backward, no view,
no other tensor on its memory. A buffer still in use is left alone and a new one made.

The check reads Python's and torch's reference counts (``Tensor._use_count`` and the
storage's); torch's are private: tests/nn/test_workspace.py pins what they report, so a torch
that counts otherwise fails there rather than reusing memory that is still read. Without them
nothing is reused. Buffers over :data:`MAX_BYTES` are never kept (at most 4 x 64 MiB stay
allocated per thread and mode: the rows, their gradient, the pre-activation gradient and
the time-first copy of the input; two more after bf16 products under autocast, whose
backward casts two of them to bf16).
"""

from __future__ import annotations

import sys
import threading

import torch
from torch import Tensor

MAX_BYTES = 64 * 2**20

_kept = threading.local()  # (role, inference mode) -> the buffer last handed out for it here


def buffer(role: str, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    """An uninitialised CPU tensor of ``shape`` and ``dtype`` for ``role``: the one kept for
    that role when it has that shape and dtype and is free (see the module docstring), else
    a new one, kept in its place unless it is larger than :data:`MAX_BYTES`.

    Inside ``torch.inference_mode`` a buffer is an inference tensor, which autograd cannot
    save and which cannot be written outside that mode: the two modes keep separate buffers.
    """
    kept = getattr(_kept, "buffers", None)
    if kept is None:
        kept = _kept.buffers = {}
    key = (role, torch.is_inference_mode_enabled())
    previous = kept.pop(key, None)
    if (
        previous is not None
        and previous.shape == shape
        and previous.dtype == dtype
        and free(previous)
    ):
        kept[key] = previous
        return previous
    del previous  # dropped before allocating: its pages can serve the new one
    fresh = torch.empty(shape, dtype=dtype, device="cpu")  # whatever the default device
    if fresh.numel() * fresh.element_size() <= MAX_BYTES:
        kept[key] = fresh
    return fresh


def free(tensor: Tensor) -> bool:
    """True when nothing but the caller's one name holds ``tensor`` or its memory: no other
    Python reference, no graph that saved it, no view or other tensor on its storage. False
    where torch cannot say."""
    if sys.getrefcount(tensor) > _ONE_NAME:
        return False
    try:
        storage_refs = torch._C._storage_Use_Count(tensor.untyped_storage()._cdata)
        return tensor._use_count() == 1 and storage_refs == 2  # 2: untyped_storage()'s own
    except (AttributeError, RuntimeError):
        return False


def _python_refs(tensor: Tensor) -> int:
    return sys.getrefcount(tensor)


# what sys.getrefcount says in free() for a tensor its caller holds by one name (measured:
# the count differs between Python versions)
_ONE_NAME = (lambda held: _python_refs(held))(torch.empty(0))
