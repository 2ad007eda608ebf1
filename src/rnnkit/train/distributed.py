"""Data-parallel training under ``torchrun``: process group, sharding, collectives.

::

    torchrun --nproc-per-node 2 -m rnnkit train lm --corpus shakespeare --steps 2000
    torchrun --nproc-per-node 4 -m rnnkit train classify --train train.csv --epochs 3

torchrun starts N processes and sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT in each;
:func:`init_from_env` joins them into one process group (gloo on the CPU, nccl on GPUs, one
GPU per process: ``cuda:LOCAL_RANK``). Without those variables (a plain ``rnnkit`` or
``python`` run) everything here is a no-op for a world of one, so the Trainer and the tasks
call these helpers unconditionally.

``batch_size`` stays the **global** batch: each of the N processes trains on its share of
every batch (B/N texts, or B/N of the language model's streams), the gradients are averaged
across processes by DistributedDataParallel, and one optimizer step sees the same B examples
a single process would. The learning rate therefore needs no rescaling, and the weights equal
a single-process run's up to float summation order (see docs/distributed.md).
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.errors import InvalidArgumentError, invalid

logger = logging.getLogger("rnnkit.train")
T = TypeVar("T")
S = TypeVar("S", bound=Sequence | Tensor)  # anything sliced by [a:b]


@dataclass(frozen=True)
class Context:
    """This process's place in the job: rank in 0..world_size-1, and its local rank."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, logs and the console."""
        return self.rank == 0


def context() -> Context:
    """The current process group's context (a world of one when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Context()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return Context(dist.get_rank(), dist.get_world_size(), local)


def _env_int(name: str, default: int, lo: int, hi: int | None = None, why: str = "") -> int:
    """The environment variable ``name`` as an int in [lo, hi] (``default`` when unset or
    empty); anything else is an InvalidArgumentError naming the variable and its value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    expected = f"an int in [{lo}, {hi}]" if hi is not None else f"an int >= {lo}"
    expected += why or " (torchrun sets it; unset it for a run of one process)"
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, os.environ[name], expected) from None
    if value < lo or (hi is not None and value > hi):
        raise invalid(name, os.environ[name], expected)
    return value


def environment() -> Context:
    """This process's place as torchrun's variables give it: RANK in 0..WORLD_SIZE-1,
    LOCAL_RANK >= 0 (a world of one when they are unset). A variable that is not such an int
    is an InvalidArgumentError naming it, before any process group waits for its peers."""
    world = _env_int("WORLD_SIZE", 1, 1)
    unset = not os.environ.get("WORLD_SIZE", "").strip()
    rank = _env_int("RANK", 0, 0, world - 1, " (WORLD_SIZE is unset: one process)" if unset
                    else f" (below WORLD_SIZE={world})")  # fmt: skip
    local = _env_int("LOCAL_RANK", 0, 0)
    return Context(rank, world, local)


def launched() -> bool:
    """True when torchrun (or another launcher) started this process as one of several."""
    return environment().world_size > 1


def init_from_env(device: torch.device) -> tuple[Context, torch.device]:
    """Join the torchrun job (once); return the context and this process's device.

    On CUDA each process takes ``cuda:LOCAL_RANK`` and the nccl backend; on the CPU, gloo.
    """
    env = environment()
    if env.world_size == 1:
        return Context(), device
    if not dist.is_initialized():
        for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):  # torch's env:// rendezvous
            if not os.environ.get(name, "").strip():
                raise invalid(name, None, f"a value with WORLD_SIZE={env.world_size}, as torchrun "
                              "sets it: start the processes with torchrun, or unset WORLD_SIZE")  # fmt: skip
        _env_int("MASTER_PORT", 0, 1, 65535)
    if device.type == "cuda":
        visible = torch.cuda.device_count()
        if env.local_rank >= visible:  # torch.cuda.set_device would fail with a traceback
            raise invalid("LOCAL_RANK", env.local_rank, f"an int in [0, {visible - 1}]: one of "
                          f"the {visible} CUDA GPUs visible here (one process per GPU: "
                          "torchrun --nproc-per-node at most the GPU count)")  # fmt: skip
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(_shutdown)
        logger.info("rank %d of %d on %s", dist.get_rank(), dist.get_world_size(), device)
    return context(), device


def _shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when several processes train, else itself."""
    if not context().active:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return _DDP(model, device_ids=ids)


class _DDP(DistributedDataParallel):
    """DDP that also answers the wrapped model's own attributes (``loss``, ``config``...)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def seed_rank(seed: int) -> None:
    """Give ranks > 0 their own torch generator stream (dropout masks), derived from ``seed``.

    Every rank starts from the same seed, so the initial weights agree; without this, each
    rank would then draw the very same dropout masks for its different examples. Rank 0 keeps
    the stream a single process has.
    """
    rank = context().rank
    if rank > 0:
        torch.manual_seed(seed + 7919 * rank)


def check_same_out(out: Path) -> None:
    """Every rank must write to (and resume from) the same run directory.

    Raises:
        InvalidArgumentError: naming the directories of the ranks, on every rank.
    """
    if not context().active:
        return
    seen = all_gather(str(out.resolve()))
    other = next((r for r, path in enumerate(seen) if path != seen[0]), None)
    if other is not None:
        raise InvalidArgumentError(
            f"--out differs between processes: rank 0 {seen[0]}, rank {other} {seen[other]}; "
            "expected the same --out directory on every torchrun process"
        )


def all_gather(value: T) -> list[T]:
    """``[value of rank 0, value of rank 1, ...]`` on every rank (picklable values)."""
    if not context().active:
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def barrier() -> None:
    """Wait for every rank (no-op for one process)."""
    if context().active:
        dist.barrier()


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is True on at least one (agreeing on when to stop)."""
    if not context().active:
        return flag
    value = _collective_tensor([float(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _collective_tensor(values: list[float]) -> Tensor:
    """float64 values where the backend reduces them: the CPU for gloo, this GPU for nccl."""
    on_gpu = dist.get_backend() == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else None
    return torch.tensor(values, dtype=torch.float64, device=device)


def loss_share(count: int) -> float:
    """Factor on this rank's mean loss so that DDP's gradient average is the global mean.

    DDP averages gradients over N ranks; with ``count`` examples here out of ``total``, the
    global mean loss is sum_r(count_r * mean_r) / total, so each rank scales by N*count/total
    (1.0 when every rank has the same count, and for one process).
    """
    ctx = context()
    if not ctx.active:
        return 1.0
    total = _collective_tensor([count])
    dist.all_reduce(total)
    return ctx.world_size * count / float(total.item())


def shard(items: S, min_size: int = 1) -> S | None:
    """This rank's contiguous share of ``items`` (a slice; sizes differ by at most one).

    None when ``items`` holds fewer than ``min_size`` elements per rank: every rank gets None
    then, so all of them take the same fallback (skip a batch, or use the whole set).
    """
    ctx = context()
    if len(items) < min_size * ctx.world_size:
        return None
    n, r, world = len(items), ctx.rank, ctx.world_size
    return items[n * r // world : n * (r + 1) // world]


def row_slice(batch_size: int) -> slice:
    """This rank's rows of a (B, ...) batch whose B streams are split evenly between ranks.

    Raises:
        InvalidArgumentError: B is not a multiple of the number of processes.
    """
    ctx = context()
    if batch_size % ctx.world_size:
        raise invalid("batch_size", batch_size,
                      f"a multiple of the {ctx.world_size} torchrun processes (the global batch "
                      "is split evenly between them)")  # fmt: skip
    rows = batch_size // ctx.world_size
    return slice(ctx.rank * rows, (ctx.rank + 1) * rows)


def gather_rows(rows: Tensor) -> Tensor:
    """Concatenate every rank's (N_r, ...) tensor in rank order -> (sum N_r, ...), on the CPU."""
    parts = all_gather(rows.cpu())
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def weighted_mean(value: float, weight: float) -> float:
    """sum_r(weight_r * value_r) / sum_r(weight_r) over ranks (``value`` for one process)."""
    if not context().active:
        return value
    pair = _collective_tensor([value * weight, weight])
    dist.all_reduce(pair)
    return float(pair[0] / pair[1])


def pick_rank_state(states: list[T], what: str) -> T:
    """This rank's entry of a per-rank list saved by a run of the same world size.

    Raises:
        InvalidArgumentError: the saved run had another number of processes.
    """
    ctx = context()
    if len(states) != ctx.world_size:
        raise InvalidArgumentError(
            f"--resume: the run was saved by {len(states)} processes, this is {ctx.world_size};"
            f" expected the same --nproc-per-node to resume {what} exactly"
        )
    return states[ctx.rank]
