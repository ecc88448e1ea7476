import numpy as np
import pytest

from babysit.doctor import activation_stats, layer_statistics

from .doctor_cases import assert_jsonable, fc_factory, with_dead_units

DEEP = [500] * 10  # the lecture's 10-layer, 500-unit net


def kinds(finding):
    return {p["kind"] for p in finding.details["problems"]}


def test_healthy_relu_net_passes_with_histograms(small_digits):
    f = activation_stats(fc_factory([100, 100]), small_digits)
    assert f.status == "pass", f.explanation
    layers = f.details["layers"]
    assert [s["layer"] for s in layers] == ["relu1", "relu2"]
    for s in layers:
        assert sum(s["histogram"]["counts"]) == f.details["rows"] * 100
        assert len(s["histogram"]["edges"]) == 31
        assert s["dead"] < 0.1 and s["symmetric"] < 0.1
    assert set(f.value) == {"relu1", "relu2"}
    assert_jsonable(f)


def test_lectures_deep_tanh_at_0_01_vanishes(small_digits):
    f = activation_stats(fc_factory(DEEP, activation="tanh", weight_scale=0.01), small_digits)
    assert f.status == "fail"
    assert "vanishing" in kinds(f)
    stds = [s["std"] for s in f.details["layers"]]
    assert stds[-1] < 1e-5 * stds[0]  # the slide: 0.21 -> 0.000000
    assert all(a > b for a, b in zip(stds, stds[1:]))  # shrinks at every layer
    assert "xavier" in f.advice


def test_deep_tanh_at_1_0_saturates(small_digits):
    f = activation_stats(fc_factory([500] * 4, activation="tanh", weight_scale=1.0), small_digits)
    assert f.status == "fail"
    assert kinds(f) == {"saturated"}
    assert all(s["saturated"] > 0.5 for s in f.details["layers"])


def test_xavier_tanh_is_healthy(small_digits):
    f = activation_stats(fc_factory([500] * 4, activation="tanh", init="xavier"), small_digits)
    assert f.status == "pass", f.explanation


def test_zero_init_gives_symmetric_units(small_digits):
    f = activation_stats(fc_factory([50, 50], init="zeros"), small_digits)
    assert f.status == "fail"
    symmetric = [p for p in f.details["problems"] if p["kind"] == "symmetric"]
    assert symmetric and symmetric[0]["layers"] == ["W1", "W2", "W3"]
    assert all(s["dead"] == 1.0 for s in f.details["layers"])  # relu(0) never fires
    assert "identical" in f.explanation and "random" in f.advice


def test_constant_nonzero_init_is_symmetric_too(small_digits):
    def make(**kw):
        model = fc_factory([20, 20], activation="tanh")(**kw)
        for name in ("W1", "W2", "W3"):
            model.params[name] = np.full_like(model.params[name], 0.05)
        return model

    f = activation_stats(make, small_digits)
    assert f.status == "fail" and "symmetric" in kinds(f)
    assert all(s["symmetric"] > 0.9 for s in f.details["layers"])  # the units' outputs are identical too


def test_dead_relus_are_flagged(small_digits):
    f = activation_stats(with_dead_units(fc_factory([50, 50])), small_digits)
    assert f.status == "fail"
    assert "dead" in kinds(f)
    assert f.details["layers"][0]["dead"] == 1.0


def test_layer_statistics_match_numpy_on_the_same_forward(small_digits):
    model = fc_factory([30])()
    X = small_digits["X_train"][:50]
    (stats,) = layer_statistics(model, X)
    h = np.maximum(X.reshape(50, -1) @ model.params["W1"] + model.params["b1"], 0)
    assert stats["mean"] == pytest.approx(float(h.mean()), rel=1e-5)
    assert stats["std"] == pytest.approx(float(h.std()), rel=1e-5)
    assert stats["dead"] == pytest.approx(float(np.mean(~(h > 0).any(axis=0))))


def test_conv_net_channels_are_the_units(small_digits):
    from babysit.nn import ConvNet

    f = activation_stats(lambda **kw: ConvNet(input_dim=(1, 8, 8), conv_channels=[4, 8], num_classes=10, seed=0,
                                              **kw), small_digits)
    assert f.status in ("pass", "warn")
    assert [s["layer"] for s in f.details["layers"]] == ["relu1", "relu2"]
