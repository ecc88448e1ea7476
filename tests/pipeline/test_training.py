"""train_job / monitored_training: a babysat `babysit train` run, recorded in the run store beside the searches."""

from __future__ import annotations

import pytest

from babysit.errors import ConfigError, StoreError
from babysit.pipeline.training import monitored_training, train_job
from babysit.store import RunStore
from babysit.train.recipe import TrainConfig

CONFIG = TrainConfig(data="digits", model="fc:16", lr=3e-2, reg=1e-3, epochs=3, seed=1)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    store = out / "runs.sqlite"
    return train_job(CONFIG, out / "model", store=store, plots=out / "plots", monitor_every=5, verbose=False), out


def test_a_train_run_is_recorded_with_series_metrics_findings_and_checkpoint(job):
    job, out = job
    solver = job.run.solver
    with RunStore(out / "runs.sqlite", readonly=True) as store:
        run = store.run(job.run_id)
        assert run["search_id"] is None and run["stage"] is None and run["status"] == "finished"
        assert run["params"]["lr"] == 3e-2 and run["params"]["model"] == "fc:16"
        assert "hidden" not in run["params"]  # unset options are not recorded as None
        from babysit import __version__

        # provenance, as the dashboard's run page shows it (pipeline/provenance.py)
        assert run["extra"]["babysit_version"] == __version__ and run["extra"]["command"]
        assert run["extra"]["data"] == CONFIG.data and run["extra"]["run_seed"] == CONFIG.init_seed
        from babysit.nn.kernels import active_kernels

        assert "cores" in run["extra"]["machine"] and run["extra"]["kernels"] == active_kernels()
        assert run["val_acc"] == solver.best_val_acc and run["epochs"] == 3
        assert run["seconds"] == pytest.approx(solver.seconds)
        steps, losses = store.metric_series(job.run_id, "loss")
        assert list(losses) == pytest.approx(solver.loss_history) and steps[0] == 1
        assert list(store.metric_series(job.run_id, "val_acc")[1]) == pytest.approx(solver.val_acc_history)
        lr_steps, lrs = store.metric_series(job.run_id, "lr")
        per_epoch = solver.iterations_per_epoch
        assert list(lr_steps) == [1, 1 + per_epoch, 1 + 2 * per_epoch]
        assert lrs[0] == pytest.approx(3e-2) and lrs[1] == pytest.approx(3e-2 * 0.95) and len(lrs) == 3
        # the monitors' series and the diagnoses, as the final run of `babysit run` records them
        kinds = store.metric_kinds(job.run_id)
        assert {"update_ratio:W1", "weight_std:W2", "dead:relu1"} <= set(kinds)
        ratio_steps, _ = store.metric_series(job.run_id, "update_ratio:W1")
        assert list(ratio_steps[:2]) == [1, 6]  # sampled every 5 iterations
        assert [f["check"] for f in store.findings(job.run_id)] == [f.check for f in job.run.diagnoses]
        assert store.artifacts(job.run_id)[0]["path"] == str(out / "model" / "model.safetensors")
    assert {p.name for p in job.plots} >= {"loss.png", "accuracy.png", "update_ratios.png"}


def test_train_runs_go_beside_a_search_in_the_same_store(tmp_path):
    from babysit.search import SearchSpace
    from babysit.search.driver import SearchSpec, run_search
    from babysit.search.executors import InlineExecutor
    from babysit.search.trial import DataRef

    path = tmp_path / "runs.sqlite"
    spec = SearchSpec(DataRef("digits"), "fc:8", SearchSpace.parse({"lr": "1e-2:1e-1:log"}), (2,), (1,))
    with RunStore(path) as store:
        run_search(spec, store, InlineExecutor())
    config = TrainConfig(model="fc:8", epochs=1)
    first = train_job(config, None, store=path, verbose=False).run_id
    second = train_job(config, None, store=path, verbose=False).run_id
    with RunStore(path, readonly=True) as store:
        runs = store.runs()
        assert [r["search"] for r in runs] == ["search", "search", None, None]
        assert [r["id"] for r in runs[2:]] == [first, second]
        assert store.artifacts(first) == []  # no --out: no checkpoint
        assert store.metric_kinds(first)  # the trials' and this run's series come from one recording path
        assert set(store.metric_kinds(runs[0]["id"])) <= set(store.metric_kinds(first))


def test_a_file_that_is_not_a_store_is_refused_before_training(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database\n" * 100)
    with pytest.raises(StoreError):
        train_job(TrainConfig(epochs=1), tmp_path / "out", store=bogus, verbose=False)
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written
    with pytest.raises(ConfigError, match="'plots' parameter of train_job"):
        train_job(TrainConfig(epochs=1), None, plots=bogus, verbose=False)


def test_monitors_off_gives_no_monitor_series_but_the_run_still_diagnosed():
    run = monitored_training(TrainConfig(model="fc:8", epochs=2), monitor_every=0, verbose=False)
    assert run.monitor_history is None
    record = run.record()
    assert set(record.series) == {"loss", "train_acc", "val_acc", "lr"}
    assert [f.check for f in record.findings] == [f.check for f in run.diagnoses] and run.diagnoses
    with pytest.raises(ConfigError, match="'monitor_every'"):
        monitored_training(TrainConfig(epochs=1), monitor_every=-1)
