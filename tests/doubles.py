"""Test doubles shared by several test files (importable as `doubles`: pytest adds tests/ to
sys.path). LineTask: a tiny Task for Trainer tests, regression of y = x @ w on fixed points."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn


class LineTask:
    """y = x @ w on ``points`` fixed (4,) inputs, ``batches`` equal batches an epoch; no state,
    vocabulary or run sections. Subclasses script validation or training."""

    name, metric, maximize, unit = "line", "val_loss", False, "ex"

    def __init__(self, points: int = 32, batches: int = 4) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(points, 4, generator=generator)
        self.y = self.x @ torch.randn(4, 1, generator=generator)
        self.batches, self.size = batches, points // batches

    def batches_per_epoch(self) -> int:
        return self.batches

    def train_batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        for i in range(start, self.batches):
            yield self.x[self.size * i : self.size * (i + 1)], self.y[self.size * i : self.size * (i + 1)]

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        x, y = batch
        return ((model(x).float() - y) ** 2).mean(), len(x)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return {"val_loss": float(((model(self.x) - self.y) ** 2).mean())}

    state_dict = vocab = run_sections = staticmethod(dict)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        assert not state
