"""The cases issue 10 reported, each as a regression test (the README-command ones are in tests/cli)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from babysit.doctor import initial_loss, lr_range
from babysit.doctor.advice import in_words, settings_named
from babysit.doctor.diagnoses import diagnose_update_ratios
from babysit.doctor.initial_checks import INIT_EXCESS_PASS
from babysit.pipeline.training import monitored_training
from babysit.search.records import TrialRecord
from babysit.search.console import final_ranking
from babysit.train.recipe import TrainConfig, model_factory


@pytest.fixture(scope="module")
def digits_data():
    from babysit.data import prepare

    return prepare("digits", "standardize", 0)


def test_a_one_epoch_run_is_too_few_epochs_not_a_bad_init(digits_data):
    # was: "plateau_then_drop ... a long plateau at the start means a bad initialization", advice --init he
    run = monitored_training(TrainConfig(epochs=1), data=digits_data, verbose=False)
    d = run.diagnoses[-1]
    assert d.cause == "too_few_epochs" and "init" not in settings_named(d.advice)
    assert all(f.advice == "" for f in run.diagnoses[:-1])  # one voice: the single signals do not advise


def test_train_at_the_default_lr_is_not_told_to_lower_it(digits_data):
    # was: `train` at its default lr 0.01 always told "lower the learning rate"
    run = monitored_training(TrainConfig(), data=digits_data, verbose=False)
    d = run.diagnoses[-1]
    assert d.cause in ("healthy", "too_few_epochs") and "lr" not in settings_named(d.advice), d.explanation


def test_monitor_advice_is_a_flag_on_the_command_line_and_an_argument_in_python():
    # was: a command-line user told to "train with a TrainingMonitor or UpdateRatioMonitor callback"
    f = diagnose_update_ratios({"iteration": [], "params": {}})
    assert in_words(f.advice, {"monitor_every": "--monitor-every"}).endswith("(--monitor-every 10)")
    assert in_words(f.advice).endswith("(monitor_every=10)") and "Callback" not in f.advice


@pytest.mark.parametrize("spec, shape", [("fc:100", (64,)), ("fc:100,100", (64,)), ("conv:8", (1, 8, 8)),
                                         ("conv:32,64", (3, 32, 32))])
def test_every_built_in_default_starts_near_ln_c_by_one_rule(spec, shape):
    # was: conv:32,64 on CIFAR-10 (He, standardized) started at 4.19 ("weights initialized too large"), the
    # 2-layer net at 3.38 ("fine to train from")
    rng = np.random.default_rng(0)
    n = 200
    data = {"X_train": rng.standard_normal((n, *shape)).astype(np.float32), "y_train": rng.integers(0, 10, n)}
    data.update(X_val=data["X_train"][:50], y_val=data["y_train"][:50])
    f = initial_loss(model_factory(TrainConfig(model=spec), shape, 10), data, rows=n)
    assert f.status == "pass" and f.value < math.log(10) * (1 + INIT_EXCESS_PASS), f.explanation


def test_the_lr_probe_on_a_convnet_narrows_to_where_learning_happens(digits_data):
    # was: every rate from 1e-6 to 1e-2 "good" on the ConvNet (an overconfident start): a six-decade range
    dataset, _ = digits_data
    f = lr_range(model_factory(TrainConfig(model="conv:8"), dataset.input_shape, dataset.num_classes), dataset,
                 steps=30)
    low, high = f.value
    assert low >= 1e-4 and math.log10(high / low) <= 4, f.explanation
    assert {p["verdict"] for p in f.details["probes"] if p["lr"] <= 1e-5} == {"too_low"}


def test_the_best_line_and_the_tables_rank_1_are_the_same_trial():
    # was: "The best line names another run than the table's rank 1"
    recs = [TrialRecord(1, 1, 0, {"lr": 1e-2}, "finished", val_acc=0.9),
            TrialRecord(2, 2, 0, {"lr": 1e-2}, "finished", val_acc=0.8),
            TrialRecord(3, 2, 1, {"lr": 2e-2}, "finished", val_acc=0.85)]
    assert final_ranking(recs)[0].run_id == 3  # the latest stage's best, as SearchOutcome.best picks it
