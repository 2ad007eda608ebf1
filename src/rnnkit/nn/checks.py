"""Argument and input checks of the recurrent layers and cells, with torch.nn's exception types.

Each check refuses exactly what ``torch.nn.RNNBase`` / ``RNNCellBase`` refuse, and raises an
exception that is an instance of the type torch raises in the same situation (``TypeError``
for a wrong type, ``ValueError`` for a bad value or a wrong number of dimensions,
``RuntimeError`` for a size or dtype that does not fit, ``AttributeError`` for a state that is
not a tensor), with rnnkit's message naming the argument, the value and what was expected,
followed in parentheses by torch.nn's own sentence, whole (so tests, code and searches written
for torch's messages still find them; tested call by call in tests/nn/test_torch_errors.py and
tests/nn/test_torch_module_suite.py). The layers and cells call them in torch.nn's order.
Every one is also an :class:`rnnkit.errors.InvalidArgumentError` (a ``ValueError``).
Dimensions as in :mod:`rnnkit.nn.layers`.
"""

from __future__ import annotations

import numbers
import operator
import warnings

import torch
from torch import Tensor
from torch.autograd import forward_ad

from rnnkit.errors import (
    ArgumentTypeError,
    DeviceMismatchError,
    ShapeMismatchError,
    StateTypeError,
    invalid,
)

NONLINEARITIES = ("tanh", "relu")


def custom_functions_unsupported() -> bool:
    """True inside torch.func transforms (grad, vmap, jacrev) and forward-mode AD, which
    rnnkit's own autograd Functions (no setup_context, no jvp) cannot run under: torch's
    kernels serve those calls, as they serve torch.nn's."""
    return torch._C._are_functorch_transforms_active() or forward_ad._current_level >= 0


def batched_gradients(*grads: Tensor | None) -> bool:
    """True when a backward receives vmap's batched gradients (``torch.autograd.grad(...,
    is_grads_batched=True)``, ``jacobian(..., vectorize=True)``, gradcheck's batched check).
    Hand-written backwards that write into buffers (``out=``, in-place) cannot run on those;
    they then differentiate a replay of their forward in torch ops, as under create_graph."""
    functorch = torch._C._functorch  # autograd.grad batches with the legacy vmap
    return any(
        g is not None and (functorch.is_legacy_batchedtensor(g) or functorch.is_batchedtensor(g))
        for g in grads
    )


def check_devices(input: Tensor, states: list[Tensor], weights: list[Tensor]) -> None:
    """Every state, then every weight, on the input's device, checked as torch's recurrent
    kernels check them (RuntimeError, their sentence), before any path reads a value."""
    for what, name, tensors in (("hidden", "hx", states), ("parameter", "weights", weights)):
        for tensor in tensors:
            if tensor is not None and tensor.device != input.device:
                said = (f"Input and {what} tensors are not at the same device, found input tensor"
                        f" at {input.device} and {what} tensor at {tensor.device}")  # fmt: skip
                raise invalid(name, str(tensor.device), f"the input's device, {input.device} ({said})",
                              DeviceMismatchError)  # fmt: skip


def check_bool(name: str, value: object) -> None:
    """torch.nn refuses anything but a real bool for ``bias`` and ``batch_first`` (TypeError)."""
    if not isinstance(value, bool):
        got = type(value).__name__
        raise invalid(
            name, value, f"a bool ({name} should be of type bool, got: {got})", ArgumentTypeError
        )


def _integral(value: object) -> bool:
    """An int, or what Python takes as one (numpy integers, 0-d integer tensors: __index__)."""
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def check_size(
    name: str, value: object, minimum: int = 1, torch_says: str = "", strict: bool = False
) -> None:
    """An int >= minimum: TypeError for a non-int (bool, numpy and 0-d tensor integers count
    as ints unless ``strict``, as torch.nn checks only hidden_size's type, and a bool hidden
    size fails there in torch.empty),
    ValueError for a smaller value (``torch_says``: torch.nn's sentence for it, if not
    "NAME must be greater than zero")."""
    strict_int = isinstance(value, int) and not isinstance(value, bool)
    if not (strict_int if strict else _integral(value)):
        got = type(value).__name__
        raise invalid(
            name, value, f"an int >= {minimum} ({name} should be of type int, got: {got})",
            ArgumentTypeError,
        )  # fmt: skip
    if operator.index(value) < minimum:  # type: ignore[arg-type]
        said = torch_says or f"{name} must be greater than zero"
        raise invalid(name, value, f"an int >= {minimum} ({said})")


def check_cell_size(name: str, value: object) -> None:
    """torch.nn's cells take any int >= 0 (0 makes empty weights); a negative size is a
    RuntimeError there (from torch.empty), a non-int a TypeError."""
    if not _integral(value):  # torch.empty takes numpy and 0-d tensor integers too
        raise invalid(name, value, "an int >= 0", ArgumentTypeError)
    if operator.index(value) < 0:  # type: ignore[arg-type]
        raise invalid(name, value, "an int >= 0", ShapeMismatchError)


def check_layer_args(
    input_size: object, hidden_size: object, num_layers: object, bias: object,
    batch_first: object, dropout: object, proj_size: object, nonlinearity: object,
) -> None:  # fmt: skip
    """torch.nn.RNNBase's constructor checks (warning included), in its order."""
    if (
        not isinstance(dropout, numbers.Number)
        or isinstance(dropout, bool)
        or not 0 <= dropout <= 1  # type: ignore[operator]
    ):
        raise invalid(
            "dropout", dropout, "a probability in [0, 1] (dropout should be a number in range"
            " [0, 1] representing the probability of an element being zeroed)",
        )  # fmt: skip
    if dropout > 0 and num_layers == 1:  # type: ignore[operator]
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout"
            f" expects num_layers greater than 1, but got dropout={dropout} and num_layers=1",
            stacklevel=4,
        )
    check_bool("bias", bias)
    check_bool("batch_first", batch_first)
    check_size("input_size", input_size)
    check_size("hidden_size", hidden_size, strict=True)
    check_size("num_layers", num_layers)
    check_size("proj_size", proj_size, 0, "proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:  # type: ignore[operator]
        raise invalid(
            "proj_size", proj_size,
            f"an int < hidden_size={hidden_size} (proj_size has to be smaller than hidden_size)",
        )  # fmt: skip
    if nonlinearity not in NONLINEARITIES:
        raise invalid(
            "nonlinearity", nonlinearity,
            f"'tanh' or 'relu' (Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.)",
        )  # fmt: skip


def dtype_name(dtype: torch.dtype) -> str:
    """ATen's name of a dtype, as torch's kernel messages print it: "Float", "Double", "Long"."""
    return torch.empty((), dtype=dtype, device="meta").type().split(".")[-1].removesuffix("Tensor")


def check_dtype(input: Tensor, weight: Tensor) -> None:
    """Input and weights share a dtype, outside autocast (torch.nn: ValueError)."""
    if input.dtype != weight.dtype and not torch._C._is_any_autocast_enabled():
        raise invalid(
            "input", f"dtype {input.dtype}",
            f"the weights' dtype {weight.dtype} (RNN input dtype ({input.dtype}) does not match"
            f" weight dtype ({weight.dtype}). Convert input: input.to({weight.dtype}), or"
            f" convert model: model.to({input.dtype}))",
        )  # fmt: skip


def check_input_dims(input: Tensor, dims: tuple[int, ...], module: str, word: str = "") -> None:
    """``input.dim()`` in ``dims`` (ValueError) with torch.nn's sentence, which starts with the
    module's name ("GRU: Expected input to be 2D or 3D, got 4D instead"; ``word``: "tensor "
    where torch.nn.RNN says "got 4D tensor instead"). Not a tensor: torch.nn's AttributeError
    (it calls ``input.dim()``), a TypeError and ValueError too."""
    if not isinstance(input, Tensor):
        raise not_a_tensor("input", input, "dim")
    if input.dim() not in dims:
        shown = " or ".join(f"{d}-D" for d in dims)
        wanted = " or ".join(f"{d}D" for d in dims)
        said = f"{module}: Expected input to be {wanted}, got {input.dim()}D {word}instead"
        raise invalid("input", tuple(input.shape), f"a {shown} tensor ({said})")


def check_input_size(input: Tensor, input_size: int) -> None:
    """The input's last dimension is input_size (torch.nn: RuntimeError)."""
    if input.shape[-1] != input_size:
        raise invalid(
            "input", tuple(input.shape), f"last dimension input_size={input_size} (input.size(-1)"
            f" must be equal to input_size. Expected {input_size}, got {input.shape[-1]})",
            ShapeMismatchError,
        )  # fmt: skip


def check_state(
    name: str, state: Tensor, expected: tuple[int, ...], meaning: str, torch_name: str = ""
) -> None:
    """A state tensor of exactly the expected shape (torch.nn: RuntimeError); ``torch_name``
    ("hidden", "hidden[0]", ...) adds torch.nn's sentence ("Expected hidden size ...")."""
    if not isinstance(state, Tensor):
        raise invalid(name, type(state).__name__, "a tensor", ArgumentTypeError)
    if tuple(state.shape) != expected:
        said = f" (Expected {torch_name} size {expected}, got {list(state.shape)})" if torch_name else ""
        raise invalid(name, tuple(state.shape), f"shape {expected} {meaning}{said}", ShapeMismatchError)


def check_cell_state_dims(name: str, state: object, module: str) -> None:
    """A cell's h or c (``name`` "hx", "hx[0]" or "hx[1]") is a 1-D or 2-D tensor (ValueError),
    checked before any size, as torch.nn's cells do."""
    if not isinstance(state, Tensor):
        raise not_a_tensor(name, state, "dim")
    if state.dim() not in (1, 2):
        said = "hidden" if name == "hx" else name
        raise invalid(
            name, tuple(state.shape), f"a 1-D or 2-D tensor ({module}: Expected {said} to be 1D or"
            f" 2D, got {state.dim()}D instead)",
        )  # fmt: skip


def not_a_tensor(
    name: str, state: object, method: str, expected: str = "a tensor"
) -> StateTypeError:
    """The error for an input or state that is not a tensor, with torch.nn's sentence (it
    calls ``state.<method>()``): an AttributeError, TypeError and ValueError."""
    kind = type(state).__name__
    said = f"'{kind}' object has no attribute '{method}'"
    return invalid(name, kind, f"{expected} ({said})", StateTypeError)  # type: ignore[return-value]


def check_cell_input_size(input: Tensor, input_size: int) -> None:
    """A cell's input has input_size features (torch: RuntimeError from its kernel). Not
    while torch.jit.trace records: sizes are traced values there (a comparison would warn that
    the trace may not generalise), and the cell's kernel checks the size itself."""
    if not torch.jit.is_tracing() and input.shape[-1] != input_size:
        got = input.shape[-1]
        raise invalid(
            "input", tuple(input.shape), f"last dimension input_size={input_size} (input has"
            f" inconsistent input_size: got {got} expected {input_size})", ShapeMismatchError,
        )  # fmt: skip


def check_cell_state(name: str, state: Tensor, input: Tensor, hidden_size: int) -> None:
    """A cell's h or c (``name`` "hx", "hx[0]" or "hx[1]"), already checked 1-D or 2-D: shaped
    (B, H) for a (B, D) input or (H,) for a (D,) one (RuntimeError), batch checked before size
    as torch's kernel does. Not while torch.jit.trace records (see
    :func:`check_cell_input_size`)."""
    if torch.jit.is_tracing():
        return
    torch_name = "hidden1" if name == "hx[1]" else "hidden0"
    if input.dim() == 2 and state.dim() == 2 and state.shape[0] != input.shape[0]:
        raise invalid(
            name, tuple(state.shape), f"the input's batch size {input.shape[0]} (Input batch"
            f" size {input.shape[0]} doesn't match {torch_name} batch size {state.shape[0]})",
            ShapeMismatchError,
        )  # fmt: skip
    expected = (hidden_size,) if input.dim() == 1 else (input.shape[0], hidden_size)
    if input.dim() == 2 and state.dim() == 1 and state.shape[0] != input.shape[0]:
        raise invalid(  # torch.nn reads the size of a 1-D state as its batch
            name, tuple(state.shape), f"shape {expected} to match the input (Input batch size"
            f" {input.shape[0]} doesn't match {torch_name} batch size {state.shape[0]})",
            ShapeMismatchError,
        )  # fmt: skip
    if input.dim() == 1 and state.dim() == 2 and state.shape[0] != hidden_size:
        raise invalid(  # torch.nn gives the state a batch of 1 and reads its batch as a size
            name, tuple(state.shape), f"shape {expected} to match the unbatched input ({torch_name}"
            f" has inconsistent hidden_size: got {state.shape[0]}, expected {hidden_size})",
            ShapeMismatchError,
        )  # fmt: skip
    if state.shape[-1] != hidden_size:
        raise invalid(
            name, tuple(state.shape), f"last dimension hidden_size={hidden_size} ({torch_name}"
            f" has inconsistent hidden_size: got {state.shape[-1]}, expected {hidden_size})",
            ShapeMismatchError,
        )  # fmt: skip
    check_state(name, state, expected, "to match the input (batch, hidden_size)")


def check_product_dtype(name: str, tensor: Tensor, weight: Tensor) -> None:
    """``tensor`` meets ``weight`` in a matrix product, so shares its dtype outside autocast
    (torch: RuntimeError from that product, "mat1 and mat2 must have the same dtype")."""
    if tensor.dtype != weight.dtype and not torch._C._is_any_autocast_enabled():
        raise invalid(
            name, f"dtype {tensor.dtype}", f"the weights' dtype {weight.dtype} (mat1 and mat2"
            f" must have the same dtype, but got {dtype_name(tensor.dtype)} and"
            f" {dtype_name(weight.dtype)})", ShapeMismatchError,
        )  # fmt: skip
