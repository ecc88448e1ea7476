"""The finetune recipe: a new head for the new classes, strategies freeze what they say (bit-identical),
two phases, resume after a real kill, one-line errors for bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from babysit.train.checkpoint import checkpoint_meta

from babysit.errors import CheckpointError, ConfigError, DataError
from babysit.train.checkpoint import load_checkpoint, model_buffers
from babysit.train.finetune import FinetuneSpec, finetune_model
from babysit.train.recipe import TrainConfig

from cli.helpers import assert_one_line_error, babysit

NEW = TrainConfig(data="digits?classes=3-9&per_class=20", update="adam", lr=5e-3, epochs=2, batch_size=20)


def _run(base, strategy="head", config=NEW, **spec):
    return finetune_model(base, config, FinetuneSpec(strategy=strategy, **spec), verbose=False)


def test_head_gets_the_new_classes(base_checkpoint):
    result = finetune_model(base_checkpoint, TrainConfig(**{**NEW.to_dict(), "epochs": 1}), FinetuneSpec("head"),
                            verbose=False)
    model = result.model
    assert model.num_classes == 7 and model.params["W3"].shape == (16, 7)
    assert result.dataset.class_names == ["3", "4", "5", "6", "7", "8", "9"]


def test_head_freezes_the_body_bit_identically_with_its_batchnorm_statistics(base_checkpoint):
    old, _ = load_checkpoint(base_checkpoint)
    result = _run(base_checkpoint, "head")
    model = result.model
    for name in ("W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2"):
        assert np.array_equal(model.params[name], old.params[name]), name
    for key, value in model_buffers(old).items():
        assert np.array_equal(model_buffers(model)[key], value), key
    assert sorted(model.frozen_params) == ["W1", "W2", "b1", "b2", "beta1", "beta2", "gamma1", "gamma2"]


def test_shared_class_columns_start_from_the_pretrained_ones(base_checkpoint):
    from babysit.train.finetune import with_new_head

    old, meta = load_checkpoint(base_checkpoint)
    new, shared = with_new_head(old, meta["class_names"], ["4", "x", "1"], reg=0.0, seed=0, fresh=False)
    assert shared == ["4", "1"]
    assert np.array_equal(new.params["W3"][:, 0], old.params["W3"][:, 4])
    assert np.array_equal(new.params["W3"][:, 2], old.params["W3"][:, 1])
    assert np.array_equal(new.params["W1"], old.params["W1"])


def test_top_k_trains_the_top_blocks_and_all_trains_everything(base_checkpoint):
    old, _ = load_checkpoint(base_checkpoint)
    top2 = _run(base_checkpoint, "top:2", lr_mult=0.1).model
    assert np.array_equal(top2.params["W1"], old.params["W1"]) and not np.array_equal(top2.params["W2"], old.params["W2"])
    every = _run(base_checkpoint, "all").model
    assert not np.array_equal(every.params["W1"], old.params["W1"]) and every.frozen_params == []


def test_train_bn_lets_frozen_blocks_batchnorm_learn(base_checkpoint):
    old, _ = load_checkpoint(base_checkpoint)
    model = _run(base_checkpoint, "head", train_bn=True).model
    assert np.array_equal(model.params["W1"], old.params["W1"])
    assert not np.array_equal(model.params["gamma1"], old.params["gamma1"])


def test_freeze_epochs_trains_the_head_first_then_unfreezes(base_checkpoint):
    lines = []
    config = TrainConfig(**{**NEW.to_dict(), "epochs": 3})
    result = finetune_model(base_checkpoint, config, FinetuneSpec("all", freeze_epochs=2), verbose=False,
                            say=lines.append)
    assert any("epoch 3: unfrozen blocks [1, 2, 3]" in line for line in lines)
    assert result.model.frozen_params == []


def test_bad_strategies_and_shapes_are_refused(base_checkpoint):
    with pytest.raises(ConfigError, match="top:4 asks for 4 blocks, but the model has 3"):
        _run(base_checkpoint, "top:4")
    with pytest.raises(ConfigError, match="strategy must be"):
        FinetuneSpec("bottom:2")
    with pytest.raises(ConfigError, match="unfreezes nothing"):
        FinetuneSpec("head", freeze_epochs=1)
    with pytest.raises(DataError, match=r"examples have shape .* trained on examples of shape \(1, 8, 8\)"):
        _run(base_checkpoint, config=TrainConfig(data="npz:" + str(_flat_npz(base_checkpoint.parent))))


def _flat_npz(folder):
    path = folder / "flat.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.standard_normal((40, 10)), y=np.arange(40) % 2, class_names=np.array(["a", "b"]))
    return path


def test_finetune_cli_records_the_run_and_publishes(base_checkpoint, tmp_path):
    store, zoo = tmp_path / "runs.sqlite", tmp_path / "zoo"
    proc = babysit("finetune", "--from", base_checkpoint, "--data", "digits?classes=5-9&per_class=30",
                   "--strategy", "top:2", "--lr-mult", "0.1", "--epochs", "2", "--out", tmp_path / "ft",
                   "--store", store, "--publish", "digits-hi", "--zoo", zoo, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and "recorded as run 1" in proc.stdout and "published" in proc.stdout
    card = json.loads((zoo / "digits-hi" / "card.json").read_text())
    assert card["recipe"]["strategy"] == "top:2" and card["class_names"] == ["5", "6", "7", "8", "9"]
    from babysit.store import RunStore

    with RunStore(store, readonly=True) as runs:
        assert runs.run(1)["status"] == "finished" and "val_acc" in runs.metric_kinds(1)
    # and from the zoo name, head only
    again = babysit("finetune", "--from", "digits-hi", "--zoo", zoo, "--data", "digits?classes=0-2", "--epochs", "1",
                    "--out", tmp_path / "ft2", "--quiet")
    assert again.returncode == 0, again.stderr


def test_finetune_cli_errors_are_one_line(base_checkpoint, tmp_path):
    zoo = tmp_path / "zoo"
    assert_one_line_error(babysit("finetune", "--from", "no-such-model", "--zoo", zoo, "--data", "digits",
                                  "--out", tmp_path / "o"), "no model 'no-such-model'", "known:")
    assert_one_line_error(babysit("finetune", "--from", base_checkpoint, "--data", "digits", "--strategy", "top:9",
                                  "--out", tmp_path / "o"), "top:9")
    truncated = tmp_path / "trunc"
    truncated.mkdir()
    for f in ("model.safetensors", "model.json"):
        (truncated / f).write_bytes((base_checkpoint / f).read_bytes()[:200])
    assert_one_line_error(babysit("finetune", "--from", truncated, "--data", "digits", "--out", tmp_path / "o"),
                          str(truncated))


def _weights(folder):
    model, _ = load_checkpoint(folder / "model.safetensors")
    return {**model.params, **model_buffers(model)}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("stop_at", [1, 3])  # before and after the unfreeze at epoch 2
def test_an_interrupted_finetuning_resumes_to_the_weights_of_an_uninterrupted_one(base_checkpoint, tmp_path, stop_at):
    from babysit.search.rungs import StopAfter

    config = TrainConfig(**{**NEW.to_dict(), "epochs": 4, "update": "momentum", "lr": 1e-2})
    spec = FinetuneSpec("all", lr_mult=0.3, freeze_epochs=2)
    whole = finetune_model(base_checkpoint, config, spec, tmp_path / "whole", verbose=False)
    cut = finetune_model(base_checkpoint, config, spec, tmp_path / "cut", verbose=False, callbacks=[StopAfter(stop_at)])
    assert cut.solver.epoch == stop_at
    with pytest.raises(CheckpointError, match="--resume to continue it"):
        finetune_model(base_checkpoint, config, spec, tmp_path / "cut", verbose=False)
    resumed = finetune_model(base_checkpoint, config, spec, tmp_path / "cut", verbose=False, resume=True)
    assert resumed.solver.resumed_from["epoch"] == stop_at and resumed.solver.epoch == 4
    assert resumed.solver.loss_history == whole.solver.loss_history
    assert resumed.solver.val_acc_history == whole.solver.val_acc_history
    _assert_same_weights(_weights(tmp_path / "cut"), _weights(tmp_path / "whole"))
    with pytest.raises(CheckpointError, match="run all 4 epochs already"):
        finetune_model(base_checkpoint, config, spec, tmp_path / "cut", verbose=False, resume=True)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        finetune_model(base_checkpoint, config, spec, tmp_path / "empty", verbose=False, resume=True)


def test_finetune_resumes_after_a_real_kill_to_the_weights_of_an_unkilled_run(base_checkpoint, tmp_path):
    out, unkilled = tmp_path / "ft", tmp_path / "unkilled"
    flags = ["--from", str(base_checkpoint), "--data", "digits?classes=5-9&per_class=20", "--strategy", "all",
             "--update", "adam", "--lr", "3e-3", "--lr-mult", "0.5", "--epochs", "100", "--batch-size", "20", "--quiet"]
    args = [sys.executable, "-m", "babysit", "finetune", *flags, "--out", str(out)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    state = out / "training_state.safetensors"
    try:
        deadline = time.monotonic() + 120
        while not state.is_file() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)
        assert child.poll() is None, "the finetuning ended before it could be killed"
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    from babysit.train.training_state import training_state_info

    done = training_state_info(state)["epoch"]
    assert 1 <= done < 100
    refused = babysit("finetune", *flags, "--out", out)
    assert_one_line_error(refused, "--resume")
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming the finetuning in {out} after {done} of 100 epochs" in resumed.stdout
    whole = subprocess.run([sys.executable, "-m", "babysit", "finetune", *flags, "--out", str(unkilled)],
                           capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    _assert_same_weights(_weights(out), _weights(unkilled))
    meta = json.loads((out / "model.json").read_text())
    assert meta["metrics"]["resumed_at_epoch"] == done and meta["metrics"]["epochs"] == 100
    other = babysit("finetune", *[("head" if a == "all" else a) for a in flags if a not in ("--lr-mult", "0.5")],
                    "--out", out, "--resume")
    assert_one_line_error(other, "other settings", "strategy")


def test_array_sources_at_another_image_size_are_resized_to_the_models(base_checkpoint, tmp_path):
    from babysit.data import load_source
    from babysit.data.decode import resize_image_array

    digits = load_source("digits", seed=0)
    X = np.concatenate([digits.X_train, digits.X_val, digits.X_test])
    y = np.concatenate([digits.y_train, digits.y_val, digits.y_test])
    np.savez(tmp_path / "big.npz", X=resize_image_array(X, (16, 16)), y=y)  # the digits at 16x16
    said = []
    result = finetune_model(base_checkpoint, TrainConfig(**{**NEW.to_dict(), "data": f"npz:{tmp_path / 'big.npz'}",
                                                            "epochs": 1}), FinetuneSpec("head"), verbose=False,
                            say=said.append)
    assert result.dataset.input_shape == (1, 8, 8) and result.config.data.endswith("?image_size=8x8")
    assert any("resizing the 16x16 images" in line for line in said)
    with pytest.raises(DataError, match=r"shape \(1, 12, 12\)"):  # an explicit image_size is kept, and refused
        finetune_model(base_checkpoint, TrainConfig(**{**NEW.to_dict(), "data": "digits?image_size=12"}),
                       FinetuneSpec("head"), verbose=False)
