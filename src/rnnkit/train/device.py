"""Device and precision choice shared by every command (``--device``, ``--precision``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.nn import precision

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
PRECISION_NAMES = {dtype: name for name, dtype in DTYPES.items()}  # what a run records


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' picks CUDA when present, else the CPU; 'cuda' without a GPU is an error.
    A ``torch.device`` is taken by its name."""
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise invalid("device", name, "a str: auto, cpu, cuda or cuda:N", ArgumentTypeError)
    if name not in DEVICES and not name.startswith("cuda:"):
        raise invalid("device", name, "auto, cpu, cuda or cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise invalid("device", name, "cpu or auto: no CUDA GPU is visible to torch here")
    return torch.device(name)


def resolve_precision(
    name: str, device: torch.device, probe: tuple[str, Callable[[bool], object]] | None = None
) -> torch.dtype:
    """fp32, bf16 or fp16 autocast.  'auto' = bf16 on a GPU that supports it, fp16 on a GPU
    without bf16 (e.g. V100, T4; the Trainer's ``torch.amp.GradScaler`` scales the loss and a
    resume restores its state); on the CPU, bf16 when a short measurement shows training
    faster under it: of ``probe`` = (key, step), the run's own training step
    (:func:`rnnkit.nn.precision.bf16_step_faster`), or without one of a small LSTM model
    (:func:`rnnkit.nn.precision.bf16_training_faster`); cached per machine. Master weights
    stay fp32 either way.
    """
    if name not in PRECISIONS:
        raise invalid("precision", name, "auto, fp32, bf16 or fp16")
    if name in DTYPES:
        return DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    faster = precision.bf16_step_faster(*probe) if probe else precision.bf16_training_faster()
    return torch.bfloat16 if faster else torch.float32


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Autocast to ``dtype`` on ``device`` (a no-op for fp32)."""
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
