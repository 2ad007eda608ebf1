"""Batches of token ids: language-model streams for truncated BPTT, and length buckets.

Language models (``LMStream``) read one long sequence of ids as ``B`` parallel streams, one
window of ``seq_len`` steps at a time, so the hidden state of row ``b`` can be carried from
one batch to the next (truncated back-propagation through time). Classifiers
(``BucketBatcher`` + ``collate``) group texts of similar length so that little of each
``(B, T)`` batch is padding.

Usage::

    stream = LMStream(ids, batch_size=32, seq_len=64)
    for x, y in stream.batches(start=k):     # x, y: (B, T) LongTensor, y = x shifted by one
        ...
    batcher = BucketBatcher([len(t) for t in texts], batch_size=32, seed=0)
    batcher.set_epoch(epoch)
    for idx in batcher:
        tokens, lengths = collate([texts[i] for i in idx], pad_id=0)  # (B, T), (B,)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import invalid
from rnnkit.text.padding import truncate


def _as_ids(ids: Tensor | Sequence[int]) -> Tensor:
    """Return ``ids`` as a 1-D int64 tensor (on its own device), or raise."""
    tensor = torch.as_tensor(ids)
    if tensor.dim() != 1 or (tensor.numel() and tensor.is_floating_point()):
        raise invalid("ids", f"tensor {tuple(tensor.shape)} {tensor.dtype}", "a 1-D integer tensor")
    return tensor.long()


class LMStream:
    """A 1-D id sequence cut into ``B`` contiguous streams, read ``seq_len`` steps at a time.

    As pytorch/examples' word_language_model ``batchify``, but batch-first. With 26 ids
    ``a..z``, ``batch_size=4`` and ``seq_len=2``: each stream gets ``26 // 4 = 6`` ids and the
    tail ``y z`` that would not fill a column is dropped::

                      time ─▶
        stream 0   │ a b │ c d │ e f │
        stream 1   │ g h │ i j │ k l │
        stream 2   │ m n │ o p │ q r │
        stream 3   │ s t │ u v │ w x │
                    batch0 batch1 batch2

        batch 0:  x = [[a b], [g h], [m n], [s t]]    y = [[b c], [h i], [n o], [t u]]
        batch 1:  x = [[c d], [i j], [o p], [u v]]    y = [[d e], [j k], [p q], [v w]]
        batch 2:  x = [[e],   [k],   [q],   [w]]      y = [[f],   [l],   [r],   [x]]

    ``y`` is ``x`` shifted by one step, so the last id of each stream is only ever a target
    and the last batch is shorter in time (here 1 step). Row ``b`` of batch ``i + 1``
    continues row ``b`` of batch ``i``: carry (and detach) the hidden state between them.
    Over an epoch the inputs cover every id of every stream except its last exactly once,
    in order.

    Args:
        ids: (N,) token ids; kept on its device (batches are slices of it).
        batch_size: B, the number of parallel streams; needs ``N // B >= 2``.
        seq_len: T, the truncation length of back-propagation through time.
    """

    def __init__(self, ids: Tensor | Sequence[int], batch_size: int, seq_len: int) -> None:
        ids = _as_ids(ids)
        if batch_size < 1:
            raise invalid("batch_size", batch_size, "an integer >= 1")
        if seq_len < 1:
            raise invalid("seq_len", seq_len, "an integer >= 1")
        stream_len = ids.numel() // batch_size
        if stream_len < 2:
            raise invalid(
                "ids",
                f"{ids.numel()} tokens",
                f"at least {2 * batch_size} tokens (2 per stream) for batch_size={batch_size}",
            )
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.stream_len = stream_len  # ids per stream, inputs and final target included
        self.data = ids[: batch_size * stream_len].view(batch_size, stream_len)  # (B, S)

    def __len__(self) -> int:
        """Number of batches per epoch: ``ceil((stream_len - 1) / seq_len)``."""
        return math.ceil((self.stream_len - 1) / self.seq_len)

    @property
    def tokens_used(self) -> int:
        """Ids kept after dropping the tail: ``B * stream_len``."""
        return self.data.numel()

    def batch(self, i: int) -> tuple[Tensor, Tensor]:
        """Return batch ``i`` as ``(x, y)``, both (B, T_i) with ``T_i <= seq_len``."""
        if not 0 <= i < len(self):
            raise invalid("i", i, f"a batch index in [0, {len(self)})")
        start = i * self.seq_len
        steps = min(self.seq_len, self.stream_len - 1 - start)
        x = self.data[:, start : start + steps]  # (B, T_i)
        y = self.data[:, start + 1 : start + 1 + steps]  # (B, T_i), next ids
        return x.contiguous(), y.contiguous()

    def batches(self, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield batches ``start, start + 1, ...`` in order (``start > 0`` resumes mid-epoch)."""
        if not 0 <= start <= len(self):
            raise invalid("start", start, f"a batch index in [0, {len(self)}]")
        for i in range(start, len(self)):
            yield self.batch(i)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self.batches(0)


def train_val_split_ids(ids: Tensor | Sequence[int], val_fraction: float) -> tuple[Tensor, Tensor]:
    """Split (N,) ids into a training head and a held-out validation tail.

    The tail holds ``round(N * val_fraction)`` ids, at least 2 when ``val_fraction > 0`` (one
    input and its target); ``val_fraction == 0`` gives an empty tail. Both parts are views.

    Raises:
        InvalidArgumentError: ``val_fraction`` outside [0, 1), or fewer than 2 ids would be
            left for training.
    """
    ids = _as_ids(ids)
    if not 0.0 <= val_fraction < 1.0:
        raise invalid("val_fraction", val_fraction, "a number in [0, 1)")
    n = ids.numel()
    n_val = round(n * val_fraction)
    if val_fraction > 0:
        n_val = max(n_val, 2)
    if n - n_val < 2:
        raise invalid(
            "ids", f"{n} tokens", f"enough tokens for val_fraction={val_fraction} (>= 2 each part)"
        )
    return ids[: n - n_val], ids[n - n_val :]


class BucketBatcher:
    """Batches of example indices whose lengths are close: "sort within chunks".

    Each epoch: shuffle all indices (seeded by ``seed`` and the epoch), cut them into chunks
    of ``batch_size * bucket_size_multiplier``, sort each chunk by length (stable), cut it
    into batches, then shuffle the order of the batches. Every index appears exactly once
    per epoch; only the very last batch may be smaller than ``batch_size``. The same
    ``(seed, epoch)`` gives the same batches.

    With ``shuffle=False`` nothing is random: all indices are sorted by length (stable, ties
    in index order) and batches come shortest first, which suits evaluation and prediction
    (restore the original order from the indices).

    Args:
        lengths: the length of each example (e.g. its token count); at least one.
        batch_size: B, the examples per batch.
        shuffle: randomise as above (training) or not (evaluation).
        seed: the base seed; combined with the epoch set by ``set_epoch``.
        bucket_size_multiplier: batches per sorted chunk; larger means less padding and
            less randomness.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        bucket_size_multiplier: int = 50,
    ) -> None:
        if len(lengths) == 0:
            raise invalid("lengths", list(lengths), "at least one example")
        if min(lengths) < 0:
            raise invalid("lengths", min(lengths), "lengths >= 0")
        if batch_size < 1:
            raise invalid("batch_size", batch_size, "an integer >= 1")
        if bucket_size_multiplier < 1:
            raise invalid("bucket_size_multiplier", bucket_size_multiplier, "an integer >= 1")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket_size_multiplier = bucket_size_multiplier
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose (reproducible) order the next iteration yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            yield from self._cut(order)
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths))
        chunk = self.batch_size * self.bucket_size_multiplier
        batches: list[list[int]] = []
        for start in range(0, len(order), chunk):
            piece = order[start : start + chunk]
            piece = piece[np.argsort(self.lengths[piece], kind="stable")]
            batches.extend(self._cut(piece))
        for j in rng.permutation(len(batches)):
            yield batches[j]

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        """Cut an index order into consecutive batches of ``batch_size``."""
        return [
            order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)
        ]


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Fraction of ``(B, T)`` slots that are padding when each batch pads to its longest.

    ``batches`` are lists of indices into ``lengths``; returns 0.0 when there are no slots.
    """
    padded = total = 0
    for batch in batches:
        lens = [lengths[i] for i in batch]
        slots = len(lens) * max(lens, default=0)
        total += slots
        padded += slots - sum(lens)
    return padded / total if total else 0.0


def collate(
    ids_list: Sequence[Sequence[int]], pad_id: int = 0, max_len: int | None = None
) -> tuple[Tensor, Tensor]:
    """Pad a list of id sequences into one batch.

    Each sequence is cut to its first ``max_len`` ids (when given) and padded on the right
    with ``pad_id`` to the longest one. An empty sequence becomes a single ``pad_id`` with
    length 1, so every length is >= 1 (recurrent layers cannot read zero steps); the model
    then sees one padding step for an empty text.

    Returns:
        tokens: (B, T) int64, ``T = max(lengths)``.
        lengths: (B,) int64, the true (truncated) length of each row.
    """
    if len(ids_list) == 0:
        raise invalid("ids_list", [], "at least one sequence")
    if max_len is not None and max_len < 1:
        raise invalid("max_len", max_len, "an integer >= 1 or None")
    rows = [row or [pad_id] for row in truncate(ids_list, max_len)]
    lengths = [len(row) for row in rows]
    width = max(lengths)
    tokens = torch.tensor([row + [pad_id] * (width - len(row)) for row in rows], dtype=torch.long)
    return tokens, torch.tensor(lengths, dtype=torch.long)
