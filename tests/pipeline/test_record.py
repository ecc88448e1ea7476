"""record_train_run: a plain `babysit train` run in the run store, beside the searches."""

from __future__ import annotations

import pytest

from babysit.pipeline.record import record_train_run
from babysit.store import RunStore
from babysit.train.recipe import TrainConfig, train_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    config = TrainConfig(data="digits", model="fc:16", lr=3e-2, reg=1e-3, epochs=3, seed=1)
    return config, train_model(config, out, verbose=False), out


def test_a_train_run_is_recorded_with_series_metrics_and_checkpoint(trained, tmp_path):
    config, result, out = trained
    path = tmp_path / "runs.sqlite"
    run_id = record_train_run(path, config.to_dict(), result.solver, result.seconds, result.checkpoint)
    with RunStore(path, readonly=True) as store:
        run = store.run(run_id)
        assert run["search_id"] is None and run["stage"] is None and run["status"] == "finished"
        assert run["params"]["lr"] == 3e-2 and run["params"]["model"] == "fc:16"
        assert run["val_acc"] == result.solver.best_val_acc and run["epochs"] == 3
        assert run["seconds"] == pytest.approx(result.seconds)
        steps, losses = store.metric_series(run_id, "loss")
        assert list(losses) == pytest.approx(result.solver.loss_history) and steps[0] == 1
        assert list(store.metric_series(run_id, "val_acc")[1]) == result.solver.val_acc_history
        lr_steps, lrs = store.metric_series(run_id, "lr")
        assert lrs[0] == 3e-2 and lrs[1] == pytest.approx(3e-2 * 0.95) and len(lrs) == 3
        assert store.artifacts(run_id)[0]["path"] == str(out / "model.safetensors")


def test_train_runs_go_beside_a_search_in_the_same_store(trained, tmp_path):
    from babysit.search import SearchSpace
    from babysit.search.driver import SearchSpec, run_search
    from babysit.search.executors import InlineExecutor
    from babysit.search.trial import DataRef

    config, result, _ = trained
    path = tmp_path / "runs.sqlite"
    spec = SearchSpec(DataRef("digits"), "fc:8", SearchSpace.parse({"lr": "1e-2:1e-1:log"}), (2,), (1,))
    with RunStore(path) as store:
        run_search(spec, store, InlineExecutor())
    first = record_train_run(path, config.to_dict(), result.solver, result.seconds)
    second = record_train_run(path, config.to_dict(), result.solver, result.seconds)
    with RunStore(path, readonly=True) as store:
        runs = store.runs()
        assert [r["search"] for r in runs] == ["search", "search", None, None]
        assert [r["id"] for r in runs[2:]] == [first, second]
        assert store.artifacts(first) == []
