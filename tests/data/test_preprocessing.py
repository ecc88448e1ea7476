"""The lecture's preprocessing: statistics, fit-on-train-only, dtypes and state round trips."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from babysit.data import PREPROCESSING_KINDS, Preprocessor, load_source
from babysit.errors import CheckpointError, ConfigError, InputError


@pytest.fixture(scope="module")
def images():
    """Correlated uint8 'images' (N, 3, 4, 4) whose channels have different means."""
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, (600, 48)) @ rng.normal(0, 1, (48, 48))
    X = base.reshape(600, 3, 4, 4) * 8 + np.array([40.0, 120.0, 200.0])[None, :, None, None]
    return np.clip(X, 0, 255).astype(np.uint8)


def _cov(Z):
    Zc = Z.astype(np.float64) - Z.mean(axis=0, dtype=np.float64)
    return Zc.T @ Zc / len(Z)


def _make(kind):
    return Preprocessor(kind, k=10) if kind == "pca" else Preprocessor(kind)


@pytest.mark.parametrize("kind", PREPROCESSING_KINDS)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_outputs_are_float32_with_the_documented_shape(images, kind, dtype):
    X = images.astype(dtype)
    before = X.copy()
    Z = _make(kind).fit(X).transform(X)
    assert Z.dtype == np.float32
    expected = {"pca": (600, 10), "pca_whiten": (600, 48), "zca_whiten": (600, 48)}.get(kind, X.shape)
    assert Z.shape == expected
    assert np.array_equal(X, before)  # inputs are never modified
    assert not np.shares_memory(Z, X)


def test_none_is_a_float32_copy(images):
    Z = Preprocessor("none").fit(images).transform(images)
    assert np.array_equal(Z, images.astype(np.float32))


def test_mean_image_centres_every_pixel(images):
    pre = Preprocessor("mean_image").fit(images)
    Z = pre.transform(images)
    assert np.abs(Z.mean(axis=0, dtype=np.float64)).max() < 1e-4
    assert np.allclose(pre.arrays_["mean"], images.mean(axis=0, dtype=np.float64))


def test_channel_mean_subtracts_three_numbers(images):
    pre = Preprocessor("channel_mean").fit(images)
    assert pre.arrays_["mean"].shape == (3,)
    Z = pre.transform(images)
    assert np.abs(Z.mean(axis=(0, 2, 3), dtype=np.float64)).max() < 1e-4
    # Within a channel the pixel-wise means still differ: only one number was subtracted.
    assert np.abs(Z.mean(axis=0)[0] - Z.mean(axis=0)[0].mean()).max() > 0.5


def test_standardize_gives_zero_mean_unit_std_and_leaves_constant_features(images):
    X = images.astype(np.float32)
    X[:, 0, 0, 0] = 7.0  # a constant feature must not divide by zero
    Z = Preprocessor("standardize").fit(X).transform(X)
    assert np.abs(Z.mean(axis=0)).max() < 1e-4
    std = Z.std(axis=0, dtype=np.float64)
    assert np.allclose(std.reshape(-1)[1:], 1.0, atol=1e-4) and std[0, 0, 0] == 0
    assert np.isfinite(Z).all()


def test_pca_keeps_the_top_k_variance_directions(images):
    X = images.reshape(600, -1).astype(np.float64)
    pre = Preprocessor("pca", k=5).fit(images)
    Z = pre.transform(images)
    eigenvalues = np.sort(np.linalg.eigvalsh(_cov(X)))[::-1]
    # Projections are uncorrelated, with the covariance's top-5 eigenvalues as variances.
    C = _cov(Z)
    assert np.allclose(np.diag(C), eigenvalues[:5], rtol=1e-4)
    assert np.abs(C - np.diag(np.diag(C))).max() < 1e-3 * eigenvalues[0]
    assert np.allclose(pre.arrays_["eigenvalues"], eigenvalues[:5], rtol=1e-9)


@pytest.mark.parametrize("kind", ["pca_whiten", "zca_whiten"])
def test_whitening_gives_identity_covariance_on_train(images, kind):
    pre = Preprocessor(kind, eps=1e-8).fit(images)
    Z = pre.transform(images)
    assert np.abs(Z.mean(axis=0)).max() < 1e-3
    assert np.abs(_cov(Z) - np.eye(48)).max() < 1e-3


def test_zca_stays_close_to_the_input_and_is_symmetric(images):
    pre = Preprocessor("zca_whiten").fit(images)
    W = pre.arrays_["projection"]
    assert np.allclose(W, W.T, atol=1e-5 * np.abs(W).max())
    Z = pre.transform(images)
    X = images.reshape(600, -1).astype(np.float64)
    X = X - X.mean(axis=0)
    # ZCA is the whitening closest to the data: each output column tracks its own input pixel.
    corr = [np.corrcoef(X[:, j], Z[:, j])[0, 1] for j in range(48)]
    assert min(corr) > 0.1


def test_statistics_come_from_the_training_split_only():
    d = load_source("digits")
    pre = Preprocessor("mean_image").fit(d.X_train)
    Z_val = pre.transform(d.X_val)
    expected = d.X_val.mean(axis=0, dtype=np.float64) - d.X_train.mean(axis=0, dtype=np.float64)
    assert np.allclose(Z_val.mean(axis=0, dtype=np.float64), expected, atol=1e-4)
    assert np.abs(expected).max() > 0.05  # val statistics differ, so refitting on val would show


def test_whitening_does_not_whiten_other_splits_perfectly():
    d = load_source("digits")
    pre = Preprocessor("pca_whiten", k=20).fit(d.X_train)
    train_cov = _cov(pre.transform(d.X_train))
    val_cov = _cov(pre.transform(d.X_val))
    assert np.abs(train_cov - np.eye(20)).max() < 1e-3
    assert np.abs(val_cov - np.eye(20)).max() > 0.05


@pytest.mark.parametrize("kind", PREPROCESSING_KINDS)
def test_state_round_trips_through_safetensors_and_json(images, kind, tmp_path):
    pre = _make(kind).fit(images)
    config, arrays = pre.state()
    if arrays:
        save_file(arrays, tmp_path / "pre.safetensors")
        arrays = load_file(tmp_path / "pre.safetensors")
    config = json.loads(json.dumps(config))
    again = Preprocessor.from_state(config, arrays)
    assert again.kind == kind and again.output_shape == pre.output_shape
    assert np.array_equal(again.transform(images), pre.transform(images))


def test_unfitted_state_round_trips():
    config, arrays = Preprocessor("zca_whiten", eps=0.1).state()
    again = Preprocessor.from_state(config, arrays)
    assert not again.fitted and again.eps == 0.1


def test_from_state_rejects_inconsistent_state(images):
    config, arrays = Preprocessor("standardize").fit(images).state()
    with pytest.raises(CheckpointError, match=r"needs arrays \['mean', 'std'\]; got \['mean'\]"):
        Preprocessor.from_state(config, {"mean": arrays["mean"]})
    with pytest.raises(CheckpointError, match=r"array 'std' has shape \(3, 4\); expected \(3, 4, 4\)"):
        Preprocessor.from_state(config, {**arrays, "std": arrays["std"][:, 0]})
    with pytest.raises(CheckpointError, match="must be one of"):
        Preprocessor.from_state({**config, "kind": "sharpen"}, arrays)
    with pytest.raises(CheckpointError, match="version 99"):
        Preprocessor.from_state({**config, "version": 99}, arrays)
    pca_config, pca_arrays = Preprocessor("pca", k=4).fit(images).state()
    with pytest.raises(CheckpointError, match=r"'projection' has shape \(48, 4\); expected \(48, 5\)"):
        Preprocessor.from_state({**pca_config, "k": 5}, {**pca_arrays, "eigenvalues": np.ones(5)})


@pytest.mark.parametrize("make, parameter, expected", [
    (lambda: Preprocessor("whiten"), "kind", "one of 'none', 'mean_image', .* Got 'whiten' instead"),
    (lambda: Preprocessor("pca"), "k", r"an int in \[1, inf\) for kind 'pca': the number of dimensions to keep"),
    (lambda: Preprocessor("mean_image", k=3), "k", "None for kind 'mean_image' .*k applies to pca and pca_whiten"),
    (lambda: Preprocessor("zca_whiten", eps=0), "eps", r"a float in \(0, inf\)\. Got 0.0 instead"),
    (lambda: Preprocessor("zca_whiten", eps=float("nan")), "eps", r"a float in \(0, inf\)\. Got nan"),
    (lambda: Preprocessor("zca_whiten", eps=True), "eps", r"a float in \(0, inf\)\. Got True"),
    (lambda: Preprocessor("pca", k=0), "k", r"an int in \[1, inf\)\. Got 0"),
    (lambda: Preprocessor("pca", k=2.0), "k", r"an int in \[1, inf\)\. Got 2.0"),
    (lambda: Preprocessor("pca", k=True), "k", r"an int in \[1, inf\)\. Got True"),
    (lambda: Preprocessor("pca", k=100).fit(np.zeros((10, 64))), "k", "at most the input dimension D=64 for 'pca'. "
                                                                      "Got 100"),
])
def test_bad_configuration(make, parameter, expected):
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of Preprocessor must be {expected}"):
        make()


def test_from_spec():
    assert Preprocessor.from_spec("pca:100").k == 100
    assert Preprocessor.from_spec("mean_image").kind == "mean_image"
    with pytest.raises(ConfigError, match="The 'spec' parameter of Preprocessor.from_spec must be 'KIND' or "
                                          "'KIND:K' with an int K, as in 'pca:100'. Got 'pca:lots' instead."):
        Preprocessor.from_spec("pca:lots")
    with pytest.raises(ConfigError, match="The 'kind' parameter of Preprocessor"):
        Preprocessor.from_spec("blur:3")


def test_bad_input(images):
    with pytest.raises(ConfigError, match="not fitted: call fit"):
        Preprocessor("mean_image").transform(images)
    pre = Preprocessor("mean_image").fit(images)
    with pytest.raises(InputError, match=r"fitted on examples of shape \(3, 4, 4\); got X of shape \(2, 48\)"):
        pre.transform(images[:2].reshape(2, -1))
    with pytest.raises(InputError, match="NaN"):
        Preprocessor("standardize").fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(InputError, match=r"channel_mean needs images \(N, C, H, W\)"):
        Preprocessor("channel_mean").fit(np.zeros((4, 3)))
    with pytest.raises(InputError, match="at least 2 training rows"):
        Preprocessor("zca_whiten").fit(np.zeros((1, 3)))
