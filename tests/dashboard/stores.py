"""Real run stores for the dashboard tests, written through the one recording path (``record_run``).

``synthetic_store(path, ...)`` writes a search of ``trials`` trials in two stages (a real
``SearchSpec``'s JSON, so the search view replays its stages) plus one final run, each with every
series a monitored run records: loss, train/val accuracy, lr, update ratios, weight stats,
activation stats and histograms, and findings. Values are drawn from a seeded generator.
"""

from __future__ import annotations

import math

import numpy as np

from babysit.search.driver import SearchSpec
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import LogUniform
from babysit.search.trial import DataRef
from babysit.store import RunStore
from babysit.store.recording import record_run
from babysit.train.outcome import RunRecord

SPACE = SearchSpace({"lr": LogUniform(1e-4, 1e-1), "reg": LogUniform(1e-5, 1e-1)})


def spec(trials_per_stage=(6, 4)) -> SearchSpec:
    return SearchSpec(DataRef("digits"), "fc:100", SPACE, tuple(trials_per_stage), (2, 4), seed=0)


def run_series(rng, iterations: int, epochs: int, *, explode: bool = False) -> dict:
    it = np.arange(1, iterations + 1)
    loss = 2.3 * np.exp(-it / (iterations / 3)) + 0.3 + 0.05 * rng.standard_normal(iterations)
    if explode:
        loss[iterations // 2:] = np.linspace(3, 300, iterations - iterations // 2)
        loss[-1] = math.inf
    ep = list(range(1, epochs + 1))
    val = list(np.clip(np.linspace(0.3, 0.8, epochs) + 0.02 * rng.standard_normal(epochs), 0, 1))
    train = [min(1.0, v + 0.05) for v in val]
    sampled = list(range(1, iterations + 1, 10))
    series = {"loss": (list(it), list(loss)), "train_acc": (ep, train), "val_acc": (ep, val),
              "lr": ([1, iterations // 2], [1e-2, 5e-3])}
    for layer in ("W1", "W2"):
        series[f"update_ratio:{layer}"] = (sampled, list(1e-3 * np.exp(0.3 * rng.standard_normal(len(sampled)))))
        series[f"grad_norm:{layer}"] = (sampled, list(np.abs(rng.standard_normal(len(sampled)))))
        series[f"weight_mean:{layer}"] = ([0, *ep], list(0.001 * rng.standard_normal(epochs + 1)))
        series[f"weight_std:{layer}"] = ([0, *ep], list(0.01 + 0.001 * np.arange(epochs + 1)))
    for stat in ("act_mean", "act_std", "dead", "saturated"):
        series[f"{stat}:relu1"] = (sampled, list(np.abs(0.1 * rng.standard_normal(len(sampled)))))
    for at in (1, iterations):
        counts, edges = np.histogram(np.maximum(rng.standard_normal(500), 0), bins=20)
        series[f"act_hist:relu1@{at}"] = (list(range(20)), [float(c) for c in counts])
        series[f"act_edges:relu1@{at}"] = (list(range(21)), [float(e) for e in edges])
    return series


def synthetic_store(path, *, trials=(6, 4), iterations=200, epochs=4, search_name="search", params_text=None,
                    seed=0) -> dict:
    """Write the store at ``path``; returns {'search_id', 'trial_ids', 'final_id'}."""
    rng = np.random.default_rng(seed)
    s = spec(trials)
    ids = []
    with RunStore(path) as store:
        search_id = store.create_or_open_search(search_name, s.to_json())
        for stage, count in enumerate(trials, start=1):
            for index in range(count):
                params = {"lr": float(10 ** rng.uniform(-4, -1)), "reg": float(10 ** rng.uniform(-5, -1))}
                if params_text is not None:
                    params["note"] = params_text
                run_id = store.start_run(search_id, stage, index, params)
                explode = index == 1 and stage == 1
                series = run_series(rng, iterations, epochs, explode=explode)
                val = max(series["val_acc"][1])
                record = RunRecord("exploded" if explode else "finished",
                                   {"val_acc": None if explode else val, "train_acc": series["train_acc"][1][-1],
                                    "loss": series["loss"][1][-1], "epochs": epochs, "seconds": 1.0,
                                    "val_examples": 360, "host": "testhost"},
                                   series=series,
                                   findings=[{"check": "loss_curve", "status": "fail" if explode else "pass",
                                              "value": "exploding" if explode else "decreasing",
                                              "explanation": "the loss rose" if explode else "the loss fell",
                                              "advice": "lower the lr" if explode else None,
                                              "details": {"cause": "lr_too_high", "confidence": 0.9} if explode else {}}])
                record_run(store, run_id, record)
                ids.append(run_id)
        final_id = store.start_run(None, None, None, {"lr": 1e-2, "reg": 1e-3})
        series = run_series(rng, iterations * 2, epochs * 2)
        record_run(store, final_id, RunRecord("finished", {
            "val_acc": 0.81, "train_acc": 0.9, "loss": 0.4, "epochs": epochs * 2, "role": "final", "search": search_name,
            "val_examples": 360, "test_acc": 0.8, "test_examples": 360, "class_names": ["a", "b"],
            "test_per_class": {"a": 0.7, "b": 0.9}, "test_confusion": [[126, 54], [18, 162]], "kernels": "numba"},
            series=series))
    return {"search_id": search_id, "trial_ids": ids, "final_id": final_id}


def old_schema_store(path, version: int) -> dict:
    """A store as babysit wrote it at schema ``version`` (before migration 3 added 'stopped'): a search
    with two trials and their loss points, written with the old schema's own statements."""
    import json
    import sqlite3

    import pytest

    from babysit.store import schema

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
        assert schema.migrate(conn) == version
    conn.execute("INSERT INTO searches VALUES (1, 'old', ?, 'hash', 1.0)", (json.dumps(spec((2, 2)).to_json()),))
    ids = []
    for trial, (status, val) in enumerate((("finished", 0.6), ("exploded", None))):
        cur = conn.execute("INSERT INTO runs (search_id, stage, trial_index, params_json, status, started, finished, "
                           "val_acc, best_val_acc, epochs) VALUES (1, 1, ?, ?, ?, 2.0, 3.0, ?, ?, 2)",
                           (trial, json.dumps({"lr": 10.0 ** -(trial + 2), "reg": 1e-4}), status, val, val))
        ids.append(cur.lastrowid)
        conn.executemany("INSERT INTO metrics VALUES (?, 'loss', ?, ?)", [(cur.lastrowid, s, 2.5 - 0.1 * s) for s in range(30)])
    conn.close()
    return {"ids": ids}


def seeds_store(path) -> dict:
    """A search whose first three trials share one configuration (three seeds) and a fourth that differs."""
    with RunStore(path) as store:
        search = store.create_or_open_search("seeds", spec((4, 1)).to_json())
        ids = []
        for index, (val, lr) in enumerate([(0.5, 1e-2), (0.6, 1e-2), (0.7, 1e-2), (0.9, 3e-2)]):
            run_id = store.start_run(search, 1, index, {"lr": lr, "reg": 1e-4})
            record_run(store, run_id, RunRecord("finished", {"val_acc": val, "epochs": 2}, series={
                "loss": (list(range(1, 21)), [2.0 - 0.05 * i for i in range(20)]), "val_acc": ([1, 2], [val - 0.1, val])}))
            ids.append(run_id)
    return {"search_id": search, "ids": ids}
