"""The dtype contract: a float32 model stays float32 everywhere; float64 when asked; same seed, same weights."""

import numpy as np
import pytest

from babysit.nn import ConvNet, FullyConnectedNet, TwoLayerNet

D, C, IMAGE = 12, 4, (2, 4, 4)


def _models(dtype):
    return {
        "fc-bn-dropout": FullyConnectedNet([8, 6], input_dim=D, num_classes=C, normalization="batchnorm",
                                           dropout=0.3, reg=0.1, dtype=dtype, seed=0),
        "fc-prelu": FullyConnectedNet([6], input_dim=D, num_classes=C, activation="prelu", dtype=dtype, seed=0),
        "fc-maxout": FullyConnectedNet([6], input_dim=D, num_classes=C, activation="maxout", dtype=dtype, seed=0),
        "convnet": ConvNet(input_dim=IMAGE, conv_channels=[3], hidden_dims=[5], num_classes=C, reg=0.1,
                           dtype=dtype, seed=0),
        "convnet-bn": ConvNet(input_dim=IMAGE, conv_channels=[3, 2], hidden_dims=[5], num_classes=C,
                              normalization="batchnorm", dtype=dtype, seed=0),
    }


def _input(model, input_dtype, n=6):
    rng = np.random.default_rng(1)
    shape = (n, *model.input_shape)
    if np.dtype(input_dtype).kind == "u":
        return rng.integers(0, 256, shape).astype(input_dtype)
    return rng.standard_normal(shape).astype(input_dtype)


MODEL_IDS = list(_models(np.float32))


@pytest.mark.parametrize("name", MODEL_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64, np.uint8])
def test_model_keeps_its_dtype_through_forward_backward_and_loss(name, dtype, input_dtype):
    model = _models(dtype)[name]
    X = _input(model, input_dtype)
    y = np.arange(len(X)) % C

    loss, grads = model.loss(X, y)
    assert isinstance(loss, float) and np.isfinite(loss)
    for layer in model.layers:
        assert layer.last_output.dtype == dtype, f"{layer!r} output is {layer.last_output.dtype}"
    for key, g in grads.items():
        assert g.dtype == dtype and model.params[key].dtype == dtype, key

    scores = model.loss(X)
    assert scores.dtype == dtype
    for layer in model.layers:
        assert layer.last_output.dtype == dtype, f"{layer!r} eval output is {layer.last_output.dtype}"
    for layer in model.layers:  # batchnorm buffers too
        for buffer in ("running_mean", "running_var"):
            if hasattr(layer, buffer):
                assert getattr(layer, buffer).dtype == dtype


@pytest.mark.parametrize("name", MODEL_IDS)
def test_same_seed_gives_the_same_weights_in_float32_and_float64(name):
    m32, m64 = _models(np.float32)[name], _models(np.float64)[name]
    assert list(m32.params) == list(m64.params)
    for key in m32.params:
        np.testing.assert_array_equal(m32.params[key], m64.params[key].astype(np.float32), err_msg=key)


def test_float32_and_float64_losses_agree_to_float32_precision():
    X = _input(_models(np.float32)["fc-prelu"], np.float64)
    y = np.arange(len(X)) % C
    l32, g32 = _models(np.float32)["fc-prelu"].loss(X, y)
    l64, g64 = _models(np.float64)["fc-prelu"].loss(X, y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for key in g64:
        np.testing.assert_allclose(g32[key], g64[key], rtol=1e-3, atol=1e-5, err_msg=key)


def test_two_layer_net_defaults_to_float32_and_small_init():
    model = TwoLayerNet(input_dim=D, hidden_dim=5, num_classes=C, seed=0)
    assert model.dtype == np.float32 and model.init == "small" and model.weight_scale == 1e-3
    assert model.params["W1"].dtype == np.float32
