"""One time step of a stacked recurrent layer in numpy, for token-by-token inference on a CPU.

Dimensions: N sequences stepped together, D input features, H hidden units, G gate rows (4H for
an LSTM, 3H for a GRU, H for a SimpleRNN).

:class:`rnnkit.nn.step.LayerStepper` runs one ATen cell operator per layer. At batch 1 on a
2-core AMD EPYC that step is mostly fixed cost: torch's products (MKL) read the weights at about
half the speed of numpy's (OpenBLAS; a (1024, 256) weight times a vector took 20 us against
12 us), and each of the cell's dozen pointwise operators costs 1.5-3 us of dispatch for a few
hundred numbers, against about 0.7 us for a numpy ufunc. :class:`NumpyLayerStepper` computes
the same equations with numpy, on rearranged copies of the weights. Which of the two runs is
measured per machine (:func:`rnnkit.generate.token_step`); neither is assumed faster.

The equations are torch.nn's (see :mod:`rnnkit.nn.cells`). Two exact rearrangements save work:

* sigmoid(z) = (1 + tanh(z / 2)) / 2, and the rows of the sigmoid gates are stored halved
  (halving is exact in floating point), so one ``tanh`` over all of a step's gates computes
  every gate, and the sigmoid gates take two more ufuncs;
* an LSTM's gate blocks are stored as (input, forget, output, cell) instead of torch.nn's
  (input, forget, cell, output), so the three sigmoid gates are one contiguous slice.

An LSTM's and a SimpleRNN's two products are one product of [x, h] with [W_ih, W_hh] and their
biases summed. With a few sequences (2 to 16), a product may run as one BLAS call per block of
the weight's rows, where that measured faster (:class:`RowBlocks`). Results differ from the
cell operators' by float rounding only (about 1e-7 relative; tested against the layers'
forward).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import numpy as np
import torch
from threadpoolctl import ThreadpoolController
from torch import Tensor

from rnnkit.errors import invalid
from rnnkit.nn import measured
from rnnkit.nn.step import steppable

ArrayState = tuple[np.ndarray, ...]  # a layer's (h,) or (h, c), each (N, H)
NUMPY_DTYPES = (torch.float32, torch.float64)


def numpy_steppable(layer: torch.nn.Module) -> bool:
    """True when :class:`NumpyLayerStepper` serves ``layer``: a steppable layer on the CPU in
    float32 or float64."""
    weight = layer.flat_weights[0]
    return steppable(layer) and weight.device.type == "cpu" and weight.dtype in NUMPY_DTYPES


def one_blas_thread() -> contextlib.AbstractContextManager:
    """numpy's BLAS on one thread inside the context (threadpoolctl limits every BLAS library
    the process loaded that it can reach, which leaves a statically linked one, as in torch's
    CPU wheels, alone). For a one-off product followed by torch's operators: see
    :func:`cores_to_blas` for why a BLAS pool on several threads must not meet torch's."""
    return _blas_libraries().limit(limits=1, user_api="blas")


@contextlib.contextmanager
def cores_to_blas() -> Iterator[None]:
    """The context the numpy steps run in: numpy's BLAS on torch's thread count, torch on one
    thread; both restored after (torch's count is per calling thread under OpenMP).

    OpenBLAS's worker threads and torch's OpenMP threads each spin for a while after their
    work, so the two pools must not both hold the cores: on 2 cores a torch ``log_softmax`` of
    (5, 65), 3-5 us alone, took 4.6 ms (median) right after a two-thread OpenBLAS product,
    and 3 us with torch on one thread. The steps' torch operators (sampling over (N, V)
    logits) are too small to gain from a second thread; the products do: a (1024, 256) weight
    times 4 vectors took 36 us on two OpenBLAS threads against 62 us on one.
    """
    if not _openmp_threads():  # torch's own pool: BLAS on one thread, torch left as it is
        with one_blas_thread():
            yield
        return
    threads = torch.get_num_threads()
    with _blas_libraries().limit(limits=threads, user_api="blas"):
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


@functools.cache
def _openmp_threads() -> bool:
    """Does torch run its operators on OpenMP threads (every pip wheel does)? Only then can
    :func:`cores_to_blas` change torch's thread count back and forth: the native pool of
    other builds warns and keeps its first count."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


@functools.cache
def _blas_libraries() -> ThreadpoolController:
    """The thread pools of the libraries loaded now, found once per process: the search took
    about 260 us of each ``threadpool_limits`` call, against 8 us to set a found one's limit."""
    return ThreadpoolController()


def _array(tensor: Tensor) -> np.ndarray:
    return tensor.detach().numpy()


class _LayerWeights:
    """One layer's weights, rearranged for the numpy step (see the module docstring).

    LSTM and SimpleRNN: ``stacked`` (G, D + H) multiplies [x, h] and ``bias`` (G,) is
    b_ih + b_hh; with an input product ``looked_up`` (:meth:`table`), ``hidden`` (G, H)
    multiplies h alone instead. GRU: ``input`` (G, D), unless looked up, and ``hidden`` (G, H)
    multiply x and h apart, with ``input_bias`` and ``hidden_bias``. The ones a step multiplies
    with are :class:`RowBlocks` for products with ``vectors`` vectors; the others are None.
    """

    def __init__(self, kind: str, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                 b_hh: Tensor | None, vectors: int = 1, looked_up: bool = False) -> None:  # fmt: skip
        self.kind, self.input_size = kind, w_ih.shape[1]
        hidden = w_hh.shape[1]
        zeros = w_ih.new_zeros(w_ih.shape[0])
        b_ih = zeros if b_ih is None else b_ih.detach()
        b_hh = zeros if b_hh is None else b_hh.detach()
        if kind == "lstm":  # (i, f, g, o) -> (i, f, o, g)
            order = torch.cat([torch.arange(2 * hidden), torch.arange(3 * hidden, 4 * hidden),
                               torch.arange(2 * hidden, 3 * hidden)])  # fmt: skip
            w_ih, w_hh, b_ih, b_hh = (t.detach()[order] for t in (w_ih, w_hh, b_ih, b_hh))
        sigmoid_rows = {"lstm": 3 * hidden, "gru": 2 * hidden}.get(kind, 0)
        scale = w_ih.new_ones(w_ih.shape[0], 1)
        scale[:sigmoid_rows] = 0.5
        w_ih, w_hh = w_ih.detach() * scale, w_hh.detach() * scale
        b_ih, b_hh = b_ih * scale[:, 0], b_hh * scale[:, 0]
        self.stacked = self.input = None
        if kind == "gru":
            self.input_weight = _array(w_ih)
            if not looked_up:
                self.input = row_blocks(self.input_weight, vectors)
            self.hidden = row_blocks(_array(w_hh), vectors)
            self.input_bias, self.hidden_bias = _array(b_ih), _array(b_hh)
        else:
            stacked = _array(torch.cat([w_ih, w_hh], 1))
            self.input_weight = stacked[:, : self.input_size]  # for the table alone
            if looked_up:  # W_hh apart: a product with a strided slice copies it each time
                self.hidden = row_blocks(stacked[:, self.input_size :], vectors)
            else:
                self.stacked, self.hidden = row_blocks(stacked, vectors), None
            self.bias = _array(b_ih + b_hh)

    def table(self, inputs: np.ndarray) -> np.ndarray:
        """The gates' input part x @ W_ih^T + b_ih, and b_hh where the step adds it with the
        input (LSTM, SimpleRNN), of every row of ``inputs`` (V, D) -> (V, G) C-contiguous,
        for a step to look up."""
        bias = self.input_bias if self.kind == "gru" else self.bias
        gates = product(self.input_weight, inputs)
        return np.ascontiguousarray(np.add(gates, bias, out=gates))

    def input_gates(self, x: np.ndarray) -> np.ndarray:
        """A GRU's gates' input part x @ W_ih^T + b_ih: x (N, D) -> (N, G)."""
        gates = self.input(x)
        return np.add(gates, self.input_bias, out=gates)

    def gates(
        self, x: np.ndarray | None, h: np.ndarray, input_gates: np.ndarray | None
    ) -> np.ndarray:
        """LSTM and SimpleRNN: all of W_ih x + b_ih + W_hh h + b_hh (N, G), from x (N, D), or
        from ``input_gates`` (rows of :meth:`table`) when given."""
        if input_gates is not None:
            return np.add(self.hidden(h), input_gates)
        gates = self.stacked(np.concatenate((x, h), axis=1))
        return np.add(gates, self.bias, out=gates)


class NumpyLayerStepper:
    """One step of ``layer`` per call, computed in numpy: :class:`rnnkit.nn.step.LayerStepper`
    on numpy arrays (``tensor.numpy()`` and ``torch.from_numpy`` share memory with them).

    The weights are read from the layer when the stepper is made: make a new one after
    changing them. ``vectors``: the usual N, for which the products are laid out
    (:func:`row_blocks`, measured here: make steppers outside :func:`cores_to_blas`); steps of
    any other N are as exact. With ``inputs`` (V, D), the few possible inputs (a character
    model's embedding rows), the first layer's input gates for each are computed once, as
    ``table`` (V, G), and a step is given its rows (``input_gates`` of :meth:`__call__`)
    instead of multiplying.
    """

    def __init__(
        self, layer: torch.nn.Module, vectors: int = 1, inputs: np.ndarray | None = None
    ) -> None:
        if not numpy_steppable(layer):
            raise invalid(
                "layer", type(layer).__name__,
                "a unidirectional CPU float32/float64 rnnkit.nn RNN/LSTM/GRU without "
                "layer_norm, proj_size or cell",
            )  # fmt: skip
        self.kind = layer.kernel
        weights = list(layer.flat_weights)
        per = len(weights) // layer.num_layers
        self.layers = []
        for index in range(layer.num_layers):
            w_ih, w_hh, *biases = weights[index * per : (index + 1) * per]
            b_ih, b_hh = biases or (None, None)
            looked_up = index == 0 and inputs is not None
            self.layers.append(
                _LayerWeights(self.kind, w_ih, w_hh, b_ih, b_hh, vectors, looked_up)
            )
        self.table = None if inputs is None else self.layers[0].table(inputs)

    def __call__(
        self, x: np.ndarray | None, states: list[ArrayState], input_gates: np.ndarray | None = None
    ) -> tuple[np.ndarray, list[ArrayState]]:
        """x: (N, D), states: per layer (h[, c]) each (N, H) -> top h (N, H), new states.
        ``input_gates`` (N, G): rows of ``table``, given instead of x."""
        new_states = []
        for weights, state in zip(self.layers, states, strict=True):
            h = state[0]
            if self.kind == "gru":
                gi = weights.input_gates(x) if input_gates is None else input_gates
                state = (_gru(weights, gi, h),)
            elif self.kind == "lstm":
                state = _lstm(weights.gates(x, h, input_gates), state[1])
            else:
                state = (_simple(weights.gates(x, h, input_gates), self.kind == "rnn_relu"),)
            new_states.append(state)
            x, input_gates = state[0], None
        return x, new_states


def product(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x @ weight.T for weight (G, K), x (N, K) -> (N, G), a transposed view. A weight that is
    not C-contiguous (a column slice) is copied by numpy on every call.

    Computed as weight @ x.T: OpenBLAS's kernels for that layout were 1.6-2.5x faster than
    for x @ weight.T at N = 4 and 16 (a matrix-vector product at N = 1 either way)."""
    return np.dot(weight, x.T).T


class RowBlocks:
    """:func:`product` of a fixed weight (G, K), as one BLAS call per block of its rows.

    OpenBLAS (0.3.x, as numpy's wheels bundle it) multiplies a product with few operations
    by a small-matrix kernel that copies nothing, and a larger one by its general kernel,
    which first copies the weight into its own panel layout: at a few vectors that copy is
    most of the product. On a 2-core AMD EPYC, a (1024, 512) weight times 4 vectors took
    74 us as one product and 45 us as 4 products of 256 rows; times 2 vectors 65 and 33 us
    (2 of 512 rows); at 16 vectors one product was fastest. How many blocks: :func:`row_blocks`.
    """

    def __init__(self, weight: np.ndarray, blocks: int = 1) -> None:
        self.weight = np.ascontiguousarray(weight)
        rows = self.weight.shape[0]
        size = -(-rows // blocks)  # rows per block, the last may have fewer
        self.bounds = [(start, min(start + size, rows)) for start in range(0, rows, size)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x: (N, K) -> (N, G), a transposed view."""
        if len(self.bounds) == 1:
            return product(self.weight, x)
        out = np.empty((self.weight.shape[0], x.shape[0]), np.result_type(self.weight, x))
        x_t = x.T
        for start, stop in self.bounds:
            np.dot(self.weight[start:stop], x_t, out=out[start:stop])
        return out.T


MAX_BLOCKED_VECTORS = 16  # at 16 vectors one product measured fastest (see RowBlocks)
MIN_BLOCK_ROWS = 16


def row_blocks(weight: np.ndarray, vectors: int) -> RowBlocks:
    """``weight`` (G, K) as :class:`RowBlocks` for products with ``vectors`` vectors: in the
    fewest blocks (2, 4, 8 or 16, of at least ``MIN_BLOCK_ROWS`` rows) that measured at least
    1.1x faster than one product on this machine, else whole. Each answer is measured once
    per machine (:mod:`rnnkit.nn.measured`; ``RNNKIT_ROW_BLOCKS=0`` keeps every weight whole,
    ``1`` splits it in 2 without measuring), with the BLAS threads the steps run on."""
    rows, columns = weight.shape
    if 2 <= vectors <= MAX_BLOCKED_VECTORS:
        dtype = weight.dtype.name
        for blocks in (2, 4, 8, 16):
            if rows // blocks < MIN_BLOCK_ROWS:
                break
            key = f"numpy_row_blocks:{rows}x{columns}:N{vectors}:{dtype}:{blocks}"
            measure = functools.partial(_blocks_faster, weight.shape, vectors, weight.dtype, blocks)
            if measured.cached(key, measure, "RNNKIT_ROW_BLOCKS"):
                return RowBlocks(weight, blocks)
    return RowBlocks(weight)


def _blocks_faster(
    shape: tuple[int, int], vectors: int, dtype: np.dtype, blocks: int, calls: int = 20
) -> bool:
    """Do ``calls`` products of a weight of ``shape`` in ``blocks`` blocks run at least 1.1x
    faster than as one product? All of one product's rounds run first (its BLAS threads spin
    for a while after it: :func:`rnnkit.nn.measured.faster` with ``interleaved`` False)."""
    generator = np.random.default_rng(0)
    weight = generator.standard_normal(shape).astype(dtype)
    x = generator.standard_normal((vectors, shape[1])).astype(dtype)
    split, whole = RowBlocks(weight, blocks), RowBlocks(weight)

    def repeat(blocked: RowBlocks) -> Callable[[], None]:
        def products() -> None:
            for _ in range(calls):
                blocked(x)

        return products

    with cores_to_blas():
        return measured.faster(repeat(split), repeat(whole), interleaved=False)


def _lstm(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """c' = f * c + i * g, h' = o * tanh(c'), from gates (N, 4H) stored (i/2, f/2, o/2, g)."""
    np.tanh(gates, out=gates)
    hidden = c.shape[1]
    sigmoids = gates[:, : 3 * hidden]
    np.multiply(sigmoids, 0.5, out=sigmoids)
    np.add(sigmoids, 0.5, out=sigmoids)
    i, f, o, g = (gates[:, k * hidden : (k + 1) * hidden] for k in range(4))
    c_next = np.multiply(f, c)
    np.add(c_next, np.multiply(i, g, out=i), out=c_next)
    h_next = np.tanh(c_next)
    return np.multiply(h_next, o, out=h_next), c_next


def _gru(weights: _LayerWeights, gi: np.ndarray, h: np.ndarray) -> np.ndarray:
    """r, z = sigmoid(gi + gh), n = tanh(gi_n + r * gh_n), h' = n + z * (h - n); gi (N, 3H)
    the input gates, r and z rows stored halved."""
    gh = weights.hidden(h)
    np.add(gh, weights.hidden_bias, out=gh)
    hidden = h.shape[1]
    rz = np.add(gi[:, : 2 * hidden], gh[:, : 2 * hidden])
    np.tanh(rz, out=rz)
    np.multiply(rz, 0.5, out=rz)
    np.add(rz, 0.5, out=rz)
    r, z = rz[:, :hidden], rz[:, hidden:]
    n = np.multiply(r, gh[:, 2 * hidden :])
    np.add(n, gi[:, 2 * hidden :], out=n)
    np.tanh(n, out=n)
    h_next = np.subtract(h, n)
    np.multiply(h_next, z, out=h_next)
    return np.add(h_next, n, out=h_next)


def _simple(gates: np.ndarray, relu: bool) -> np.ndarray:
    """h' = tanh or relu of the gates (N, H)."""
    return np.maximum(gates, 0, out=gates) if relu else np.tanh(gates, out=gates)
