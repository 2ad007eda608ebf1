"""Bag of word n-grams: each text's mean n-gram vector, the classifier's second channel.

Dimensions: B batch, T time (padded), V vocabulary, N the longest n-gram, D vector size,
U = T + (T-1) + ... + (T-N+1) bag slots per text.

    ids (B, T), lengths (B,) ──the words' ids, and each n-gram (2..N) hashed into a bucket──▶
        bag ids (B, U), 0 where the n-gram runs past the text's length
        ──Embedding(V + buckets, D), mean over each text's real n-grams──▶ (B, D)

This is fastText's classifier input (Joulin et al. 2017): word and hashed word-n-gram vectors,
averaged. It sees word order only within an n-gram, which is what an RNN is slowest to learn
from a few thousand examples ("not good", "waste of"), so the classifier joins the two: the
bag vector is concatenated to the pooled recurrent features before the dropout and the output
layer.

Every row starts at zero (the output layer's random weights break the symmetry), so a word
or n-gram that no training text holds keeps a zero row and adds nothing at prediction, where
a random start would add noise: a word of the pretrained vectors' vocabulary that training
never saw, a bigram first met in a test text (unless its bucket is a trained one's too). It
still counts in the mean.

The hash of an n-gram (w_1, ..., w_n) of token ids is ``h = w_1``, then ``h = (h * 1_000_003
+ w_k) mod buckets`` for k = 2..n, and its row is ``V + h``: rows 0..V-1 are the words (row
0, ``<pad>``, is padding: never averaged, never trained), rows V.. the buckets. It is part
of what a saved model means, so it never changes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

HASH_MULTIPLIER = 1_000_003  # a prime; the n-gram hash's multiplier (see the module docstring)


def ngram_bag_ids(
    ids: Tensor, lengths: Tensor, ngrams: int, vocab_size: int, buckets: int
) -> Tensor:
    """Bag ids (B, U) of ids (B, T) and lengths (B,): the ids, then each order's hashed n-grams.

    Row ``V + hash`` for an n-gram (module docstring), 0 for a word or n-gram that does not
    lie wholly within its text's first ``lengths`` tokens, whatever the ids there hold.
    """
    time = ids.shape[1]
    lengths = lengths.to(ids.device)
    steps = torch.arange(time, device=ids.device)  # (T,)
    parts = [ids.masked_fill(steps[None, :] >= lengths[:, None], 0)]
    for n in range(2, min(ngrams, time) + 1):
        count = time - n + 1  # n-grams starting at steps 0..count-1
        hashed = ids[:, :count]
        for k in range(1, n):
            hashed = (hashed * HASH_MULTIPLIER + ids[:, k : count + k]) % buckets
        beyond = steps[None, n - 1 :] >= lengths[:, None]  # (B, count): ends after the text
        parts.append((hashed + vocab_size).masked_fill(beyond, 0))
    return torch.cat(parts, dim=1)


class NgramBag(nn.Module):
    """forward(ids (B, T), lengths (B,)) -> (B, D): the mean vector of each text's word and
    hashed word-n-gram (orders 2..``ngrams``) rows, zero for a text of padding only; see the
    module docstring."""

    def __init__(self, vocab_size: int, ngrams: int, buckets: int, dim: int) -> None:
        super().__init__()
        self.vocab_size, self.ngrams, self.buckets = vocab_size, ngrams, buckets
        rows = vocab_size + (buckets if ngrams > 1 else 0)
        # An Embedding and a masked mean rather than an EmbeddingBag, which ONNX export
        # refuses with a padding_idx and which measured no faster here.
        self.vectors = nn.Embedding(rows, dim, padding_idx=0)
        nn.init.zeros_(self.vectors.weight)  # untrained rows add nothing (module docstring)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        bag_ids = ngram_bag_ids(ids, lengths, self.ngrams, self.vocab_size, self.buckets)
        count = (bag_ids != 0).sum(1, keepdim=True)  # (B, 1): each text's real n-grams
        # An empty text (one padding step) has none: its sum, all padding rows, is zero.
        return self.vectors(bag_ids).sum(1) / count.clamp_min(1)  # (B, D)

    def token_shares(self, ids: Tensor, direction: Tensor) -> Tensor:
        """Each token's share (T,) of ``forward(ids) · direction`` for one text ids (T,), all
        of it real: an n-gram's part (its row · direction / the text's n-gram count) is split
        equally among its n words, so the shares add up to the whole. direction: (D,)."""
        time = ids.shape[0]
        bag_ids = ngram_bag_ids(ids[None], ids.new_tensor([time]), self.ngrams,
                                self.vocab_size, self.buckets)[0]  # (U,)  # fmt: skip
        parts = self.vectors(bag_ids) @ direction.to(self.vectors.weight.dtype)  # (U,)
        parts = parts / (bag_ids != 0).sum().clamp_min(1)  # as forward's mean
        shares = parts.new_zeros(time)
        start = 0
        for n in range(1, min(self.ngrams, time) + 1):
            count = time - n + 1  # the order's n-grams, starting at steps 0..count-1
            for k in range(n):
                shares[k : k + count] += parts[start : start + count] / n
            start += count
        return shares
