"""The views' JSON over a real store: incremental overview, the search's stages, importance, the numbers read out."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from babysit.dashboard import views
from babysit.dashboard.source import StoreSource
from babysit.dashboard.stats import correlation_ratio, wants_log_axis, wilson_interval
from babysit.store import RunStore
from babysit.store.recording import record_run
from babysit.train.outcome import RunRecord
from stores import old_schema_store


def test_the_overview_sends_only_new_runs_and_new_points(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        done = store.start_run(None, None, None, {"lr": 1e-2})
        record_run(store, done, RunRecord("finished", {"val_acc": 0.5}, series={"loss": ([1, 2, 3], [2.0, 1.5, 1.2])}))
        running = store.start_run(None, None, None, {"lr": 1e-3})
        source = StoreSource(path)
        first = views.overview(source)
        assert [r["id"] for r in first["runs"]] == [done, running] and first["curves"] == {}  # summaries only
        shown = views.curves(source, [done, running], upto=first["cursor"])["curves"]
        assert shown[done]["loss"]["y"] == [2.0, 1.5, 1.2] and shown[running] == {}
        assert done in source.cache and running not in source.cache  # only a finished run's curves are final
        assert views.curves(source, [done], upto=first["cursor"])["curves"] == {done: shown[done]}  # from the cache
        assert views.curves(source, [done], upto=0)["curves"] == {done: {}}  # a cursor before its points: none
        # nothing new: nothing crosses the wire
        again = views.overview(source, after=first["after"], since=first["cursor"], open_ids=[])
        assert again["runs"] == [] and again["curves"] == {}
        store.log_metrics(running, "loss", [1, 2], [2.3, float("inf")])
        third = store.start_run(None, None, None, {"lr": 1e-4})
        poll = views.overview(source, after=first["after"], since=first["cursor"], open_ids=[running])
        assert sorted(r["id"] for r in poll["runs"]) == [running, third]
        assert poll["curves"][running]["loss"] == {"x": [1, 2], "y": [2.3, None], "n": 2, "bad": [2]}
        assert views.overview(source, after=poll["after"], since=poll["cursor"], open_ids=[running])["curves"] == {}
        # the base a client fetches up to its cursor, then the next poll's points: every point once
        store.log_metrics(running, "loss", [3], [1.9])
        base = views.curves(source, [running], upto=poll["cursor"])["curves"][running]["loss"]
        then = views.overview(source, after=poll["after"], since=poll["cursor"], open_ids=[running])
        assert base["x"] + then["curves"][running]["loss"]["x"] == [1, 2, 3]


def test_the_overview_summary_is_small_and_counts_trials_from_one(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        search = store.create_or_open_search("s", {"model": "fc:10"})
        store.start_run(search, 1, 0, {"lr": 1e-2, "reg": 1e-4})
    summary = views.overview(StoreSource(path))["runs"][0]
    assert summary["label"] == "s · stage 1 · trial 1"  # the console's '(1 / N)': the first trial is 1
    assert len(str(summary)) < 200 and "params" not in summary


def test_the_overview_pages_through_many_runs(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        for _ in range(5):
            store.start_run(None, None, None, {})
    source = StoreSource(path)
    page = views.overview(source, limit=2)
    assert len(page["runs"]) == 2 and page["more"]
    rest = views.overview(source, after=page["after"], limit=10)
    assert len(rest["runs"]) == 3 and not rest["more"]


def test_the_source_is_read_only_at_the_sqlite_level(store_info):
    source = StoreSource(store_info["path"])
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
        source.conn().execute("DELETE FROM runs")


def test_a_reader_never_waits_for_a_writer_holding_its_transaction(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        store.start_run(None, None, None, {})
        source = StoreSource(path)
        store.conn.execute("BEGIN IMMEDIATE")  # a search mid-write
        store.conn.execute("INSERT INTO runs (params_json, status, started) VALUES ('{}', 'running', 0)")
        assert len(views.overview(source)["runs"]) == 1  # the committed snapshot, at once (WAL)
        store.conn.execute("COMMIT")
        assert len(source.runs()) == 2


def test_the_search_view_replays_the_stages_and_marks_the_best(store_info):
    view = views.search_view(StoreSource(store_info["path"]), store_info["search_id"])
    assert [s["stage"] for s in view["stages"]] == [1, 2] and view["names"] == ["lr", "reg"]
    assert view["log"] == ["lr", "reg"] and len(view["trials"]) == 10
    assert view["stages"][0]["ranges"]["lr"]["low"] == pytest.approx(1e-4)
    finished = [t for t in view["trials"] if t["stage"] == 2 and t["val_acc"] is not None]
    assert view["best_run"] == max(finished, key=lambda t: t["val_acc"])["id"]  # the last stage's best
    assert view["finals"] and view["finals"][0]["id"] == store_info["final_id"]
    assert view["importance"]["measure"].startswith("η²")
    assert views.search_view(StoreSource(store_info["path"]), 999) is None


def test_the_run_page_reads_the_run_in_words(store_info):
    source = StoreSource(store_info["path"])
    page = views.run_view(source, store_info["final_id"])
    for kind in ("loss", "loss_smooth", "train_acc", "val_acc", "lr", "update_ratio:W1", "weight_std:W2", "act_mean:relu1"):
        assert kind in page["series"]
    assert list(page["histograms"]) == ["relu1"] and len(page["histograms"]["relu1"]) == 2
    assert "gap" in page["accuracy"]["text"] and page["accuracy"]["intervals"]["val_acc"]["n"] == 360
    assert page["test"]["confusion"] == [[126, 54], [18, 162]]
    assert "search's best trial" in page["compare"]
    exploded = views.run_view(source, store_info["trial_ids"][1])
    assert exploded["diagnosis"].startswith("fail") and exploded["series"]["loss"]["bad"]
    assert exploded["series"]["loss"]["log"]  # 0.3 .. 300: three decades, a log axis
    assert views.run_view(source, 10**6) is None
    # every run recorded through record_run says which babysit and which command wrote it; a trial its seed
    from babysit import __version__
    from babysit.search.trial import trial_seed

    rows = dict(exploded["provenance"])
    assert rows["babysit"] == __version__ and rows["command"] and "not recorded" not in rows["command"]
    assert rows["run seed"].startswith(f"{trial_seed(0, 1, 1)} (from the search's seed 0)")
    assert rows["kernels"] == "not recorded"  # a run recorded without them (this store was written by hand)
    assert dict(views.run_view(source, store_info["final_id"])["provenance"])["kernels"] == "numba"


def test_importance_finds_the_hyperparameter_that_drives_the_accuracy():
    rng = np.random.default_rng(1)
    lr = 10 ** rng.uniform(-5, -1, 60)
    reg = 10 ** rng.uniform(-5, -1, 60)
    acc = 0.9 - 0.1 * (np.log10(lr) + 3) ** 2 + 0.005 * rng.standard_normal(60)  # best at lr 1e-3
    eta_lr = correlation_ratio(lr, acc, log=True)
    eta_reg = correlation_ratio(reg, acc, log=True)
    assert eta_lr > 0.7 and eta_reg < 0.2  # chance: about 4 / 59
    trials = [{"status": "finished", "val_acc": a, "params": {"lr": x, "reg": r}} for x, r, a in zip(lr, reg, acc)]
    from babysit.search.search_space import SearchSpace
    from babysit.search.spaces import LogUniform

    result = views.importance(trials, ["lr", "reg"], SearchSpace({"lr": LogUniform(1e-5, 1e-1),
                                                                  "reg": LogUniform(1e-5, 1e-1)}))
    assert result["scores"][0]["name"] == "lr" and result["text"].startswith("lr explained most")
    assert "the learning rate first" in result["text"]


def test_wilson_interval_and_the_log_axis_rule():
    lo, hi = wilson_interval(0.5, 100)
    assert lo == pytest.approx(0.40383, abs=1e-4) and hi == pytest.approx(0.59617, abs=1e-4)
    lo, hi = wilson_interval(1.0, 20)
    assert hi == 1.0 and lo == pytest.approx(0.83889, abs=1e-4)
    assert wants_log_axis([2.3, 0.01]) and not wants_log_axis([2.3, 0.5, float("nan")])


@pytest.mark.parametrize("version", [1, 2])
def test_a_store_of_an_older_schema_is_read_as_it_is_without_upgrading_it(tmp_path, version):
    import hashlib

    path = tmp_path / "runs.sqlite"
    ids = old_schema_store(path, version)["ids"]
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with StoreSource(path) as source:  # RunStore(readonly=True) would say "open it once for writing"
        assert source.schema_version == version
        ov = views.overview(source)
        assert [r["status"] for r in ov["runs"]] == ["finished", "exploded"]
        assert len(views.curves(source, ids, ov["cursor"])["curves"][ids[0]]["loss"]["x"]) > 10
        view = views.search_view(source, 1)
        assert len(view["trials"]) == 2 and view["best_run"] == ids[0]
        assert views.run_view(source, ids[1])["series"]["loss"]["n"] == 30
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # nothing written, no upgrade


def test_a_store_newer_than_this_babysit_is_still_refused(tmp_path):
    from babysit.errors import StoreError

    path = tmp_path / "runs.sqlite"
    with RunStore(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99, newer than this babysit"):
        StoreSource(path)


def test_the_server_reduces_the_best_runs_curves_first_and_skips_running_ones(tmp_path):
    import threading

    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        ids = []
        for val in (0.2, 0.9, 0.5):
            run_id = store.start_run(None, None, None, {})
            record_run(store, run_id, RunRecord("finished", {"val_acc": val}, series={"loss": ([1, 2], [2.0, 1.0])}))
            ids.append(run_id)
        running = store.start_run(None, None, None, {})
        store.log_metrics(running, "loss", [1], [2.0])
    source = StoreSource(path)
    assert views.warm_curves(source, runs=2) == 2
    assert ids[1] in source.cache and ids[2] in source.cache and ids[0] not in source.cache
    assert views.warm_curves(source, runs=10) == 1 and running not in source.cache  # the rest; never a running run
    stop = threading.Event()
    stop.set()
    assert views.warm_curves(StoreSource(path), stop=stop) == 0


def test_runs_of_one_configuration_with_different_seeds_show_their_spread(tmp_path):
    from stores import seeds_store

    path = tmp_path / "runs.sqlite"
    made = seeds_store(path)
    search, ids = made["search_id"], made["ids"]
    with RunStore(path) as store:
        other = store.start_run(search, 1, 4, {"lr": 1e-2, "reg": 1e-4})  # the same parameters, 4 epochs: not a seed
        record_run(store, other, RunRecord("finished", {"val_acc": 0.95, "epochs": 4}))
    source = StoreSource(path)
    seeds = views.search_view(source, search)["seeds"]
    assert len(seeds["groups"]) == 1
    g = seeds["groups"][0]
    assert g["runs"] == ids[:3] and g["n"] == 3 and g["epochs"] == 2
    assert g["mean"] == pytest.approx(0.6) and g["std"] == pytest.approx(0.1) and (g["min"], g["max"]) == (0.5, 0.7)
    half = 4.303 * 0.1 / np.sqrt(3)  # Student's t, 2 degrees of freedom
    assert (g["mean_low"], g["mean_high"]) == pytest.approx((0.6 - half, 0.6 + half), abs=1e-6)
    assert "fc:100" in g["configuration"] and "lr=0.01" in g["configuration"] and "1 configuration(s)" in seeds["text"]
    page = views.run_view(source, ids[2])
    assert page["seeds"]["n"] == 3 and "this run is 1 of 3" in page["seeds"]["text"]
    assert views.run_view(source, ids[3])["seeds"] is None  # ran once


def test_the_interval_of_the_mean_over_seeds_covers_the_true_mean_95_percent_of_the_time():
    from babysit.dashboard.stats import seed_spread, t975

    rng = np.random.default_rng(0)
    for n in (3, 5, 40):  # the table and, past 30 degrees of freedom, its approximation
        trials = 4000
        hits = sum(s["mean_low"] <= 0.7 <= s["mean_high"]
                   for s in (seed_spread(rng.normal(0.7, 0.02, n)) for _ in range(trials)))
        assert abs(hits / trials - 0.95) < 4 * np.sqrt(0.95 * 0.05 / trials), n  # 4 standard errors
    assert t975(40) == pytest.approx(2.021, abs=0.003) and t975(1000) == pytest.approx(1.962, abs=0.002)
    with pytest.raises(ValueError, match="at least 2"):
        seed_spread([0.5])


def test_the_final_run_says_how_its_seed_and_rate_relate_to_the_best_trial(tmp_path):
    from stores import spec

    from babysit.search.trial import trial_seed

    with RunStore(tmp_path / "runs.sqlite") as store:
        search_id = store.create_or_open_search("run 1", spec((2, 1)).to_json())
        seed = spec((2, 1)).seed
        trials = []
        for index, val in enumerate((0.6, 0.7, 0.695)):
            run_id = store.start_run(search_id, 1, index, {"lr": 1e-2, "reg": 10.0 ** -index})
            record_run(store, run_id, RunRecord("finished", {"val_acc": val, "epochs": 2}))
            trials.append(run_id)
        finals = {}
        for name, run_seed, lr in (("same", trial_seed(seed, 1, 1), 1e-2), ("other", 12345, 1e-2),
                                   ("retried", trial_seed(seed, 1, 1), 5e-3), ("unrecorded", None, 1e-2),
                                   ("rule", trial_seed(seed, 1, 2), 1e-2)):
            run_id = store.start_run(None, None, None, {"lr": lr})
            extra = {"role": "final", "search": "run 1", **({"run_seed": run_seed} if run_seed is not None else {})}
            if name == "rule":  # the one-standard-error rule took trial 2, not the best (trial 1)
                extra["selection"] = {"rule": "one standard error", "best_run": trials[1], "best_val_acc": 0.7,
                                      "taken_run": trials[2], "standard_error": 0.0064, "tied": 2}
            if lr != 1e-2:  # trained again at half the rate after the first final training exploded
                extra["final_attempts"] = [{"run_id": 9, "lr": 1e-2, "status": "exploded", "iteration": 5, "val_acc": None}]
            record_run(store, run_id, RunRecord("finished", {"val_acc": 0.72, "epochs": 6, **extra}))
            finals[name] = run_id
    source = StoreSource(tmp_path / "runs.sqlite")
    text = {name: views.run_view(source, run_id)["compare"] for name, run_id in finals.items()}
    assert "trained longer from that trial's seed (the same init and minibatch order)." in text["same"]
    assert "trained longer from another seed (its own init and minibatch order)." in text["other"]
    assert ("from that trial's seed (the same init and minibatch order), at lr 0.005 after 1 final training(s) not "
            "kept (run 9 at lr 0.01 exploded;") in text["retried"]
    assert "not kept" not in text["same"]
    assert "trained longer." in text["unrecorded"] and "seed (" not in text["unrecorded"]  # the store does not say
    assert (f"It is the configuration of run {trials[2]} (val_acc 0.6950, reg 0.01) trained longer: the most "
            "regularized of the 2 trials within one standard error (0.0064) of the best") in text["rule"]
    assert f"best trial (run {trials[1]}) reached val_acc 0.7000" in text["rule"]
    assert "from that trial's seed (the same init and minibatch order)." in text["rule"]
    assert "same configuration" not in text["rule"] and "same configuration" in text["same"]
