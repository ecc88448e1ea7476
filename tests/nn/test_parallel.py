"""A training batch in parts (babysit.nn.parallel): the same step as the whole batch to float rounding, the same
bits on one thread or two and run to run, which models split, and what the rest of the API still sees.

(The model tests in test_models.py and test_winograd.py run their float64 numeric gradient checks and PyTorch
parity on the whole batch and in parts: the ``batch_split`` fixture there.)
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from babysit.errors import InputError
from babysit.nn import ConvNet, FullyConnectedNet
from babysit.nn import parallel
from babysit.nn.parallel import part_slices, run_parts


def _step(model, X, y, steps=2):
    for _ in range(steps):  # the second step runs on the reused buffers
        loss, grads = model.loss(X, y)
    return loss, {k: g.copy() for k, g in grads.items()}


def _models(parts, dtype=np.float32, **kwargs):
    """The two model kinds bench_step times, small, with ``batch_parts`` set."""
    made = [FullyConnectedNet([16, 12], input_dim=48, reg=1e-2, dtype=dtype, seed=0, **kwargs),
            ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], reg=1e-2, dtype=dtype, seed=0, **kwargs)]
    for m in made:
        m.batch_parts = parts
    return made


def _data(model, n=70, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *model.input_shape)).astype(dtype), rng.integers(0, 10, n)


def test_part_slices_cover_the_batch_in_order():
    assert part_slices(200, 2) == [slice(0, 100), slice(100, 200)]
    assert part_slices(101, 3) == [slice(0, 33), slice(33, 67), slice(67, 101)]
    small = parallel.MIN_PART_SAMPLES
    assert part_slices(2 * small - 1, 2) == [slice(0, 2 * small - 1)]  # a part would be too small: no split
    assert part_slices(5, 1) == [slice(0, 5)]


@pytest.mark.parametrize("kind", [0, 1], ids=["mlp", "convnet"])
def test_parts_match_the_whole_batch_to_float32_rounding(kind):
    whole, = _models(1)[kind:kind + 1]
    split, = _models(2)[kind:kind + 1]
    X, y = _data(whole)
    loss_w, g_w = _step(whole, X, y)
    loss_s, g_s = _step(split, X, y)
    assert len(split._part_copies) == 2 and not whole._part_copies
    assert loss_s == pytest.approx(loss_w, rel=1e-6)
    for name, g in g_w.items():
        np.testing.assert_allclose(g_s[name], g, rtol=1e-4, atol=1e-6 * np.abs(g).max())


@pytest.mark.parametrize("kind", [0, 1], ids=["mlp", "convnet"])
def test_float64_parts_equal_the_whole_batch(kind):
    whole, = _models(1, np.float64)[kind:kind + 1]
    split, = _models(3, np.float64)[kind:kind + 1]  # 3 unequal parts of 70 samples: 23, 23, 24
    X, y = _data(whole, dtype=np.float64)
    loss_w, g_w = _step(whole, X, y)
    loss_s, g_s = _step(split, X, y)
    assert loss_s == pytest.approx(loss_w, rel=1e-13)
    for name, g in g_w.items():
        np.testing.assert_allclose(g_s[name], g, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind", [0, 1], ids=["mlp", "convnet"])
def test_the_same_bits_on_one_thread_or_two_and_run_to_run(kind):
    X, y = _data(_models(2)[kind])
    results = []
    for threads in (None, 1, None, 2):
        model = _models(2)[kind]
        with threadpool_limits(threads):
            results.append(_step(model, X, y, steps=3))
    loss0, g0 = results[0]
    for loss, g in results[1:]:
        assert loss == loss0
        for name in g0:
            assert np.array_equal(g[name], g0[name]), name


def test_the_parts_run_on_two_threads_when_blas_has_two(monkeypatch):
    import threading

    seen = []
    monkeypatch.setattr(parallel, "blas_threads", lambda: 2)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    blas = []

    def part(i):
        seen.append((i, threading.current_thread().name))
        blas.append(min(c.num_threads for c in parallel._blas_controllers()))
        return i * 10

    assert run_parts(part, 3) == [0, 10, 20]
    names = dict(seen)
    assert names[0] == names[2] == threading.current_thread().name != names[1]  # lanes: parts 0, 2 | part 1
    assert set(blas) == {1}  # each part's GEMMs on one BLAS thread meanwhile


def test_an_error_in_a_part_is_raised_after_every_part_ended(monkeypatch):
    monkeypatch.setattr(parallel, "blas_threads", lambda: 2)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    ended = []

    def part(i):
        if i == 1:
            raise ValueError("part 1")
        ended.append(i)

    with pytest.raises(ValueError, match="part 1"):
        run_parts(part, 4)
    assert sorted(ended) == [0, 2, 3]


def test_every_part_runs_under_the_callers_numpy_error_settings(monkeypatch):
    # NumPy's error state is per thread: a part on a lane thread would otherwise run under the defaults
    monkeypatch.setattr(parallel, "blas_threads", lambda: 2)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    big = np.array([3e38], np.float32)

    def part(i):
        try:
            big * np.float32(10)  # overflows
        except FloatingPointError:
            return "raised"
        return "silent"

    with np.errstate(over="raise"):
        assert run_parts(part, 2) == ["raised", "raised"]
    with np.errstate(over="ignore"):
        assert run_parts(part, 2) == ["silent", "silent"]


def test_a_nan_input_names_its_index_in_the_whole_batch():
    for model in _models(2):
        X, y = _data(model)
        flat = X.reshape(len(X), -1)
        flat[50, 7] = np.nan
        before = {k: g.copy() for k, g in model.grads.items()}
        with pytest.raises(InputError, match=r"NaN at index \(50, "):
            model.loss(X, y)
        for k, g in model.grads.items():  # a rejected call leaves the model's gradients alone
            assert np.array_equal(g, before[k])


def test_last_output_of_every_layer_joins_the_parts():
    for whole, split in zip(_models(1), _models(2)):
        X, y = _data(whole)
        _step(whole, X, y, steps=1)
        _step(split, X, y, steps=1)
        for a, b in zip(whole.layers, split.layers):
            np.testing.assert_allclose(b.last_output, a.last_output, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(split.layers.last_output, whole.layers.last_output, rtol=1e-5, atol=1e-6)
        split.loss(X[:5], y[:5])  # a small batch runs whole again: last_output is that batch's
        assert split.layers[0].last_output.shape[0] == 5


def test_frozen_blocks_keep_their_gradients_and_eval_runs_whole():
    whole, split = (FullyConnectedNet([16, 12], input_dim=48, seed=0) for _ in range(2))
    split.batch_parts = 2
    X, y = _data(whole)
    for m in (whole, split):
        m.freeze([1])
        m.grads["W1"][...] = 7.0
    _, g_w = _step(whole, X, y)
    _, g_s = _step(split, X, y)
    assert set(g_s) == set(g_w) == {"W2", "b2", "W3", "b3"}
    assert np.all(split.grads["W1"] == 7.0)
    for name, g in g_w.items():
        np.testing.assert_allclose(g_s[name], g, rtol=1e-4, atol=1e-6 * np.abs(g).max())
    np.testing.assert_array_equal(split.loss(X), whole.loss(X))  # scores: the whole batch on the model's layers


def test_convnets_split_by_default_and_mlps_not():
    assert ConvNet().batch_parts == 2 and FullyConnectedNet([5]).batch_parts == 1


def test_batchnorm_and_dropout_models_never_split():
    for kwargs in (dict(normalization="batchnorm"), dict(dropout=0.5)):
        model = FullyConnectedNet([16], input_dim=48, seed=0, **kwargs)
        model.batch_parts = 2
        X, y = _data(model)
        model.loss(X, y)
        assert not model._splits and not model._part_copies
    assert all(m._splits for m in _models(2))


def test_a_forked_child_runs_its_parts_on_threads_of_its_own(monkeypatch):
    import os
    import signal

    monkeypatch.setattr(parallel, "blas_threads", lambda: 2)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    assert run_parts(lambda i: i, 2) == [0, 1]  # the parent's pool exists now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parts must run (not wait on the parent's threads, which it lacks)
        signal.alarm(20)  # a hang ends the child (a failed test, not a stuck one)
        os.write(write, bytes(run_parts(lambda i: i + 1, 2)))
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 2) == bytes([1, 2]) and status == 0


def test_training_and_evaluation_hold_one_set_of_work_arrays():
    """As when every batch goes through the same layers: an eval batch lets go of the part copies' arrays,
    a training step in parts lets go of the model layers' (e.g. a 1000-row eval batch's)."""
    model = _models(2)[1]
    X, y = _data(model)

    def held(sequential):
        return sum(a.nbytes for layer in sequential.layers
                   for a in getattr(getattr(layer, "alloc", None), "_arrays", {}).values())

    model.loss(X, y)
    assert held(model._part_copies[0]) > 0 and held(model.layers) == 0
    scores = model.loss(X)
    assert held(model.layers) > 0 and all(held(c) == 0 for c in model._part_copies)
    assert all(layer._cache is None for c in model._part_copies for layer in c.layers)
    loss, _ = model.loss(X, y)
    assert held(model._part_copies[0]) > 0 and held(model.layers) == 0
    assert loss == _step(_models(2)[1], X, y, steps=1)[0]  # released arrays change nothing
    np.testing.assert_array_equal(model.loss(X), scores)
