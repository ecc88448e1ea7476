"""Models: whole-model numeric gradients, PyTorch parity of loss and grads, config round trip, misuse."""

import json

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.nn import BatchNorm, ConvNet, FullyConnectedNet, TwoLayerNet, build_model
from babysit.nn.base import Layer
from babysit.nn.gradcheck import model_gradients

from .torch_helpers import assert_model_matches_torch, copy_params_from_torch, model_links, torch_twin

# every test here runs on the whole batch and in batch parts (tests/nn/conftest.py)
pytestmark = pytest.mark.usefixtures("batch_split")

N, D, C = 5, 6, 3
IMAGE = (2, 4, 4)


def _data(shape=(D,), n=N, classes=C, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, classes, n)


def _biases_before_batchnorm(model) -> set[str]:
    """Biases feeding a batchnorm layer: their true gradient is exactly 0 (the mean subtracts them)."""
    layers = list(model.layers)
    names = set()
    for name in model.params:
        layer, local = model.params.owner(name)
        i = layers.index(layer)
        if local == "b" and i + 1 < len(layers) and isinstance(layers[i + 1], BatchNorm):
            names.add(name)
    return names


def _nonzero_biases(model, seed=0):
    """Random biases: with zero biases, an all-zero (dropped) hidden row sits exactly on ReLU's kink."""
    rng = np.random.default_rng(seed)
    for name in model.params:
        if name.startswith("b"):
            model.params[name] = rng.uniform(-0.5, 0.5, model.params[name].shape)


def assert_model_gradients_ok(model, X, y, tol=1e-6, h=1e-5):
    """Analytic and numeric gradients of every parameter agree elementwise; returns the worst relative errors.

    h=1e-5: gradients of ~1e-5 (saturated sigmoids) lose more to rounding at the default 1e-6.
    A gradient that is 0 in truth leaves the centred difference at its rounding noise,
    (k ulp of the loss) / 2h ~ 1e-11, where a relative error compares noise with noise and
    can be anything: such elements pass when both sides are below ``noise``. That is more than
    the biases right before a batchnorm: in conv-bn-reg, beta1[1] (the spatial batchnorm's
    shift of channel 1) has every one of its ReLUs active after pooling, so it shifts the
    Flatten'ed features of every sample alike, and the next BatchNorm subtracts that shift away.
    """
    _nonzero_biases(model)
    zero = _biases_before_batchnorm(model)
    loss, analytic, numeric = model_gradients(model, X, y, h=h)
    assert set(analytic) == set(model.params)
    noise = 10 * np.finfo(np.float64).eps * max(1.0, abs(loss)) / h
    errors = {}
    for name, a in analytic.items():
        n = numeric[name]
        if name in zero:
            assert np.abs(a).max() < 1e-10, name
            continue
        err = np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))
        err[(np.abs(a) < noise) & (np.abs(n) < noise)] = 0.0  # both are rounding noise of a zero gradient
        worst = np.unravel_index(int(np.argmax(err)), err.shape)
        assert err.max() < tol, f"{name}: relative error {err.max():.2e} at {worst} (analytic {a[worst]:.3e}, " \
                                f"numeric {n[worst]:.3e})"
        errors[name] = float(err.max())
    return errors


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "prelu", "elu", "tanh", "sigmoid", "maxout"])
def test_fully_connected_gradients_per_activation(activation):
    X, y = _data()
    model = FullyConnectedNet([5, 4], input_dim=D, num_classes=C, activation=activation, dtype=np.float64, seed=1)
    errors = assert_model_gradients_ok(model, X, y)
    if activation == "prelu":
        assert {"alpha1", "alpha2"} <= set(errors)


@pytest.mark.parametrize("kwargs", [
    dict(normalization="batchnorm"),
    dict(dropout=0.3),
    dict(reg=0.7),
    dict(normalization="batchnorm", dropout=0.25, reg=0.3),
    dict(activation="tanh", normalization="batchnorm", reg=0.1),
], ids=["batchnorm", "dropout", "reg", "bn-dropout-reg", "tanh-bn-reg"])
def test_fully_connected_gradients_with_batchnorm_dropout_reg(kwargs):
    X, y = _data()
    model = FullyConnectedNet([5, 4], input_dim=D, num_classes=C, dtype=np.float64, seed=2, **kwargs)
    assert_model_gradients_ok(model, X, y)


@pytest.mark.parametrize("kwargs", [
    dict(conv_channels=[3], hidden_dims=[4]),
    dict(conv_channels=[3], hidden_dims=[4], normalization="batchnorm", reg=0.2),
    dict(conv_channels=[2, 3], hidden_dims=[]),
], ids=["conv-affine", "conv-bn-reg", "two-blocks"])
def test_convnet_gradients(kernels, kwargs):
    X, y = _data(IMAGE, n=3)
    model = ConvNet(input_dim=IMAGE, num_classes=C, dtype=np.float64, seed=3, **kwargs)
    assert_model_gradients_ok(model, X, y)


def test_batchnorm_shift_of_an_all_active_channel_has_no_gradient_through_the_next_batchnorm():
    # conv -> spatial bn -> relu -> pool -> flatten -> affine -> bn: with beta1 large, every ReLU fires, so
    # beta1 adds the same vector to every sample's features and the second batchnorm removes it: d loss / d beta1 = 0
    X, y = _data(IMAGE, n=3)
    model = ConvNet(input_dim=IMAGE, conv_channels=[3], hidden_dims=[4], num_classes=C, normalization="batchnorm",
                    dtype=np.float64, seed=3)
    model.params["beta1"] = np.full(3, 10.0)
    _, grads = model.loss(X, y)
    assert np.abs(grads["beta1"]).max() < 1e-12
    assert np.abs(grads["gamma1"]).min() > 1e-6  # gamma still scales each sample differently


@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_regularization_adds_half_reg_sum_of_squared_weights(reg):
    X, y = _data()
    plain = FullyConnectedNet([4], input_dim=D, num_classes=C, dtype=np.float64, seed=4)
    regd = FullyConnectedNet([4], input_dim=D, num_classes=C, reg=reg, dtype=np.float64, seed=4)
    loss0, grads0 = plain.loss(X, y)
    grads0 = {k: v.copy() for k, v in grads0.items()}
    loss1, grads1 = regd.loss(X, y)
    squares = sum(float(np.sum(regd.params[w] ** 2)) for w in ("W1", "W2"))
    assert loss1 == pytest.approx(loss0 + 0.5 * reg * squares, rel=1e-12)
    np.testing.assert_allclose(grads1["W1"], grads0["W1"] + reg * regd.params["W1"])
    np.testing.assert_allclose(grads1["b1"], grads0["b1"])  # biases are not regularized


# -- PyTorch parity -----------------------------------------------------------
def _assert_matches_torch(model, X, y, from_torch=False):
    module, layer_links = torch_twin(model.layers)
    links = model_links(model, layer_links)
    if from_torch:  # start from torch's own initialization instead of babysit's
        copy_params_from_torch(module, model.params, links)
    buffers = {f"{i}.{b}": f"{i}.{b}" for i, layer in enumerate(model.layers) if isinstance(layer, BatchNorm)
               for b in ("running_mean", "running_var")}
    assert_model_matches_torch(model, module, links, X, y, buffers=buffers)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(activation="tanh", reg=0.3), dict(activation="prelu"), dict(activation="maxout", reg=0.1),
    dict(activation="elu", normalization="batchnorm"), dict(activation="leaky_relu", normalization="batchnorm", reg=1.0),
], ids=["relu", "tanh-reg", "prelu", "maxout-reg", "elu-bn", "leaky-bn-reg"])
def test_fully_connected_matches_torch(torch, kwargs):
    X, y = _data()
    model = FullyConnectedNet([5, 4], input_dim=D, num_classes=C, dtype=np.float64, seed=5, **kwargs)
    _assert_matches_torch(model, X, y)


@pytest.mark.parametrize("kwargs", [
    dict(conv_channels=[3], hidden_dims=[4]),
    dict(conv_channels=[2, 3], hidden_dims=[4], normalization="batchnorm", reg=0.2),
], ids=["plain", "bn-reg"])
def test_convnet_matches_torch(torch, kernels, kwargs):
    X, y = _data(IMAGE, n=4)
    model = ConvNet(input_dim=IMAGE, num_classes=C, dtype=np.float64, seed=6, **kwargs)
    _assert_matches_torch(model, X, y)


def test_weights_copied_from_torch_give_the_same_loss(torch):
    X, y = _data()
    model = FullyConnectedNet([5], input_dim=D, num_classes=C, normalization="batchnorm", dtype=np.float64, seed=7)
    _assert_matches_torch(model, X, y, from_torch=True)


# -- construction, config, predict ------------------------------------------
def test_config_is_json_and_rebuilds_the_same_model():
    for model in (FullyConnectedNet([4, 3], input_dim=D, num_classes=C, activation="tanh", normalization="batchnorm",
                                    dropout=0.2, reg=0.1, seed=8),
                  ConvNet(input_dim=IMAGE, conv_channels=[2], hidden_dims=[3], num_classes=C, seed=8),
                  TwoLayerNet(input_dim=D, hidden_dim=4, num_classes=C, seed=8)):
        config = json.loads(json.dumps(model.config()))
        rebuilt = build_model(config)
        assert type(rebuilt) is type(model) and rebuilt.config() == model.config()
        for name in model.params:
            np.testing.assert_array_equal(rebuilt.params[name], model.params[name])


def test_predict_returns_labels_in_eval_mode():
    X, _ = _data(n=7)
    model = FullyConnectedNet([4], input_dim=D, num_classes=C, dropout=0.5, seed=9)
    labels = model.predict(X, batch_size=3)
    assert labels.shape == (7,) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, model.loss(X).argmax(axis=1))
    np.testing.assert_array_equal(labels, model.predict(X))  # no dropout noise in eval mode


def test_scores_mode_is_eval_and_deterministic():
    X, _ = _data()
    model = FullyConnectedNet([4], input_dim=D, num_classes=C, normalization="batchnorm", dropout=0.5, seed=10)
    a = model.loss(X)
    assert not any(layer.training for layer in model.layers)
    np.testing.assert_array_equal(a, model.loss(X))
    assert a.shape == (N, C)


def test_image_input_is_flattened_by_the_fully_connected_net():
    X, y = _data(IMAGE)
    model = FullyConnectedNet([4], input_dim=IMAGE, num_classes=C, dtype=np.float64, seed=11)
    np.testing.assert_array_equal(model.loss(X), model.loss(X.reshape(N, -1)))


def test_convnet_accepts_flat_rows():
    X, _ = _data(IMAGE)
    model = ConvNet(input_dim=IMAGE, conv_channels=[2], num_classes=C, dtype=np.float64, seed=12)
    np.testing.assert_array_equal(model.loss(X), model.loss(X.reshape(N, -1)))


# -- misuse -------------------------------------------------------------------
@pytest.mark.parametrize("make, X, message", [
    (lambda: FullyConnectedNet([4], input_dim=D), np.zeros((2, 7)),
     r"FullyConnectedNet: expected input X of shape \(N, 6\), got \(2, 7\)"),
    (lambda: FullyConnectedNet([4], input_dim=D), np.zeros(6),
     r"FullyConnectedNet: expected input X of shape \(N, 6\), got \(6,\)"),
    (lambda: ConvNet(input_dim=IMAGE, conv_channels=[2]), np.zeros((2, 3, 4, 4)),
     r"ConvNet: expected input X of shape \(N, 2, 4, 4\) or \(N, 32\), got \(2, 3, 4, 4\)"),
])
def test_wrong_input_shape_names_model_expectation_and_shape(make, X, message):
    with pytest.raises(InputError, match=message):
        make().loss(X)


@pytest.mark.parametrize("X", [np.zeros((2, D), np.complex128), np.full((2, D), None, object),
                               np.full((2, D), "a"), np.zeros((2, D), bool)],
                         ids=["complex", "object", "string", "bool"])
def test_non_real_input_dtype_is_rejected(X):
    with pytest.raises(InputError, match=f"FullyConnectedNet: expected real-valued input X, got dtype {X.dtype}"):
        FullyConnectedNet([4], input_dim=D).loss(X)


@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
def test_non_finite_input_names_the_first_bad_index(bad, kind):
    X, y = _data()
    X[3, 2] = bad
    X[4, 0] = bad
    model = FullyConnectedNet([4], input_dim=D, num_classes=C)
    for call in (lambda: model.loss(X), lambda: model.loss(X, y)):
        with pytest.raises(InputError, match=rf"FullyConnectedNet: input X contains 2 non-finite value\(s\) "
                                             rf"\({kind} at index \(3, 2\)\); expected finite numbers"):
            call()


@pytest.mark.parametrize("init", ["he", "zeros"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_caught_from_the_first_layers_output_in_every_position(init, bad):
    """The MLPs check the first Affine's output instead of X: a NaN/inf anywhere in X (here: every
    position in turn, with all-zero weights too, where inf * 0 must still give NaN) is an InputError,
    and the rejected call leaves batchnorm's statistics alone."""
    model = FullyConnectedNet([4], input_dim=6, num_classes=C, init=init, normalization="batchnorm", seed=1)
    assert model._check_first_output
    bn = model.layers[1]
    for i, j in np.ndindex(3, 6):
        X = np.ones((3, 6))
        X[i, j] = bad
        with pytest.raises(InputError, match=rf"input X contains 1 non-finite value\(s\) .* at index \({i}, {j}\)"):
            model.loss(X, np.zeros(3, int))
        with pytest.raises(InputError, match="input X contains 1 non-finite"):
            model.loss(X)
    np.testing.assert_array_equal(bn.running_mean, 0.0)


def test_non_finite_weights_give_a_non_finite_loss_not_an_input_error():
    X, y = _data()
    model = FullyConnectedNet([4], input_dim=D, num_classes=C, seed=0)
    model.params["W1"][0, 0] = np.nan
    loss, _ = model.loss(X, y)
    assert np.isnan(loss)


def test_models_check_x_itself_where_the_first_layer_is_no_affine():
    assert not ConvNet(input_dim=IMAGE, conv_channels=[2])._check_first_output
    assert not FullyConnectedNet([4], input_dim=D, activation="maxout")._check_first_output
    X, y = _data()
    X[2, 1] = np.inf
    with pytest.raises(InputError, match=r"inf at index \(2, 1\)"):
        FullyConnectedNet([4], input_dim=D, num_classes=C, activation="maxout").loss(X, y)


def test_non_finite_image_input_index_is_in_the_callers_shape():
    X, _ = _data(IMAGE)
    X[1, 1, 2, 3] = np.nan
    with pytest.raises(InputError, match=r"ConvNet: .*NaN at index \(1, 1, 2, 3\)"):
        ConvNet(input_dim=IMAGE, conv_channels=[2]).loss(X)


@pytest.mark.parametrize("y, message", [
    (np.array([0, 1, 2, 3, 0]), r"labels must be in \[0, 2\] for 3 classes; got 3"),
    (np.array([0, 1, 2]), r"expected labels y of shape \(5,\), got \(3,\)"),
    (np.zeros(5), "labels y must be integers, got dtype float64"),
])
def test_bad_labels_name_the_model_and_leave_it_untouched(y, message):
    X, _ = _data()
    model = FullyConnectedNet([4], input_dim=D, num_classes=C, normalization="batchnorm", dropout=0.5, seed=13)
    bn = model.layers[1]
    state = [layer.rng.bit_generator.state for layer in model.layers if hasattr(layer, "rng")]
    with pytest.raises(InputError, match=f"FullyConnectedNet.loss: {message}"):
        model.loss(X, y)
    # a rejected call must not move the running statistics or consume dropout randomness
    np.testing.assert_array_equal(bn.running_mean, 0.0)
    np.testing.assert_array_equal(bn.running_var, 1.0)
    assert state == [layer.rng.bit_generator.state for layer in model.layers if hasattr(layer, "rng")]


@pytest.mark.parametrize("kwargs, parameter, expected", [
    (dict(activation="swish"), "activation",
     "one of 'relu', 'leaky_relu', 'prelu', 'elu', 'sigmoid', 'tanh', 'maxout'"),
    (dict(init="glorot"), "init", "one of 'small', 'xavier', 'he', 'zeros'"),
    (dict(normalization="layernorm"), "normalization", "one of None, 'batchnorm'"),
    (dict(dropout=1.0), "dropout", r"a float in \[0, 1\)\. Got 1.0"),
    (dict(dropout=-0.5), "dropout", r"a float in \[0, 1\)\. Got -0.5"),
    (dict(dropout=float("nan")), "dropout", r"a float in \[0, 1\)\. Got nan"),
    (dict(reg=-1.0), "reg", r"a float in \[0, inf\)\. Got -1.0"),
    (dict(reg=float("nan")), "reg", r"a float in \[0, inf\)\. Got nan"),
    (dict(reg=float("inf")), "reg", r"a float in \[0, inf\)\. Got inf"),
    (dict(reg="0.1"), "reg", "a float"),
    (dict(weight_scale=-1.0), "weight_scale", r"a float in \[0, inf\)\. Got -1.0"),
    (dict(weight_scale=float("nan")), "weight_scale", r"a float in \[0, inf\)\. Got nan"),
    (dict(dtype=np.int32), "dtype", r"np.float32 or np.float64\. Got dtype\('int32'\)"),
    (dict(dtype=np.float16), "dtype", "np.float32 or np.float64"),
    (dict(num_classes=1), "num_classes", r"an int in \[2, inf\)\. Got 1"),
    (dict(num_classes=3.0), "num_classes", r"an int in \[2, inf\)"),
    (dict(input_dim=0), "input_dim", r"an int in \[1, inf\) or a sequence of them\. Got 0"),
    (dict(input_dim=(1, 0, 8)), "input_dim", "an int in .* or a sequence of them"),
    (dict(input_dim="64"), "input_dim", "an int in .* or a sequence of them"),
    (dict(hidden_dims=[4, 0]), "hidden_dims", r"a sequence of ints in \[1, inf\)\. Got \[4, 0\]"),
    (dict(hidden_dims=[4.5]), "hidden_dims", "a sequence of ints"),
    (dict(hidden_dims=4), "hidden_dims", "a sequence of ints"),
])
def test_bad_fully_connected_configuration(kwargs, parameter, expected):
    args = {"hidden_dims": [4], "input_dim": D} | kwargs
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of FullyConnectedNet must be {expected}"):
        FullyConnectedNet(**args)


def test_weight_scale_with_another_init_is_refused_in_its_own_words():
    with pytest.raises(ConfigError, match="weight_scale applies to init='small' only; got init='xavier'") as info:
        FullyConnectedNet([4], input_dim=D, init="xavier", weight_scale=0.1)
    assert (info.value.parameter, info.value.owner) == ("weight_scale", "FullyConnectedNet")


def test_two_layer_net_names_its_own_parameter():
    with pytest.raises(ConfigError, match=r"The 'hidden_dim' parameter of TwoLayerNet must be an int in \[1, inf\)"):
        TwoLayerNet(input_dim=D, hidden_dim=0)


@pytest.mark.parametrize("kwargs, parameter, expected", [
    (dict(hidden_dims=[4, 0]), "hidden_dims", r"a sequence of ints in \[1, inf\)\. Got \[4, 0\]"),
    (dict(conv_channels=[0]), "conv_channels", r"a sequence of ints in \[1, inf\)"),
    (dict(kernel_size=2), "kernel_size", r"an odd int \(a pad of kernel_size // 2 keeps the size\)\. Got 2"),
    (dict(kernel_size=0), "kernel_size", r"an int in \[1, inf\)"),
    (dict(input_dim=(4, 4)), "input_dim", r"\(C, H, W\): three ints in \[1, inf\)\. Got \(4, 4\)"),
    (dict(conv_channels=[2, 2, 2]), "conv_channels", r"at most 2 blocks for a 4x4 input \(each 2x2 max pool halves "
                                                     r"it: more would shrink it to nothing\)\. Got \[2, 2, 2\]"),
    (dict(normalization="group"), "normalization", "one of None, 'batchnorm'"),
    (dict(reg=float("nan")), "reg", r"a float in \[0, inf\)"),
    (dict(num_classes=1), "num_classes", r"an int in \[2, inf\)"),
    (dict(dtype="float16"), "dtype", "np.float32 or np.float64"),
])
def test_bad_convnet_configuration(kwargs, parameter, expected):
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of ConvNet must be {expected}"):
        ConvNet(**({"input_dim": IMAGE, "conv_channels": [2]} | kwargs))


def test_build_model_rejects_unknown_type_and_arguments():
    with pytest.raises(ConfigError, match="The 'type' parameter of build_model must be one of 'FullyConnectedNet', "
                                          "'TwoLayerNet', 'ConvNet'. Got 'Transformer' instead."):
        build_model({"type": "Transformer"})
    with pytest.raises(ConfigError, match="Unknown parameter 'heads' for FullyConnectedNet; expected one of: "
                                          "hidden_dims, input_dim"):
        build_model({"type": "FullyConnectedNet", "hidden_dims": [3], "heads": 4})
    with pytest.raises(ConfigError, match="The 'config' parameter of build_model must be a complete "
                                          "FullyConnectedNet config"):
        build_model({"type": "FullyConnectedNet"})


def test_every_model_layer_is_a_layer():
    model = ConvNet(input_dim=IMAGE, conv_channels=[2], hidden_dims=[3], normalization="batchnorm")
    assert all(isinstance(layer, Layer) for layer in model.layers)
    assert model.layers[0].input_grad is False  # nobody needs the data's gradient
