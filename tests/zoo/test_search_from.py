"""`babysit search --from`: the coarse-to-fine search driving the finetune recipe, its trials recorded in the store."""

from __future__ import annotations

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.search.trial import DataRef, FinetuneRef, TrialTask, run_trial, trial_config
from babysit.train.finetune import finetune_data, finetune_model
from babysit.train.recipe import TrainConfig

from cli.helpers import assert_one_line_error, babysit

NEW = "digits?classes=5-9&per_class=40"


def test_finetune_settings_are_train_config_fields():
    config = TrainConfig(finetune_from="base", strategy="top:2", lr_mult=0.1, freeze_epochs=1)
    assert config.with_params({"lr_mult": 0.5, "lr": 1e-3}).lr_mult == 0.5
    assert config.to_dict()["strategy"] == "top:2" and config.finetune_spec().lr_mult == 0.1
    # plain runs keep their records: no finetune keys
    assert "strategy" not in TrainConfig().to_dict() and "finetune_from" not in TrainConfig().to_dict()
    with pytest.raises(ConfigError, match="lr_mult of TrainConfig apply to finetuning only"):
        TrainConfig(lr_mult=0.1)
    with pytest.raises(ConfigError, match="strategy must be head"):
        TrainConfig(finetune_from="base", strategy="top")
    with pytest.raises(ConfigError, match="'lr_mult' parameter"):
        TrainConfig(finetune_from="base", lr_mult=0.0)
    with pytest.raises(ConfigError, match="finetune_from"):
        TrainConfig().with_params({"finetune_from": "base"})  # the data's, not a hyperparameter


def test_a_trial_is_the_finetune_recipe(base_checkpoint):
    ref = DataRef(NEW, 0, finetune=FinetuneRef(str(base_checkpoint), "base", "top:2", 1, False))
    assert DataRef(**ref.to_json()) == ref and "finetune" not in DataRef().to_json()
    params = {"lr": 3e-3, "lr_mult": 0.2, "reg": 1e-3}
    record = run_trial(TrialTask(ref, "conv:4/16", params, epochs=2, seed=7), monitor_every=0)
    assert record.status == "finished", record.error
    config = trial_config(ref, "conv:4/16", params, 2, 7)
    assert (config.finetune_from, config.strategy, config.lr_mult, config.freeze_epochs) == ("base", "top:2", 0.2, 1)
    direct = finetune_model(base_checkpoint, config, data=finetune_data(base_checkpoint, NEW, 0), verbose=False)
    assert record.metrics["val_acc"] == direct.solver.best_val_acc
    np.testing.assert_array_equal(record.series["loss"][1], direct.solver.loss_history)
    assert sorted(direct.model.frozen_params) == ["W1", "b1", "beta1", "gamma1"]  # top:2 of 3 blocks


@pytest.mark.parametrize("freeze_epochs", [1, 2])  # the rung inside the head-only phase, and after it
def test_a_finetune_trial_continued_from_its_rung_equals_the_uncut_trial(base_checkpoint, tmp_path, freeze_epochs):
    ref = DataRef(NEW, 0, finetune=FinetuneRef(str(base_checkpoint), "base", "top:2", freeze_epochs, False))
    params = {"lr": 3e-3, "lr_mult": 0.2, "reg": 1e-3}
    uncut = run_trial(TrialTask(ref, "conv:4/16", params, epochs=3, seed=7), monitor_every=0)
    state = tmp_path / "rung.safetensors"
    rung = run_trial(TrialTask(ref, "conv:4/16", params, epochs=3, seed=7, stop_after=2, save_state=str(state)),
                     monitor_every=0)
    assert rung.metrics["epochs"] == 2 and "rung" in rung.metrics["stop_reason"] and state.is_file()
    continued = run_trial(TrialTask(ref, "conv:4/16", params, epochs=3, seed=7, resume_state=str(state)),
                          monitor_every=0)
    assert continued.status == "finished" and "resume_note" not in continued.metrics, continued.metrics.get("resume_note")
    assert continued.metrics["val_acc"] == uncut.metrics["val_acc"]
    np.testing.assert_array_equal(continued.series["loss"][1], uncut.series["loss"][1])


def test_search_from_a_checkpoint_records_its_trials_and_resumes(base_checkpoint, tmp_path):
    store = tmp_path / "runs.sqlite"
    args = ("search", "--from", base_checkpoint, "--data", NEW, "--strategy", "top:2", "--stages", "2",
            "--trials", "3", "--epochs", "1", "--store", store)
    proc = babysit(*args)
    assert proc.returncode == 0, proc.stderr
    assert "lr range: 1e-4:1e-2:log (finetuning's default" in proc.stdout
    assert "every trial finetunes" in proc.stdout and "strategy top:2" in proc.stdout
    from babysit.store import RunStore

    with RunStore(store, readonly=True) as runs:
        (search,) = runs.searches()
        trials = runs.runs(search["id"])
    assert search["spec"]["data"]["finetune"]["strategy"] == "top:2"
    assert search["spec"]["model"] == "conv:4/16"  # the checkpoint's
    assert len(trials) == 6 and all(r["status"] == "finished" for r in trials)
    assert all(set(r["params"]) == {"lr", "lr_mult", "reg"} for r in trials)
    assert all(1e-4 <= r["params"]["lr"] <= 1e-2 and 0.01 <= r["params"]["lr_mult"] <= 1 for r in trials)
    stage2 = [r["params"]["lr"] for r in trials if r["stage"] == 2]
    assert max(stage2) / min(stage2) < 100  # narrowed coarse to fine
    again = babysit(*args)
    assert again.returncode == 0, again.stderr
    with RunStore(store, readonly=True) as runs:
        assert len(runs.runs()) == 6  # every finished trial kept, none rerun


def test_search_from_bad_input_is_one_line(base_checkpoint, tmp_path):
    store, zoo = tmp_path / "runs.sqlite", tmp_path / "zoo"
    common = ("--data", NEW, "--trials", "1", "--stages", "1", "--epochs", "1", "--store", store)
    proc = babysit("search", "--from", "no-such-model", "--zoo", zoo, *common)
    assert_one_line_error(proc, "no-such-model")
    assert "cifar10-convnet" in proc.stderr  # the names there are
    assert_one_line_error(babysit("search", "--from", base_checkpoint, "--strategy", "top:9", *common), "top:9")
    assert_one_line_error(babysit("search", "--from", base_checkpoint, "--lr-mult", "0.1:1:log", *common), "--lr-mult")
    assert_one_line_error(babysit("search", "--from", base_checkpoint, "--model", "fc:10", *common), "--model")
    assert_one_line_error(babysit("search", "--strategy", "all", *common), "--from")
    assert_one_line_error(babysit("search", "--lr-mult", "0.1", *common), "--from")
    assert not store.exists()  # nothing recorded for a search that could not start
