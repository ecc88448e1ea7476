"""Model specs: the --model syntax and the models it builds."""

import pytest

from babysit.errors import ConfigError
from babysit.nn import ConvNet, FullyConnectedNet
from babysit.train.model_spec import ModelSpec, build_from_spec, parse_model_spec


@pytest.mark.parametrize("text, spec", [
    ("fc:100,100", ModelSpec("fc", (100, 100))),
    ("fc: 50", ModelSpec("fc", (50,))),
    ("fc", ModelSpec("fc", ())),
    ("conv:32,64", ModelSpec("conv", (), (32, 64))),
    ("conv:16/100,50", ModelSpec("conv", (100, 50), (16,))),
])
def test_parse(text, spec):
    assert parse_model_spec(text) == spec
    assert parse_model_spec(str(spec)) == spec


@pytest.mark.parametrize("text", ["mlp:100", "fc:100,x", "fc:0", "conv", "conv:/100", "fc:100,", "conv:32/-1", ""])
def test_bad_specs_are_config_errors(text):
    with pytest.raises(ConfigError) as info:
        parse_model_spec(text)
    assert info.value.parameter == "model" and "--" not in str(info.value)  # the CLI names its flag


def test_build_fc_with_options():
    model = build_from_spec("fc:20,10", input_shape=(1, 8, 8), num_classes=10, activation="tanh",
                            normalization="batchnorm", dropout=0.2, reg=1e-3, seed=0)
    assert isinstance(model, FullyConnectedNet)
    assert model.params["W1"].shape == (64, 20) and model.params["W3"].shape == (10, 10)
    assert model.config()["activation"] == "tanh" and model.reg == 1e-3
    flat = build_from_spec("fc", input_shape=(30,), num_classes=3)
    assert list(flat.params) == ["W1", "b1"] and flat.params["W1"].shape == (30, 3)


def test_build_conv():
    model = build_from_spec("conv:4,8/16", input_shape=(3, 8, 8), num_classes=5, seed=0)
    assert isinstance(model, ConvNet)
    assert model.params["W1"].shape == (4, 3, 3, 3) and model.params["W2"].shape == (8, 4, 3, 3)
    assert model.params["W3"].shape == (8 * 2 * 2, 16) and model.params["W4"].shape == (16, 5)


def test_conv_needs_images_and_has_no_dropout():
    with pytest.raises(ConfigError, match=r"is a ConvNet, which needs image input \(C, H, W\); the data has examples of shape \(100,\)"):
        build_from_spec("conv:8", input_shape=(100,), num_classes=10)
    with pytest.raises(ConfigError, match="the ConvNet has no dropout layers"):
        build_from_spec("conv:8", input_shape=(3, 8, 8), num_classes=10, dropout=0.5)
    with pytest.raises(ConfigError, match="shrink"):
        build_from_spec("conv:8,8,8,8", input_shape=(1, 8, 8), num_classes=10)
