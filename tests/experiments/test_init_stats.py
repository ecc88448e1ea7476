"""The activation-statistics experiment reproduces the lecture's slide tables."""

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.experiments import format_init_stats, plot_init_stats, run_init_stats


@pytest.fixture(scope="module")
def tables():
    return {
        "tanh_small": run_init_stats(activation="tanh", init="small", weight_scale=0.01, seed=0),
        "tanh_one": run_init_stats(activation="tanh", init="small", weight_scale=1.0, seed=0),
        "tanh_xavier": run_init_stats(activation="tanh", init="xavier", seed=0),
        "relu_xavier": run_init_stats(activation="relu", init="xavier", seed=0),
        "relu_he": run_init_stats(activation="relu", init="he", seed=0),
    }


def test_input_is_unit_gaussian(tables):
    s = tables["tanh_small"]
    assert abs(s.input_mean) < 0.01 and abs(s.input_std - 1.0) < 0.01


def test_tanh_small_init_collapses_to_zero(tables):
    stds = tables["tanh_small"].layer_stds
    # slide: 0.213081, 0.047551, 0.010638, ... 0.000000
    assert stds[0] == pytest.approx(0.213, abs=0.01)
    assert stds[1] == pytest.approx(0.0476, abs=0.003)
    assert all(b < 0.3 * a for a, b in zip(stds, stds[1:]))
    assert stds[-1] < 1e-5


def test_tanh_unit_scale_saturates(tables):
    stds = tables["tanh_one"].layer_stds
    assert all(s == pytest.approx(0.98, abs=0.01) for s in stds)
    h = tables["tanh_one"].activations[-1]
    assert np.mean(np.abs(h) > 0.99) > 0.8  # almost all neurons at -1 or 1


def test_xavier_tanh_decays_gently(tables):
    stds = tables["tanh_xavier"].layer_stds
    assert stds[0] == pytest.approx(0.628, abs=0.01)
    assert stds[-1] == pytest.approx(0.228, abs=0.02)
    assert all(b < a for a, b in zip(stds, stds[1:]))


def test_xavier_relu_halves_each_layer(tables):
    stds = tables["relu_xavier"].layer_stds
    assert stds[0] == pytest.approx(0.582, abs=0.02)
    assert 0.01 < stds[-1] < 0.05  # slide: 0.026876


def test_he_relu_stays_near_point_eight(tables):
    stds = tables["relu_he"].layer_stds
    assert all(0.6 < s < 1.0 for s in stds)  # slide: 0.81 .. 0.89


def test_format_is_the_slides(tables):
    lines = format_init_stats(tables["tanh_small"])
    assert len(lines) == 11
    assert lines[0].startswith("input layer had mean ") and " and std " in lines[0]
    assert lines[1].startswith("hidden layer 1 had mean ")
    assert lines[10].startswith("hidden layer 10 had mean ") and lines[10].endswith("std 0.000000")


def test_same_seed_same_numbers():
    a = run_init_stats(layers=3, width=20, samples=50, seed=7)
    b = run_init_stats(layers=3, width=20, samples=50, seed=7)
    assert a.layer_stds == b.layer_stds


def test_zero_init_gives_zero_activations():
    s = run_init_stats(layers=3, width=20, samples=50, init="zeros", activation="tanh")
    assert s.layer_stds == [0.0, 0.0, 0.0]


def test_plot_writes_png(tmp_path):
    s = run_init_stats(layers=3, width=20, samples=50)
    out = tmp_path / "stats.png"
    plot_init_stats(s, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kwargs", [{"layers": 0}, {"width": -1}, {"samples": 2.5}, {"activation": "swish"},
                                    {"init": "orthogonal"}, {"weight_scale": -1.0}])
def test_bad_settings_are_config_errors_naming_the_parameter(kwargs):
    (parameter,) = kwargs
    with pytest.raises(ConfigError, match=f"The '{parameter}' parameter of run_init_stats must be"):
        run_init_stats(**{"layers": 2, "width": 4, "samples": 5, **kwargs})
