"""linear_cross_entropy against F.cross_entropy(F.linear(...)): values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.nn import linear_cross_entropy as lce
from rnnkit.nn.linear_cross_entropy import linear_cross_entropy


def _inputs(rows: int, features: int, classes: int, dtype=torch.float32, bias: bool = True):
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(rows, features, generator=gen, dtype=dtype).requires_grad_()
    weight = (torch.rand(classes, features, generator=gen, dtype=dtype) - 0.5).requires_grad_()
    b = (torch.rand(classes, generator=gen, dtype=dtype) - 0.5).requires_grad_() if bias else None
    targets = torch.randint(0, classes, (rows,), generator=gen)
    return hidden, weight, b, targets


def _loss_and_grads(fn, hidden, weight, bias, targets):
    tensors = [t for t in (hidden, weight, bias) if t is not None]
    for t in tensors:
        t.grad = None
    loss = fn(hidden, weight, bias, targets)
    loss.backward()
    return [loss.detach()] + [t.grad.clone() for t in tensors]


def _reference(hidden, weight, bias, targets):
    logits = F.linear(hidden, weight, bias)
    return F.cross_entropy(logits.to(torch.promote_types(logits.dtype, torch.float32)), targets)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_the_unfused_loss_and_gradients_over_chunks(monkeypatch, dtype, bias) -> None:
    monkeypatch.setattr(lce, "CHUNK_LOGITS", 1)  # MIN_ROWS rows a chunk: 300 rows = 3 chunks
    inputs = _inputs(300, 24, 37, dtype, bias)
    ours = _loss_and_grads(linear_cross_entropy, *inputs)
    theirs = _loss_and_grads(_reference, *inputs)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(("device", "chunks"), [("cpu", 50), ("meta", 2)])
def test_chunks_are_larger_off_the_cpu(monkeypatch, device: str, chunks: int) -> None:
    """64 x 100 tokens, V = 10,000: 50 chunks of 128 rows on the CPU; off it (the meta device
    stands in for a GPU here, with shapes and no numbers) 2, of DEVICE_CHUNK_LOGITS // V rows."""
    rows = []
    addmm = torch.addmm
    monkeypatch.setattr(torch, "addmm", lambda *a, **k: rows.append(a[1].shape[0]) or addmm(*a, **k))
    hidden = torch.zeros(6400, 4, device=device, requires_grad=True)
    weight = torch.zeros(10_000, 4, device=device, requires_grad=True)
    targets = torch.zeros(6400, dtype=torch.long, device=device)
    loss = linear_cross_entropy(hidden, weight, None, targets)
    loss.backward()
    assert len(rows) == chunks and sum(rows) == 6400
    assert loss.shape == () and hidden.grad.shape == hidden.shape
    if device == "meta":
        assert rows[0] == lce.DEVICE_CHUNK_LOGITS // 10_000


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("ignore_index", [None, 0, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ignore_index_and_label_smoothing_as_torch(monkeypatch, dtype, ignore_index, smoothing):
    """torch's semantics over 3 chunks: ignored rows count for nothing (the mean is over the
    others), the target distribution (1 - eps) one-hot + eps / V; values and every gradient."""
    monkeypatch.setattr(lce, "CHUNK_LOGITS", 1)  # MIN_ROWS rows a chunk
    hidden, weight, bias, targets = _inputs(300, 24, 37, dtype)
    targets[::4] = 3  # a quarter of the rows with class 3 (ignored when ignore_index is 3)
    targets[1::5] = 0
    options = {"label_smoothing": smoothing}
    if ignore_index is not None:
        options["ignore_index"] = ignore_index

    def ours(h, w, b, y):
        return linear_cross_entropy(h, w, b, y, **options)

    def theirs(h, w, b, y):
        return F.cross_entropy(F.linear(h, w, b), y, **options)

    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    for a, b in zip(
        _loss_and_grads(ours, hidden, weight, bias, targets),
        _loss_and_grads(theirs, hidden, weight, bias, targets),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance)


def test_every_row_ignored_gives_nan_and_zero_gradients_as_torch() -> None:
    hidden, weight, bias, targets = _inputs(20, 8, 11)
    targets.fill_(2)
    loss = linear_cross_entropy(hidden, weight, bias, targets, ignore_index=2)
    reference = F.cross_entropy(F.linear(hidden, weight, bias), targets, ignore_index=2)
    assert loss.isnan() and reference.isnan()
    loss.backward()
    assert not hidden.grad.any() and not weight.grad.any() and not bias.grad.any()


@pytest.mark.parametrize(
    ("targets", "options", "error"),
    [
        (torch.tensor([0, 9, 1]), {}, IndexError),
        (torch.tensor([0, -3, 1]), {"ignore_index": -100}, IndexError),
        (torch.tensor([0.0, 1.0, 1.0]), {}, RuntimeError),
    ],
    ids=["above V", "negative", "float"],
)
def test_targets_torch_refuses_are_refused_with_its_exception_types(targets, options, error):
    hidden, weight, bias, _ = _inputs(3, 4, 5)
    with pytest.raises(error) as theirs:
        F.cross_entropy(F.linear(hidden, weight, bias), targets, **options)
    with pytest.raises(error, match=str(theirs.value).split()[0]):
        linear_cross_entropy(hidden, weight, bias, targets, **options)


def test_an_ignored_target_may_be_any_number() -> None:
    hidden, weight, bias, _ = _inputs(3, 4, 5)
    targets = torch.tensor([0, -100, 4])
    torch.testing.assert_close(
        linear_cross_entropy(hidden, weight, bias, targets, ignore_index=-100),
        F.cross_entropy(F.linear(hidden, weight, bias), targets),
    )


def test_a_smoothing_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="label_smoothing"):
        linear_cross_entropy(*_inputs(4, 3, 5), label_smoothing=1.5)


def test_under_bf16_autocast_agrees_within_bf16_rounding() -> None:
    inputs = _inputs(256, 32, 500)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = _loss_and_grads(linear_cross_entropy, *inputs)
        theirs = _loss_and_grads(_reference, *inputs)
    exact = _loss_and_grads(_reference, *inputs)  # fp32
    for a, b, c in zip(ours, theirs, exact, strict=True):
        assert a.dtype == b.dtype  # fp32 loss, the parameters' dtype for gradients
        scale = c.abs().max()
        assert (a - c).abs().max() <= 0.02 * scale
        assert (b - c).abs().max() <= 0.02 * scale


def test_only_the_needed_gradients() -> None:
    hidden, weight, bias, targets = _inputs(50, 8, 11)
    weight.requires_grad_(False)
    linear_cross_entropy(hidden, weight, bias, targets).backward()
    assert weight.grad is None and hidden.grad is not None and bias.grad is not None
    expected = torch.autograd.grad(_reference(hidden, weight, bias, targets), hidden)[0]
    torch.testing.assert_close(hidden.grad, expected)


def test_the_loss_gradient_scales_the_result() -> None:
    inputs = _inputs(40, 8, 11)
    (3.0 * linear_cross_entropy(*inputs)).backward()
    hidden_grad = inputs[0].grad.clone()
    inputs[0].grad = None
    (3.0 * _reference(*inputs)).backward()
    torch.testing.assert_close(hidden_grad, inputs[0].grad)


def test_shapes_are_checked() -> None:
    hidden, weight, bias, targets = _inputs(10, 4, 5)
    with pytest.raises(ValueError, match="targets"):
        linear_cross_entropy(hidden, weight, bias, targets[:9])


@pytest.mark.parametrize("tie", [False, True])
def test_language_model_with_targets_returns_the_mean_cross_entropy(tie) -> None:
    torch.manual_seed(0)
    config = LanguageModelConfig(cell="lstm", num_layers=1, hidden_size=16, embedding_size=16,
                                 vocab_size=40, dropout=0.0, tie_weights=tie)  # fmt: skip
    model = LanguageModel(config)
    ids = torch.randint(0, 40, (3, 7))
    targets = torch.randint(0, 40, (3, 7))
    loss, state = model(ids, targets=targets)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    logits, state_ref = model(ids)
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(state, state_ref)
    for a, b in zip(grads, torch.autograd.grad(expected, list(model.parameters())), strict=True):
        torch.testing.assert_close(a, b)


def test_language_model_refuses_targets_of_another_shape_by_name() -> None:
    from rnnkit.errors import ShapeMismatchError

    model = LanguageModel(LanguageModelConfig(vocab_size=20, hidden_size=8, embedding_size=4))
    ids = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ShapeMismatchError, match=r"targets=\(2, 4\): expected ids' shape"):
        model(ids, targets=ids[:, 1:])


def test_without_grad_mode_no_gradient_is_computed(monkeypatch) -> None:
    inputs = _inputs(20, 8, 11)
    calls = []
    monkeypatch.setattr(torch, "mm", lambda *a, **k: calls.append(1))  # the gradient products
    with torch.no_grad():
        loss = linear_cross_entropy(*inputs)
    assert not calls
    torch.testing.assert_close(loss, _reference(*inputs).detach())
