"""PyTorch's generic module tests and the recurrent tests of test_nn.py and test_autocast.py not
ported elsewhere, with rnnkit.nn's classes in place of torch.nn's and torch.nn's own modules as
the reference at test time; plus what else code written for torch.nn can observe.

Ported from pytorch/pytorch ``test/test_modules.py`` (test_repr, test_pickle, test_memory_format,
test_if_train_and_eval_modes_differ, test_device_ctx_init), ``test/test_nn.py`` (test_rnn_pruning,
test_swap_module_params_poisons_acc_grad, test_cudnn_forward_exception, test_cudnn_weight_tying
run on the CPU, test_RNN_change_dropout, test_RNN_dropout_state, test_variable_sequence,
test_LSTM_differentiable_backward_using_oneDNN, test_lstmcell_backward_only_one_output_grad) and
``test/test_autocast.py`` (test_autocast_rnn); BSD-3-Clause, (c) PyTorch contributors. Adapted:
pytest instead of torch's device-type instantiation, CPU only.

The rest pins down what differed from torch.nn before: ``_flat_weights`` as torch.nn's list,
result dtypes under CPU autocast, the order, types and sentences of forward errors, states that
are not tensors, RNNBase.check_input, and ``torch.jit.script``.
"""

from __future__ import annotations

import copy
import io
import itertools
import pickle
import re
import warnings

import pytest
import torch
import torch.nn.utils.prune as prune
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from torch.testing import assert_close

import rnnkit.nn as rnn
from rnnkit.errors import InvalidArgumentError

LAYERS = ["RNN", "LSTM", "GRU"]
CELLS = ["RNNCell", "LSTMCell", "GRUCell"]


def pair(name: str, *args, **kwargs) -> tuple[nn.Module, nn.Module]:
    """(torch.nn module, rnnkit module) built alike, with torch.nn's weights in both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropout with one layer
        torch.manual_seed(0)
        ref = getattr(nn, name)(*args, **kwargs)
        mine = getattr(rnn, name)(*args, **kwargs)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def flat(output) -> list[torch.Tensor]:
    """The tensors of a module's output, in order (a PackedSequence's data)."""
    if isinstance(output, PackedSequence):
        return [output.data]
    if isinstance(output, torch.Tensor):
        return [output]
    return [tensor for item in output for tensor in flat(item)]


def dtypes(output) -> list[torch.dtype]:
    return [t.dtype for t in flat(output)]


# --- test_modules.py ------------------------------------------------------------------------

REPR_CASES = [
    ("RNN", (3, 5), {}),
    ("RNN", (3, 5, 2), {"nonlinearity": "relu", "bias": False, "batch_first": True,
                        "dropout": 0.5, "bidirectional": True}),
    ("LSTM", (3, 5), {"proj_size": 2, "num_layers": 2}),
    ("GRU", (3, 5), {"bidirectional": 1, "dropout": 0.1}),
    ("RNNCell", (3, 5), {"nonlinearity": "relu", "bias": False}),
    ("LSTMCell", (3, 5), {}),
    ("GRUCell", (3, 5), {"bias": False}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "kwargs"), REPR_CASES, ids=[c[0] for c in REPR_CASES])
def test_repr_state_dict_and_torch_save_as_torch_nn(name, args, kwargs) -> None:
    """test_repr (equal to torch.nn's), state_dicts both ways (strict), test_pickle (torch.save
    and torch.load of the module), pickle and deepcopy."""
    ref, mine = pair(name, *args, **kwargs)
    assert repr(mine) == repr(ref)
    assert list(mine.state_dict()) == list(ref.state_dict())
    ref.load_state_dict(mine.state_dict(), strict=True)
    mine.load_state_dict(ref.state_dict(), strict=True)
    mine.eval()
    x = torch.randn(4, 2, args[0]) if name in LAYERS else torch.randn(2, args[0])
    want = mine(x)
    buffer = io.BytesIO()
    torch.save(mine, buffer)
    buffer.seek(0)
    for twin in (torch.load(buffer, weights_only=False), pickle.loads(pickle.dumps(mine)),
                 copy.deepcopy(mine)):  # fmt: skip
        assert_close(twin(x), want)
        assert repr(twin) == repr(ref)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", LAYERS + CELLS)
def test_memory_format(name, training) -> None:
    """test_memory_format: module.to(memory_format=...) changes nothing; outputs and gradients
    are contiguous where torch.nn's are, and equal."""
    ref, mine = pair(name, 3, 4, **({"num_layers": 2, "batch_first": True} if name in LAYERS else {}))
    x = torch.randn(2, 5, 3) if name in LAYERS else torch.randn(2, 3)
    results = []
    for module in (ref, mine):
        module.train(training)
        got = []
        for memory_format in (torch.preserve_format, torch.contiguous_format):
            module.to(memory_format=memory_format)
            xi = x.clone().requires_grad_()
            with torch.random.fork_rng():
                outputs = flat(module(xi))
            grads = torch.autograd.grad(outputs, [xi, *module.parameters()],
                                        [torch.ones_like(o) for o in outputs])  # fmt: skip
            got.append((outputs, grads, [t.is_contiguous() for t in (*outputs, *grads)]))
        results.append(got)
    for (out_a, grad_a, contig_a), (out_b, grad_b, contig_b) in zip(*results, strict=True):
        assert_close(out_b, out_a)
        assert_close(grad_b, grad_a)
        assert contig_b == contig_a


@pytest.mark.parametrize("name", LAYERS + CELLS)
def test_if_train_and_eval_modes_differ(name) -> None:
    """The layers read ``training`` (ModuleInfo: train_and_eval_differ=True), the cells do not."""
    module = getattr(rnn, name)(3, 4)
    delattr(module, "training")
    x = torch.randn(5, 2, 3) if name in LAYERS else torch.randn(2, 3)
    if name in CELLS:
        module(x)
        return
    with pytest.raises(AttributeError, match="'training'"):
        module(x)


@pytest.mark.parametrize("name", LAYERS + CELLS)
def test_device_ctx_init_to_empty_share_memory_and_hooks(name) -> None:
    """test_device_ctx_init (meta parameters with the CPU ones' metadata), to_empty,
    share_memory, forward hooks and pre-hooks (with kwargs)."""
    from torch._subclasses.meta_utils import assert_metadata_eq

    def equal(a, b, msg=None):
        assert a == b, msg

    cpu = getattr(rnn, name)(3, 4)
    with torch.device("meta"):
        meta = getattr(rnn, name)(3, 4)
    for p_meta, p_cpu in zip(meta.parameters(), cpu.parameters(), strict=True):
        assert p_meta.is_meta
        assert_metadata_eq(equal, p_meta, p_cpu)
    meta.to_empty(device="cpu")
    assert all(not p.is_meta for p in meta.parameters())
    meta.load_state_dict(cpu.state_dict())
    cpu.share_memory()
    calls = []
    cpu.register_forward_pre_hook(lambda m, args, kwargs: calls.append(sorted(kwargs)),
                                  with_kwargs=True)  # fmt: skip
    cpu.register_forward_hook(lambda m, args, out: calls.append(len(flat(out))))
    x = torch.randn(5, 2, 3) if name in LAYERS else torch.randn(2, 3)
    assert_close(cpu(x), meta(x))
    assert calls == [[], 3 if name == "LSTM" else 2 if name in ("RNN", "GRU", "LSTMCell") else 1]


@pytest.mark.parametrize("implementation", ["auto", "loop", "fused"])
@pytest.mark.parametrize("name", LAYERS)
def test_unsorted_packed_sequences_and_strided_states_as_torch_nn(name, implementation) -> None:
    """pack_sequence(enforce_sorted=False) input (outputs, indices, states in the caller's
    order) and non-contiguous inputs and states give torch.nn's results."""
    ref, mine = pair(name, 3, 5, 2, bidirectional=True)
    mine.implementation = implementation
    sequences = [torch.randn(2, 3), torch.randn(4, 3), torch.randn(3, 3)]
    packed = torch.nn.utils.rnn.pack_sequence(sequences, enforce_sorted=False)
    h = torch.randn(3, 4, 5).transpose(0, 1)  # (4, 3, 5), strided
    hx = (h, torch.randn(5, 3, 4).permute(2, 1, 0)) if name == "LSTM" else h
    want, got = ref(packed, hx), mine(packed, hx)
    assert_close(flat(got), flat(want))
    assert torch.equal(got[0].sorted_indices, want[0].sorted_indices)
    assert torch.equal(got[0].batch_sizes, want[0].batch_sizes)
    x = torch.randn(3, 6, 3).transpose(0, 1)  # (6, 3, 3), strided
    assert_close(mine(x, hx), ref(x, hx))


# --- _flat_weights: torch.nn.RNNBase's list ------------------------------------------------------


@pytest.mark.parametrize("implementation", ["auto", "loop"])
@pytest.mark.parametrize("name", LAYERS)
def test_flat_weights_is_a_list_as_in_torch_nn(name, implementation) -> None:
    """Setting ``_flat_weights``, editing it, assigning a weight, .double(), functional_call
    and pickling give the outputs torch.nn gives after the same steps."""
    x = torch.randn(5, 2, 3)
    runs = []
    for module in pair(name, 3, 4, 2):
        if not isinstance(module, nn.RNNBase):
            module.implementation = implementation
        outputs = []
        module._flat_weights = [w * 2 for w in module._flat_weights]  # obeyed ...
        outputs.append(module(x)[0])
        module._flat_weights[1] = module._flat_weights[1] * 0  # ... edited in place too
        outputs.append(module(x)[0])
        module.weight_hh_l1 = nn.Parameter(module.weight_hh_l1.detach() * 3)  # an entry updated
        index = module._flat_weights_names.index("weight_hh_l1")
        assert module._flat_weights[index] is module.weight_hh_l1
        outputs.append(module(x)[0])
        module._flat_weights = [w * 2 for w in module._flat_weights]
        module.double().float()  # .to() rebuilds the list from the weights
        outputs.append(module(x)[0])
        halves = {key: value * 0.5 for key, value in module.named_parameters()}
        outputs.append(functional_call(module, halves, (x,))[0])  # changed weights: rebuilt
        outputs.append(module(x)[0])
        module._flat_weights = [w * 2 for w in module._flat_weights]
        outputs.append(pickle.loads(pickle.dumps(module))(x)[0])  # unpickled: rebuilt
        assert len(module._flat_weight_refs) == len(module._flat_weights_names)
        runs.append(outputs)
    for step, (want, got) in enumerate(zip(*runs, strict=True)):
        assert_close(got, want, msg=f"step {step}")


def test_a_deleted_weight_is_none_in_flat_weights_after_to() -> None:
    """test_partial_flat_weights' first half: torch.nn keeps None for a deleted weight."""
    for module in pair("LSTM", 3, 4):
        del module.weight_hh_l0
        module.to(torch.float64)
        assert module._flat_weights[1] is None
        assert module._flat_weights_names[1] == "weight_hh_l0"


def test_pickles_without_newer_attributes_load() -> None:
    """__setstate__ fills in what an older pickle lacks (as torch.nn gives old LSTMs
    proj_size=0): the list, rnnkit's options and the weight names."""
    _, layer = pair("LSTM", 3, 4, 2)
    state = layer.__getstate__()
    for name in ("_flat_weights_names", "_all_weights", "implementation", "recurrent_dropout",
                 "layer_norm", "last_path", "proj_size"):  # fmt: skip
        del state[name]
    old = rnn.LSTM.__new__(rnn.LSTM)
    old.__setstate__(state)
    x = torch.randn(5, 2, 3)
    assert_close(old(x), layer(x))
    assert old._flat_weights_names == layer._flat_weights_names


def test_rnn_pruning_and_swap_module_params_on_conversion() -> None:
    """test_rnn_pruning, and test_swap_module_params: .half()/.float() swap the parameters
    (torch.utils.swap_tensors refuses tensors with weak references: none are left then)."""
    layer = rnn.LSTM(32, 32)
    prune.l1_unstructured(layer, "weight_ih_l0", 0.5)
    assert sum(isinstance(p, nn.Parameter) for p in layer._flat_weights) == 3
    prune.remove(layer, "weight_ih_l0")
    assert sum(isinstance(p, nn.Parameter) for p in layer._flat_weights) == 4
    assert "weight_ih_l0" in layer._parameters and "weight_ih_l0_orig" not in layer._parameters
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        for name in LAYERS:
            module = getattr(rnn, name)(3, 4)
            x = torch.randn(5, 2, 3)
            module(x)[0].sum().backward()
            module.half()
            module.float()
            assert all(p.dtype == torch.float32 for p in module.parameters())
            module(x)
    finally:
        torch.__future__.set_swap_module_params_on_conversion(False)


# --- CPU autocast: torch.nn's result dtypes -------------------------------------------------


def _layer_autocast_cases():
    for name, x_dtype, h_dtype, proj, packed in itertools.product(
        LAYERS, [torch.float32, torch.bfloat16], [None, torch.float32, torch.bfloat16], [0, 2],
        ["no", "uneven", "even"],
    ):  # fmt: skip
        if proj and name != "LSTM":
            continue
        yield name, x_dtype, h_dtype, proj, packed


@pytest.mark.parametrize("time", [1, 4])
@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16])
def test_layer_dtypes_under_cpu_autocast_are_torch_nns(low, time) -> None:
    """RNN: the autocast dtype; GRU: promoted with h_0's; LSTM: oneDNN's (all autocast) or
    promoted with c_0's; on both paths, whichever precision rnnkit computed in."""
    for name, x_dtype, h_dtype, proj, packed in _layer_autocast_cases():
        for implementation in ("auto", "loop"):
            options = {"proj_size": proj} if proj else {}
            ref, mine = pair(name, 3, 5, 2, **options)
            mine.implementation = implementation
            x = torch.randn(time, 2, 3, dtype=x_dtype)
            hx = None
            if h_dtype is not None:
                h = torch.randn(2, 2, proj or 5, dtype=h_dtype)
                hx = (h, torch.randn(2, 2, 5, dtype=h_dtype)) if name == "LSTM" else h
            lengths = [time, max(time - 1, 1)] if packed == "uneven" else [time, time]
            inputs = x if packed == "no" else pack_padded_sequence(x, lengths)
            with torch.autocast("cpu", dtype=low), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # projections without oneDNN
                try:
                    want = dtypes(ref(inputs, hx))
                except RuntimeError:  # torch.nn's oneDNN LSTM cannot run this here
                    continue
                got = dtypes(mine(inputs, hx))
            assert got == want, (name, x_dtype, h_dtype, proj, packed, implementation)


@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", CELLS)
def test_cell_dtypes_under_cpu_autocast_are_torch_nns(name, low) -> None:
    """W x + b and W h + b in one product each (autocast's dtype), promoted with h (GRU) or c
    (LSTM) as torch's cells are."""
    kinds = [torch.float32, torch.bfloat16]
    for x_dtype, h_dtype, c_dtype in itertools.product(kinds, [None, *kinds], kinds):
        ref, mine = pair(name, 3, 5)
        x = torch.randn(2, 3, dtype=x_dtype)
        hx = None if h_dtype is None else torch.randn(2, 5, dtype=h_dtype)
        if name == "LSTMCell" and hx is not None:
            hx = (hx, torch.randn(2, 5, dtype=c_dtype))
        with torch.autocast("cpu", dtype=low):
            assert dtypes(mine(x, hx)) == dtypes(ref(x, hx)), (x_dtype, h_dtype, c_dtype)


@pytest.mark.parametrize("implementation", ["auto", "loop"])
@pytest.mark.parametrize("name", LAYERS)
def test_float64_under_cpu_autocast_stays_float64(name, implementation) -> None:
    """Autocast leaves float64 alone, so torch.nn computes a float64 model in float64."""
    ref, mine = pair(name, 3, 4, 2)
    mine.implementation = implementation
    ref.double()
    mine.double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want, got = ref(x), mine(x)
    assert dtypes(got) == dtypes(want) == [torch.float64] * len(flat(want))
    assert_close(got, want)


def test_autocast_rnn() -> None:
    """test_autocast.py's test_autocast_rnn: bf16 weights refuse an fp32 input outside
    autocast (ValueError, torch's regex) and take it under CPU autocast."""
    x, hx, cx = torch.randn(1, 2, 1), torch.randn(2, 2, 1), torch.randn(2, 2, 1)
    m = rnn.LSTM(1, 1, 2).to(torch.bfloat16)
    with pytest.raises(ValueError, match=r"RNN input dtype .* does not match weight dtype"):
        m(x, (hx, cx))
    with torch.autocast(device_type="cpu"):
        m(x, (hx, cx))


# --- errors: torch.nn's order, types and sentences ------------------------------------------


def _outcome(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call()
        except Exception as error:  # the point: compare whatever torch raises
            return error


def _same_outcome(torch_call, mine_call, args: tuple, what) -> None:
    """``torch_call(*args)`` and ``mine_call(*args)`` return the same, or raise: rnnkit's error
    an instance of torch's type whose message contains torch's."""
    want, got = _outcome(lambda: torch_call(*args)), _outcome(lambda: mine_call(*args))
    if not isinstance(want, Exception):
        assert not isinstance(got, Exception), f"{what}: torch accepted, rnnkit raised {got!r}"
        assert_close(got, want)
        return
    assert isinstance(got, type(want)), f"{what}: torch {want!r}, rnnkit {got!r}"
    assert isinstance(got, InvalidArgumentError), what
    assert str(want) in str(got), f"{what}: torch's {str(want)!r} not in {str(got)!r}"


def _inputs(batch_first: bool) -> dict[str, torch.Tensor]:
    return {
        "1-D": torch.randn(5), "2-D": torch.randn(4, 5), "4-D": torch.randn(1, 4, 3, 5),
        "3-D": torch.randn(3, 4, 5) if batch_first else torch.randn(4, 3, 5),
        "3-D wrong size": torch.randn(4, 3, 6), "2-D wrong size": torch.randn(4, 6),
        "int": torch.ones(4, 3, 5, dtype=torch.long),
        "float64": torch.randn(4, 3, 5, dtype=torch.float64),
    }  # fmt: skip


def _states(count: int) -> dict[str, torch.Tensor | None]:
    return {
        "none": None, "3-D": torch.randn(count, 3, 6), "2-D": torch.randn(count, 6),
        "1-D": torch.randn(6), "4-D": torch.randn(1, count, 3, 6),
        "layers": torch.randn(count + 1, 3, 6), "batch": torch.randn(count, 4, 6),
        "size": torch.randn(count, 3, 7), "2-D layers": torch.randn(count + 1, 6),
        "float64": torch.randn(count, 3, 6, dtype=torch.float64),
    }  # fmt: skip


@pytest.mark.parametrize(("batch_first", "bidirectional"), [(False, False), (True, True)])
@pytest.mark.parametrize("name", LAYERS)
def test_layer_forward_errors_in_torch_nns_order(name, batch_first, bidirectional) -> None:
    """Each bad (input, state) pair raises torch.nn's type with its sentence: the input's
    dimensions, then the states', then the input's dtype and size, then the states' sizes and
    dtypes (torch.nn's order). LSTM states here are well-formed pairs (see
    docs/torch-differences.md for malformed ones)."""
    ref, mine = pair(name, 5, 6, 2, batch_first=batch_first, bidirectional=bidirectional)
    count = 4 if bidirectional else 2
    for (x_name, x), (h_name, h) in itertools.product(_inputs(batch_first).items(),
                                                      _states(count).items()):  # fmt: skip
        hx = h
        if name == "LSTM" and h is not None:
            hx = (h, torch.randn(*h.shape[:-1], 6, dtype=h.dtype))
        if name == "LSTM" and h_name == "float64":
            continue  # torch.nn's oneDNN LSTM words a float64 state its own way
        _same_outcome(ref, mine, (x, hx), (x_name, h_name))


@pytest.mark.parametrize("name", CELLS)
def test_cell_forward_errors_in_torch_nns_order(name) -> None:
    """The input's and states' dimensions (ValueError, "LSTMCell: Expected hx[0] to be 1D or
    2D"), then sizes (batch before hidden size), then the dtypes of what meets a weight in a
    product, in the order torch's kernels compute them; c may have another dtype."""
    ref, mine = pair(name, 5, 6)
    inputs = {
        "0-D": torch.tensor(1.0), "1-D": torch.randn(5), "2-D": torch.randn(3, 5),
        "3-D": torch.randn(1, 3, 5), "wrong size": torch.randn(3, 6), "1-D wrong": torch.randn(6),
        "float64": torch.randn(3, 5, dtype=torch.float64), "int": torch.ones(3, 5, dtype=torch.long),
    }  # fmt: skip
    states = {
        "none": None, "1-D": torch.randn(6), "2-D": torch.randn(3, 6), "3-D": torch.randn(1, 3, 6),
        "batch": torch.randn(4, 6), "size": torch.randn(3, 7), "1-D size": torch.randn(7),
        "one row": torch.randn(1, 6), "float64": torch.randn(3, 6, dtype=torch.float64),
        "0-D": torch.tensor(1.0),
    }  # fmt: skip
    for (x_name, x), (h_name, h) in itertools.product(inputs.items(), states.items()):
        variants = [h]
        if name == "LSTMCell":
            good = torch.randn(*x.shape[:-1], 6) if x.dim() in (1, 2) else torch.randn(3, 6)
            variants = [None] if h is None else [(h, h), (good, h), (h, good)]
        for hx in variants:
            _same_outcome(ref, mine, (x, hx), (x_name, h_name))


def test_states_that_are_not_tensors_raise_torchs_attribute_error() -> None:
    """torch.nn calls hx.dim(): a tuple for a GRU or RNN, or None inside an LSTM's or LSTM
    cell's pair, raises AttributeError (rnnkit's StateTypeError is also a TypeError and ValueError)."""
    x = torch.randn(4, 3, 5)
    for name in ("RNN", "GRU"):
        ref, mine = pair(name, 5, 6)
        for hx in ((torch.zeros(1, 3, 6),), [torch.zeros(1, 3, 6)], 5):
            _same_outcome(ref, mine, (x, hx), (name, type(hx)))
    ref, mine = pair("LSTM", 5, 6)
    for hx in ((None, torch.zeros(1, 3, 6)), (torch.zeros(1, 3, 6), None)):
        _same_outcome(ref, mine, (x, hx), ("LSTM", hx))
    ref, mine = pair("LSTMCell", 5, 6)
    for hx in ((None, torch.zeros(3, 6)), (torch.zeros(3, 6), None)):
        with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'dim'"):
            mine(x[0], hx)


def test_lstm_cell_takes_c_of_another_dtype_as_torch_nn() -> None:
    """c only enters elementwise arithmetic: torch.nn promotes it; so does rnnkit."""
    ref, mine = pair("LSTMCell", 5, 6)
    x, h, c = torch.randn(3, 5), torch.randn(3, 6), torch.randn(3, 6, dtype=torch.float64)
    assert_close(mine(x, (h, c)), ref(x, (h, c)))
    assert dtypes(mine(x, (h, c))) == [torch.float64, torch.float64]


@pytest.mark.parametrize("name", LAYERS)
def test_rnnbase_check_input_and_expected_hidden_size_as_torch_nn(name) -> None:
    """RNNBase.check_input takes what forward passes it (3-D, or 2-D packed data): any other
    dimension count is torch.nn's RuntimeError "input must have 3 dimensions, got 2"."""
    ref, mine = pair(name, 3, 4, batch_first=True)
    for x, sizes in ((torch.randn(5, 3), None), (torch.randn(2, 5, 3), None),
                     (torch.randn(1, 2, 5, 3), None), (torch.randn(5, 3), torch.tensor([3, 2])),
                     (torch.randn(2, 5, 4), None), (torch.randn(2, 5, 3).double(), None)):  # fmt: skip
        _same_outcome(ref.check_input, mine.check_input, (x, sizes), tuple(x.shape))
        assert mine.get_expected_hidden_size(x, sizes) == ref.get_expected_hidden_size(x, sizes)


def test_cudnn_forward_exception() -> None:
    """test_cudnn_forward_exception (it runs on the CPU too)."""
    cases = [
        (rnn.LSTM(10, 20, batch_first=True), (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))),
        (rnn.LSTM(10, 20, batch_first=True, proj_size=10),
         (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))),
        (rnn.GRU(10, 20, batch_first=True), torch.zeros(1, 2, 19)),
        (rnn.RNN(10, 20, batch_first=True), torch.zeros(1, 2, 19)),
    ]  # fmt: skip
    x_wrong, x_right = torch.randn(2, 3, 3), torch.randn(2, 3, 10)
    for layer, hidden in cases:
        with pytest.raises(RuntimeError, match=r"Expected hidden.*size.*got"):
            layer(x_right, hidden)
        with pytest.raises(RuntimeError, match=re.escape("input.size(-1) must be equal to input_size")):
            layer(x_wrong)


# --- torch.jit.script -----------------------------------------------------------------------


class Tagger(nn.Module):
    """A model holding a recurrent layer, as user code scripts it."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.layer(x)[0])


@pytest.mark.parametrize(
    ("name", "options"),
    [("RNN", {"nonlinearity": "relu", "bias": False}), ("LSTM", {"num_layers": 2, "dropout": 0.2}),
     ("GRU", {"batch_first": True})],
)  # fmt: skip
def test_jit_script_compiles_a_model_holding_a_layer(name, options) -> None:
    """torch.nn's layers script as submodules (a scripted torch.nn.LSTM alone has only
    forward__0/forward__1, as rnnkit's); the scripted model computes what the eager one did,
    and its gradients reach rnnkit's parameters."""
    torch.manual_seed(0)
    layer = getattr(rnn, name)(3, 4, **options)
    model = Tagger(layer).eval()
    x = torch.randn(5, 2, 3)
    want = model(x)
    scripted = torch.jit.script(model)
    assert_close(scripted(x), want)
    scripted(x).sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


@pytest.mark.parametrize("name", CELLS)
def test_jit_script_compiles_a_cell(name) -> None:
    torch.manual_seed(0)
    cell = getattr(rnn, name)(3, 4)
    x = torch.randn(2, 3)
    assert_close(torch.jit.script(cell)(x), cell(x))


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", *CELLS])
def test_jit_script_works_with_rnnkit_classes_put_in_torch_nns_place(name, monkeypatch) -> None:
    """A test suite may swap classes (``torch.nn.LSTM = rnnkit.nn.LSTM``): the twin scripted
    is still torch's own class, not rnnkit's again."""
    for swapped in ("RNN", "LSTM", "GRU", *CELLS):
        monkeypatch.setattr(nn, swapped, getattr(rnn, swapped))
    torch.manual_seed(0)
    module = getattr(nn, name)(3, 4)
    x = torch.randn(2, 3)
    if name not in CELLS:  # a scripted layer alone has no forward, torch.nn's neither
        module, x = Tagger(module), torch.randn(5, 2, 3)
    assert_close(torch.jit.script(module)(x), module(x))


def test_jit_script_refuses_rnnkit_only_options_and_rewritten_weights() -> None:
    for module in (rnn.LSTM(3, 4, layer_norm=True), rnn.GRU(3, 4, recurrent_dropout=0.2),
                   rnn.GRUCell(3, 4, layer_norm=True)):  # fmt: skip
        with pytest.raises(InvalidArgumentError, match=re.escape("torch.jit.script")):
            torch.jit.script(module)
    layer = rnn.LSTM(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        nn.utils.weight_norm(layer, "weight_hh_l0")
    with pytest.raises(InvalidArgumentError, match="weight_hh_l0"):
        torch.jit.script(layer)


# --- test_nn.py -----------------------------------------------------------------------------


def test_weight_tying_on_the_cpu() -> None:
    """test_cudnn_weight_tying's steps on the CPU: a bias shared between directions, one SGD
    step, the same outputs as torch.nn."""
    for name in LAYERS:
        outputs = []
        for library in (nn, rnn):
            torch.manual_seed(0)
            layer = getattr(library, name)(10, 20, batch_first=True, bidirectional=True)
            layer.bias_ih_l0_reverse = layer.bias_ih_l0
            x = torch.randn(5, 4, 10)
            optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
            layer(x)[0].sum().backward()
            optimizer.step()
            outputs.append(layer(x)[0])
        assert_close(outputs[1], outputs[0])


@pytest.mark.parametrize("training", [True, False])
def test_rnn_change_dropout(training) -> None:
    """test_RNN_change_dropout, with its comparisons to the previous output."""
    torch.manual_seed(0)
    layer = rnn.RNN(100, 100, 2, dropout=0, nonlinearity="relu").double().train(training)
    x = torch.rand(3, 2, 100, dtype=torch.float64)
    previous = None
    for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
        layer.dropout = p
        (out1, h1), (out2, h2) = layer(x), layer(x)
        if p in (0, 1) or not training:
            assert torch.equal(out1, out2) and torch.equal(h1, h2)
        else:
            assert not torch.equal(out1, out2) and not torch.equal(h1, h2)
        if previous is not None:
            assert torch.equal(out1, previous) == (not training)
        previous = out1


@pytest.mark.parametrize(("p", "training"), [(0, True), (0.1234, True), (0.1234, False)])
def test_rnn_dropout_state(p, training) -> None:
    """test_RNN_dropout_state: torch.save/torch.load and flatten_parameters keep the module."""
    layer = rnn.RNN(100, 100, 2, bias=False, dropout=p, nonlinearity="relu").train(training)
    x, hx = torch.rand(1, 1, 100), torch.rand(2, 1, 100)
    out1, hy1 = layer(x, hx)
    out2, hy2 = layer(x, hx)
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    copy_ = torch.load(buffer, weights_only=False)
    copy_.flatten_parameters()
    out3, hy3 = copy_(x, hx)
    same = p == 0 or not training
    assert torch.equal(out1, out2) == same and torch.equal(out1, out3) == same
    assert torch.equal(hy1, hy2) == same and torch.equal(hy1, hy3) == same


@pytest.mark.parametrize("proj_size", [0, 2])
@pytest.mark.parametrize("default_hiddens", [True, False])
def test_variable_sequence(default_hiddens, proj_size) -> None:
    """test_variable_sequence: a packed batch equals its sequences run one by one (strided
    slices), forward and backward."""
    cases = [(True, [5]), (False, [5]), (True, [10, 10, 6, 2, 2, 1, 1]),
             (False, [10, 10, 6, 2, 2, 1, 1]), (False, [2, 1, 3, 2, 10, 5, 3])]  # fmt: skip
    for enforce_sorted, lengths in cases:
        torch.manual_seed(0)
        x_leaf = torch.randn(max(lengths), len(lengths), 3, requires_grad=True)
        lstm = rnn.LSTM(3, 4, bidirectional=True, num_layers=2, proj_size=proj_size)
        lstm2 = copy.deepcopy(lstm)
        hidden0 = None
        if not default_hiddens:
            hidden0 = (torch.randn(4, len(lengths), proj_size or 4), torch.randn(4, len(lengths), 4))
        outs, hiddens = [], []
        for i, length in enumerate(lengths):
            hidden_i = None if hidden0 is None else tuple(h[:, i : i + 1].contiguous() for h in hidden0)
            out, hid = lstm2(x_leaf[:length, i : i + 1], hidden_i)
            outs.append(torch.cat([out, out.new_zeros(max(lengths) - length, *out.shape[1:])]))
            hiddens.append(hid)
        seq_out = torch.cat(outs, 1)
        seq_hidden = tuple(torch.cat(parts, 1) for parts in zip(*hiddens, strict=True))
        packed = pack_padded_sequence(x_leaf, lengths, enforce_sorted=enforce_sorted)
        packed_out, packed_hidden = lstm(packed, hidden0)
        unpacked, unpacked_lengths = pad_packed_sequence(packed_out)
        assert_close(packed_hidden, seq_hidden, atol=1e-5, rtol=0)
        assert_close(unpacked, seq_out, atol=1e-5, rtol=0)
        assert unpacked_lengths.tolist() == lengths
        seq_out.sum().backward()
        grad_x = x_leaf.grad.clone()
        x_leaf.grad.zero_()
        unpacked.sum().backward()
        assert_close(x_leaf.grad, grad_x, atol=1e-5, rtol=0)
        for p1, p2 in zip(lstm.parameters(), lstm2.parameters(), strict=True):
            assert_close(p1.grad, p2.grad, atol=1e-5, rtol=0)


def test_lstm_differentiable_backward_with_and_without_onednn() -> None:
    """test_LSTM_differentiable_backward_using_oneDNN: the input gradient with create_graph
    and its own backward agree with oneDNN off and on."""
    torch.manual_seed(0)
    net = rnn.LSTM(3, 3, 20, batch_first=True)
    net_clone = copy.deepcopy(net)
    x = torch.rand(10, 12, 3)
    results = []
    enabled = torch._C._get_mkldnn_enabled()
    try:
        for module, onednn in ((net, False), (net_clone, True)):
            torch._C._set_mkldnn_enabled(onednn)
            xi = x.clone().requires_grad_(True)
            out, _ = module(xi)
            (der,) = torch.autograd.grad(out, xi, torch.ones_like(out), create_graph=True)
            der.sum().backward()
            results.append((der, xi.grad))
    finally:
        torch._C._set_mkldnn_enabled(enabled)
    assert_close(results[1], results[0])


def test_lstm_cell_backward_from_one_output() -> None:
    """test_lstmcell_backward_only_one_output_grad."""
    cell = rnn.LSTMCell(2, 3).double()
    s = torch.randn(1, 2, dtype=torch.double, requires_grad=True)
    for i in range(2):
        cell(s)[i].sum().backward()
        assert s.grad is not None and s.grad.abs().sum().item() != 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", LAYERS + CELLS)
def test_half_precision_factory_kwargs_then_forward(name, dtype) -> None:
    """Built in fp16/bf16 with dtype=, run on the CPU: torch.nn's results to that dtype's
    precision (several steps: the same kernel; one step: rnnkit's loop)."""
    ref, mine = pair(name, 3, 5, **({"num_layers": 2} if name in LAYERS else {}), dtype=dtype)
    assert all(p.dtype == dtype for p in mine.parameters())
    for x in ([torch.randn(4, 2, 3, dtype=dtype), torch.randn(1, 2, 3, dtype=dtype)]
              if name in LAYERS else [torch.randn(2, 3, dtype=dtype)]):  # fmt: skip
        assert_close(mine(x), ref(x), atol=2e-2, rtol=2e-2)
