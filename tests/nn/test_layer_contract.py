"""Contract tests run over every layer in the registry (layer_cases.CASES).

Each layer: float64 numeric gradients of the input and every parameter, parity with
PyTorch, dtype preserved end to end, inputs left untouched, and clear errors for
misuse (backward before forward, integer input, wrong dout shape, non-arrays).
"""

import numpy as np
import pytest

from babysit.errors import InputError
from babysit.nn import Sequential, check_layer_gradients

from .layer_cases import CASE_IDS, CASES
from .torch_helpers import assert_layer_matches_torch

cases = pytest.mark.parametrize("case", CASES, ids=CASE_IDS)


def _first_layer(layer):
    return layer.layers[0] if isinstance(layer, Sequential) else layer


@cases
def test_numeric_gradients(case):
    layer = case.layer()
    errors = check_layer_gradients(layer, case.x())
    assert set(errors) == {"x"} | set(layer.params)
    for name, err in errors.items():
        if name in case.zero_grad:
            assert np.abs(layer.grads[name]).max() < 1e-10, name
        else:
            assert err < 1e-7, f"{case.id}: gradient of {name} has relative error {err:.2e}"


@cases
def test_matches_torch(case, torch):
    layer = case.layer()
    tf = (lambda m, x: case.torch_forward(layer, m, x)) if case.torch_forward else None
    assert_layer_matches_torch(layer, case.torch(torch.nn), case.x(), case.links, train=case.train,
                               buffers=case.buffers, torch_forward=tf)


@cases
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved_through_forward_and_backward(case, dtype):
    layer = case.layer(dtype)
    x = case.x(dtype=dtype)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dtype and dx.dtype == dtype
    assert dx.shape == x.shape
    assert layer.last_output is out  # a reference, not a copy
    assert set(layer.grads) == set(layer.params)
    for name, p in layer.params.items():
        assert p.dtype == dtype and layer.grads[name].dtype == dtype, name
        assert layer.grads[name].shape == p.shape, name


@cases
def test_forward_and_backward_leave_inputs_untouched(case):
    layer = case.layer()
    x = case.x()
    x0 = x.copy()
    out = layer.forward(x)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    dout0 = dout.copy()
    layer.backward(dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, dout0)


@cases
def test_backward_before_forward_names_the_layer(case):
    layer = case.layer()
    with pytest.raises(InputError, match=r"backward\(\) called before forward\(\)") as info:
        layer.backward(np.ones(case.shape))
    # a Sequential runs backward from its last layer, so that layer is the one that complains
    misused = layer.layers[-1] if isinstance(layer, Sequential) else layer
    assert str(info.value).startswith(f"{misused!r}: backward() called before forward()")


@cases
def test_backward_with_wrong_dout_shape(case):
    layer = case.layer()
    out = layer.forward(case.x())
    with pytest.raises(InputError, match="backward expected dout of shape") as info:
        layer.backward(np.ones(out.shape + (2,)))
    assert str(out.shape) in str(info.value)


@cases
def test_integer_input_is_rejected_naming_layer_and_dtype(case):
    layer = case.layer()
    x = np.ones(case.shape, dtype=np.int64)
    with pytest.raises(InputError) as info:
        layer.forward(x)
    msg = str(info.value)
    assert type(_first_layer(layer)).__name__ in msg
    assert "float" in msg and "int64" in msg


@cases
def test_non_array_input_is_rejected(case):
    with pytest.raises(InputError, match="must be a NumPy array; got list"):
        case.layer().forward(case.x().tolist())


@cases
def test_train_and_eval_switch_mode(case):
    layer = case.layer()
    assert layer.eval() is layer and layer.training is False
    assert layer.train() is layer and layer.training is True
    if isinstance(layer, Sequential):
        layer.eval()
        assert not any(sub.training for sub in layer)


@cases
@pytest.mark.parametrize("layout", ["fortran", "strided-view"])
def test_memory_layout_of_the_input_does_not_change_the_result(case, layout):
    x = case.x()
    if layout == "fortran":
        odd = np.asfortranarray(x)
    else:  # every other element of a wider buffer: a view with non-unit strides
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],))
        wide[..., ::2] = x
        odd = wide[..., ::2]
    assert not odd.flags.c_contiguous or x.ndim == 1
    dout = np.random.default_rng(2).standard_normal(case.layer().forward(x).shape)
    results = []
    for inp in (x, odd):
        layer = case.layer()
        out = layer.forward(inp).copy()
        dx = layer.backward(dout)
        results.append((out, dx, {k: g.copy() for k, g in layer.grads.items()}))
    (out0, dx0, g0), (out1, dx1, g1) = results
    np.testing.assert_allclose(out1, out0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx1, dx0, rtol=1e-12, atol=1e-14)
    for name in g0:
        np.testing.assert_allclose(g1[name], g0[name], rtol=1e-12, atol=1e-14, err_msg=name)
