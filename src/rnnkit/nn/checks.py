"""Argument and input checks of the recurrent layers and cells, with torch.nn's exception types.

Each check refuses exactly what ``torch.nn.RNNBase`` / ``RNNCellBase`` refuse, and raises an
exception that is an instance of the type torch raises in the same situation (``TypeError``
for a wrong type, ``ValueError`` for a bad value or a wrong number of dimensions,
``RuntimeError`` for a size that does not fit), with rnnkit's message naming the argument, the
value and what was expected, followed in parentheses by torch.nn's own sentence (so tests,
code and searches written for torch's messages still find them; tested row by row in
tests/nn/test_torch_errors.py). Every one is also an :class:`rnnkit.errors.InvalidArgumentError`
(a ``ValueError``). Dimensions as in :mod:`rnnkit.nn.layers`.
"""

from __future__ import annotations

import numbers
import operator
import warnings

import torch
from torch import Tensor
from torch.autograd import forward_ad

from rnnkit.errors import ArgumentTypeError, ShapeMismatchError, invalid

NONLINEARITIES = ("tanh", "relu")


def custom_functions_unsupported() -> bool:
    """True inside torch.func transforms (grad, vmap, jacrev) and forward-mode AD, which
    rnnkit's own autograd Functions (no setup_context, no jvp) cannot run under: torch's
    kernels serve those calls, as they serve torch.nn's."""
    return torch._C._are_functorch_transforms_active() or forward_ad._current_level >= 0


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


def check_dtype(input: Tensor, weight: Tensor) -> None:
    """Input and weights share a dtype, outside autocast (torch.nn: ValueError)."""
    if input.dtype != weight.dtype and not torch._C._is_any_autocast_enabled():
        raise invalid(
            "input", f"dtype {input.dtype}",
            f"the weights' dtype {weight.dtype} (RNN input dtype ({input.dtype}) does not match"
            f" weight dtype ({weight.dtype}). Convert input: input.to({weight.dtype}), or"
            f" convert model: model.to({input.dtype}))",
        )  # fmt: skip


def check_input(
    input: Tensor, input_size: int, dims: tuple[int, ...], weight: Tensor | None = None,
    got_word: str = "",
) -> None:  # fmt: skip
    """In torch.nn's order: input.dim() in dims (ValueError), the weight's dtype when a weight
    is given (ValueError), input.size(-1) == input_size (RuntimeError). ``got_word``: "tensor "
    where torch.nn's sentence says "got 4D tensor instead" (torch.nn.RNN) not "got 4D instead"."""
    if input.dim() not in dims:
        shown = " or ".join(f"{d}-D" for d in dims)
        said = " or ".join(f"{d}D" for d in dims)
        raise invalid(
            "input", tuple(input.shape),
            f"a {shown} tensor (Expected input to be {said}, got {input.dim()}D {got_word}instead)",
        )  # fmt: skip
    if weight is not None:
        check_dtype(input, weight)
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


def check_cell_input(input: Tensor, input_size: int) -> None:
    """A cell's input: 1-D or 2-D (ValueError), last dimension input_size (RuntimeError)."""
    if input.dim() in (1, 2) and input.shape[-1] != input_size:
        got = input.shape[-1]
        raise invalid(
            "input", tuple(input.shape), f"last dimension input_size={input_size} (input has"
            f" inconsistent input_size: got {got} expected {input_size})", ShapeMismatchError,
        )  # fmt: skip
    check_input(input, input_size, (1, 2))


def check_cell_state(name: str, state: Tensor, input: Tensor, hidden_size: int) -> None:
    """A cell's h or c (``name`` "hx", "hx[0]" or "hx[1]"): 1-D or 2-D (ValueError), shaped
    (B, H) for a (B, D) input or (H,) for a (D,) one (RuntimeError)."""
    if not isinstance(state, Tensor):
        raise invalid(name, type(state).__name__, "a tensor", ArgumentTypeError)
    if state.dim() not in (1, 2):
        said = "hidden" if name == "hx" else name
        raise invalid(
            name, tuple(state.shape),
            f"a 1-D or 2-D tensor (Expected {said} to be 1D or 2D, got {state.dim()}D instead)",
        )  # fmt: skip
    torch_name = "hidden1" if name == "hx[1]" else "hidden0"
    if state.shape[-1] != hidden_size:
        raise invalid(
            name, tuple(state.shape), f"last dimension hidden_size={hidden_size} ({torch_name}"
            f" has inconsistent hidden_size: got {state.shape[-1]}, expected {hidden_size})",
            ShapeMismatchError,
        )  # fmt: skip
    if input.dim() == 2 and state.dim() == 2 and state.shape[0] != input.shape[0]:
        raise invalid(
            name, tuple(state.shape), f"the input's batch size {input.shape[0]} (Input batch"
            f" size {input.shape[0]} doesn't match {torch_name} batch size {state.shape[0]})",
            ShapeMismatchError,
        )  # fmt: skip
    expected = (hidden_size,) if input.dim() == 1 else (input.shape[0], hidden_size)
    if input.dim() == 1 and state.dim() == 2 and state.shape[0] != hidden_size:
        raise invalid(  # torch.nn gives the state a batch of 1 and reads its batch as a size
            name, tuple(state.shape), f"shape {expected} to match the unbatched input ({torch_name}"
            f" has inconsistent hidden_size: got {state.shape[0]}, expected {hidden_size})",
            ShapeMismatchError,
        )  # fmt: skip
    check_state(name, state, expected, "to match the input (batch, hidden_size)")
    check_state_dtype(name, state, input)


def check_state_dtype(name: str, state: Tensor, input: Tensor) -> None:
    """A state of the input's dtype, outside autocast (torch.nn: RuntimeError from its first
    product, also on paths that would otherwise cast it)."""
    if state.dtype != input.dtype and not torch._C._is_any_autocast_enabled():
        raise invalid(
            name, f"dtype {state.dtype}", f"the input's dtype {input.dtype} (mat1 and mat2 must"
            f" have the same dtype, but got {state.dtype} and {input.dtype})", ShapeMismatchError,
        )  # fmt: skip
