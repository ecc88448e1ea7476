"""The numba kernels of the update rules (babysit.train.numba_updates) give the NumPy rules' bits."""

import numpy as np
import pytest

from babysit.train.optim import UPDATE_RULES, make_optimizer

pytest.importorskip("numba", reason="the numba kernels are optional: pip install 'babysit[numba]'")

from babysit.train import numba_updates  # noqa: E402

CONFIGS = {"sgd": {}, "momentum": {"momentum": 0.7}, "nesterov": {"momentum": 0.85},
           "rmsprop": {"decay_rate": 0.9, "epsilon": 1e-6}, "adam": {"beta1": 0.85, "beta2": 0.995, "epsilon": 1e-7}}
LRS = [0.1, 0.1, 0.013, 1e-5, 0.0, 0.7]  # a schedule, a zero rate and Adam's bias correction over several steps


def _gradients(dtype, step):
    """Gradients over many magnitudes, with the values that test a kernel's arithmetic: NaN, +-inf, -0.0, and
    a step of gradients whose squares overflow in float32."""
    rng = np.random.default_rng(step)
    g = {"W": (rng.standard_normal((17, 9)) * 10.0 ** rng.integers(-30, 20, (17, 9))).astype(dtype),
         "b": rng.standard_normal(9).astype(dtype)}
    if step == 3:
        g["W"][0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    if step == 4:
        g["b"][:] = 3e19
    return g


def _run(monkeypatch, kernels, rule, dtype):
    monkeypatch.setenv("BABYSIT_KERNELS", kernels)
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((17, 9)).astype(dtype), "b": np.zeros(9, dtype)}
    opt = make_optimizer(rule, lr_mults={"b": 0.25}, **CONFIGS[rule])
    with np.errstate(all="ignore"):
        for step, lr in enumerate(LRS):
            opt.step(params, _gradients(dtype, step), lr)
    buffers = {f"{k}.{b}": opt.state[k][b] for k in params for b in opt.buffers}
    return {**params, **buffers}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", list(UPDATE_RULES))
def test_every_rule_gives_the_numpy_bits(monkeypatch, rule, dtype):
    ours, reference = _run(monkeypatch, "numba", rule, dtype), _run(monkeypatch, "numpy", rule, dtype)
    assert ours.keys() == reference.keys()
    for k in reference:
        assert ours[k].dtype == dtype
        # bit for bit: NaN payloads, infinities and the sign of zeros included
        np.testing.assert_array_equal(ours[k].view(np.uint8), reference[k].view(np.uint8), err_msg=k)
    finite = reference["W"][np.isfinite(reference["W"])]
    assert finite.size > 100 and np.isnan(reference["W"]).any()  # the comparison covers both kinds of values


@pytest.mark.parametrize("rule", list(UPDATE_RULES))
def test_the_kernels_run_where_they_can_and_numpy_elsewhere(monkeypatch, rule):
    """A C-contiguous parameter with a gradient of its dtype takes the rule's kernel; a strided view, or a
    float64 gradient of a float32 parameter, or a float16 pair, takes the NumPy passes, for the same result."""
    calls = []
    kernel = getattr(numba_updates, rule)
    monkeypatch.setattr(numba_updates, rule, lambda *a: (calls.append(a[0].size), kernel(*a)))
    monkeypatch.setenv("BABYSIT_KERNELS", "numba")
    rng = np.random.default_rng(1)
    base = rng.standard_normal((6, 8)).astype(np.float32)
    params = {"W": base.copy(), "T": base.copy().T, "b": np.ones(8, np.float32),  # T: a strided (transposed) view
              "h": np.ones(8, np.float16)}
    grads = {"W": rng.standard_normal((6, 8)).astype(np.float32), "T": rng.standard_normal((8, 6)).astype(np.float32),
             "b": rng.standard_normal(8), "h": rng.standard_normal(8).astype(np.float16)}  # b: a float64 gradient
    expected = {k: v.copy() for k, v in params.items()}
    with np.errstate(all="ignore"):  # float16: rmsprop's and adam's eps underflow to 0, and 0 / 0 warns
        make_optimizer(rule).step(params, grads, 0.1)
        monkeypatch.setenv("BABYSIT_KERNELS", "numpy")
        make_optimizer(rule).step(expected, grads, 0.1)
    assert calls == [48]  # W only
    for k in params:
        np.testing.assert_array_equal(params[k], expected[k], err_msg=k)


@pytest.mark.parametrize("rule, lr", [("momentum", 3e-2), ("adam", 3e-3)])
def test_a_solver_run_is_the_same_with_either_kernel_set(monkeypatch, rule, lr):
    """Through the Solver (its default float32 model, L2 on, an lr decay, 3 epochs on digits), the numba update
    kernels give the same losses, accuracies and weights as NumPy's passes: a search's results do not depend on
    the kernels chosen."""
    from babysit.data import Preprocessor, load_source
    from babysit.nn import FullyConnectedNet
    from babysit.train.solver import Solver

    ds = load_source("digits", seed=0)
    pre = Preprocessor("standardize").fit(ds.X_train)
    data = {"X_train": pre.transform(ds.X_train)[:300], "y_train": ds.y_train[:300],
            "X_val": pre.transform(ds.X_val), "y_val": ds.y_val}
    runs = {}
    for kernels in ("numpy", "numba"):
        monkeypatch.setenv("BABYSIT_KERNELS", kernels)
        model = FullyConnectedNet([40, 30], input_dim=(1, 8, 8), num_classes=10, reg=1e-3, seed=0)
        solver = Solver(model, data, update_rule=rule, optim_config={"learning_rate": lr}, lr_decay=0.9,
                        num_epochs=3, batch_size=25, verbose=False, seed=1).train()
        runs[kernels] = solver, model
    (a, model_a), (b, model_b) = runs["numpy"], runs["numba"]
    assert a.loss_history == b.loss_history and a.val_acc_history == b.val_acc_history
    assert a.loss_history[-1] < 0.5 * a.loss_history[0]  # it trained: the comparison covers real updates
    for k in model_a.params:
        np.testing.assert_array_equal(model_a.params[k], model_b.params[k], err_msg=k)


def test_train_model_compiles_the_kernels_before_the_solvers_clock():
    """numba's one-time cost (compile or cache load, 0.3-0.5 s) must not land in a run's first epoch: the search
    paces its stages from a timed epoch. In a fresh process with the numba kernels chosen, every update rule's
    kernel and the fused conv's kernels are compiled when the Solver starts, for an fc model too."""
    import json
    import os
    import subprocess
    import sys

    code = """
import json, os
os.environ["BABYSIT_KERNELS"] = "numba"
from babysit.nn import numba_kernels
from babysit.train import numba_updates
from babysit.train.callbacks import Callback
from babysit.train.recipe import TrainConfig, train_model
seen = {}
class Look(Callback):
    def on_train_begin(self, solver):
        seen["updates"] = [bool(getattr(numba_updates, r).signatures)
                           for r in ("sgd", "momentum", "nesterov", "rmsprop", "adam")]
        seen["conv"] = [bool(k.signatures) for k in (numba_kernels.relu_pool_band, numba_kernels.route_band,
                                                     numba_kernels.col2im_band)]
train_model(TrainConfig(data="digits", model="fc:16", epochs=1), callbacks=[Look()], verbose=False)
print(json.dumps(seen))
"""
    env = {k: v for k, v in os.environ.items() if k != "BABYSIT_KERNELS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"updates": [True] * 5, "conv": [True] * 3}
