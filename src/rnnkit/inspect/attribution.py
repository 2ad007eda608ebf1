"""Per-token attribution of a classifier's prediction: integrated gradients on the embeddings.

Integrated gradients (Sundararajan, Taly & Yan 2017) of F = log p(target class) with respect to
the embedded tokens x (T, E), from the baseline x' = 0 (every token an all-zero vector)::

    attribution_t = sum_e x_te * (1/S) sum_{k=1..S} dF/dx_te (x * (k - 1/2) / S)

(the midpoint rule with S steps). A classifier with an n-gram bag (``ngrams``) has a second
input, the bag's mean vector b (D,); it is scaled along with x (its baseline is 0 too), its
attribution b · (mean gradient) is shared among the n-grams by their rows and each n-gram's
part split equally among its words (:meth:`rnnkit.models.ngrams.NgramBag.token_shares`). By
completeness the attributions add up to
F(x) - F(0) up to the quadrature error, which :func:`integrated_gradients` returns beside them
so that the page can show how well they add up. The S scaled copies run as one batch through
the classifier's own forward (its fused recurrent kernels): S forward and backward passes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from rnnkit.models.classifier import TextClassifier
from rnnkit.validation import check_int

MAX_IG_STEPS = 1000  # the S + 2 scaled copies run as one batch: memory grows with S * T


def method(model: TextClassifier, steps: int) -> str:
    """How :func:`integrated_gradients` attributes ``model``'s predictions, in one line."""
    baseline = "zero-embedding" + ("" if model.ngram_bag is None else " and zero n-gram-bag")
    return f"integrated gradients, {baseline} baseline, {steps} steps, on log p(class)"


def integrated_gradients(
    model: TextClassifier, ids: Tensor, target: int, steps: int = 32
) -> tuple[np.ndarray, float, float]:
    """Attribution (T,) of each token of ``ids`` (T,) toward log p(``target``), and
    (F(x), F(0)): the log-probability of the text and of the all-zero baseline.

    The model must be in eval mode (dropout off); its parameters get no gradients.
    """
    check_int("steps", steps, 1, MAX_IG_STEPS)
    device = next(model.parameters()).device
    alphas = torch.cat([(torch.arange(steps) + 0.5) / steps, torch.tensor([0.0, 1.0])])
    alphas = alphas.to(device)  # (S + 2,): midpoints, then the baseline and the text itself
    count, time = alphas.numel(), ids.numel()
    inputs: list[Tensor] = []  # each scaled input: the embedded tokens, then the bag vector

    def scale(_module: torch.nn.Module, _inputs: object, value: Tensor) -> Tensor:
        alpha = alphas.reshape(-1, *[1] * (value.dim() - 1))  # (S + 2, 1, ...)
        inputs.append((alpha * value.detach()).requires_grad_())
        return inputs[-1]

    bag = model.ngram_bag
    hooked = [model.embedding] + ([] if bag is None else [bag])
    handles = [module.register_forward_hook(scale) for module in hooked]
    try:  # cuDNN's RNN backward refuses eval mode, the native kernels do not
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            batch = ids.to(device).reshape(1, time).expand(count, time)
            logits = model(batch, torch.full((count,), time, dtype=torch.long))  # (S + 2, K)
            log_p = model.probabilities(logits).clamp_min(1e-30).log()[:, target]  # (S + 2,)
            grads = torch.autograd.grad(log_p.sum(), inputs)
    finally:
        for handle in handles:
            handle.remove()
    x = inputs[0][-1].detach()  # (T, E): alpha 1, the text itself
    attribution = (x * grads[0][:steps].mean(0)).sum(-1)  # (T,)
    if bag is not None:
        with torch.no_grad():
            attribution += bag.token_shares(batch[0], grads[1][:steps].mean(0))
    log_p = log_p.detach()
    return attribution.cpu().double().numpy(), float(log_p[-1]), float(log_p[-2])
