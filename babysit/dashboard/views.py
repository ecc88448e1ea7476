"""The JSON of every view, built from a ``StoreSource``: what the live app serves and the report embeds.

- ``overview``: the command center, incrementally: runs with id > ``after`` and the points
  written since the ``since`` cursor for the runs still running, each run's loss and validation
  accuracy reduced to about the small chart's width (min/max per bucket: spikes kept).
- ``search_view``: one search's trials, each stage's ranges (replayed with the driver's own
  ``next_stage_space``), its edge warnings, the best trial and the parameter importance.
- ``run_view``: one run's every series (MinMaxLTTB to the chart's width), its findings,
  the gap and the confidence intervals read out, its provenance.
Numbers that JSON cannot hold (NaN, inf) become null; the steps where they occurred are listed.
"""

from __future__ import annotations

import datetime as _dt

import re

import numpy as np

from babysit.dashboard.downsample import minmax, minmax_lttb
from babysit.dashboard.source import StoreSource, finite_or_none
from babysit.dashboard.stats import (
    chance_eta2, correlation_ratio, seed_spread, smoothed, wants_log_axis, wilson_interval,
)

OVERVIEW_WIDTH = 120  # points per small-multiple curve
RUN_WIDTH = 800  # points per run-page curve
PAGE_RUNS = 5000  # runs per overview response (summaries only; the client asks again for the rest)
OVERVIEW_KINDS = ("loss", "val_acc")
WARM_RUNS = 400  # the best runs whose small multiples the server reduces at start-up (twice the default top k)
STATUS_ORDER = ("running", "finished", "exploded", "diverged", "failed", "interrupted")


# -- small helpers ---------------------------------------------------------------------------


def series_json(steps, values, width: int, *, method=minmax_lttb) -> dict:
    """{'x', 'y', 'n', 'bad'}: the downsampled points, the raw count and the steps of non-finite values."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    keep = method(steps, values, width) if len(values) else np.arange(0)
    bad = steps[~np.isfinite(values)]
    return {"x": steps[keep].tolist(), "y": [finite_or_none(v) for v in values[keep]], "n": int(len(values)),
            "bad": bad[:50].tolist()}


def run_label(run: dict) -> str:
    if run.get("search") is not None and run.get("stage") is not None:
        # 1-based, as the search's console counts its trials (babysit.search.console.trial_number)
        return f"{run['search']} · stage {run['stage']} · trial {run['trial_index'] + 1}"
    role = (run.get("extra") or {}).get("role")
    return f"run {run['id']}" + (f" ({role})" if role else "")


def run_summary(run: dict) -> dict:
    extra = run.get("extra") or {}
    best = run.get("best_val_acc") if run.get("best_val_acc") is not None else run.get("val_acc")
    return {
        "id": run["id"], "label": run_label(run), "search": run.get("search"), "search_id": run.get("search_id"),
        "stage": run.get("stage"), "trial": run.get("trial_index"), "status": run["status"],
        "params": {k: _plain(v) for k, v in (run.get("params") or {}).items()},
        "val_acc": finite_or_none(run.get("val_acc")), "best_val_acc": finite_or_none(best),
        "train_acc": finite_or_none(run.get("train_acc")), "loss": finite_or_none(run.get("loss")),
        "epochs": finite_or_none(run.get("epochs")), "seconds": finite_or_none(run.get("seconds")),
        "error": run.get("error"), "role": extra.get("role"),
    }


def _plain(value):
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def _iso(ts) -> str | None:
    return None if ts is None else _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- command center --------------------------------------------------------------------------


def overview_summary(run: dict) -> dict:
    """What a card of the command center shows and sorts by: a run in ~150 bytes (10,000 runs stay light)."""
    best = run.get("best_val_acc") if run.get("best_val_acc") is not None else run.get("val_acc")
    return {"id": run["id"], "label": run_label(run), "status": run["status"], "search_id": run.get("search_id"),
            "stage": run.get("stage"), "best_val_acc": finite_or_none(best), "epochs": finite_or_none(run.get("epochs")),
            "role": (run.get("extra") or {}).get("role")}


def overview(source: StoreSource, after: int = 0, since: int = 0, open_ids=(), limit: int = PAGE_RUNS) -> dict:
    """What changed since the client's cursors: runs with id > ``after`` (at most ``limit``; their
    summaries only: the client asks ``curves`` for the cards it shows), the runs ``open_ids`` (those
    it still shows as running) and their points with rowid in (``since``, cursor].

    The client then asks with ``after`` = the response's ``after`` and ``since`` = its ``cursor``;
    ``more`` says whether runs are left beyond ``limit``.
    """
    cursor, runs = source.runs(after=after, limit=limit + 1, ids=open_ids, with_cursor=True)
    new = [r for r in runs if r["id"] > after]
    more = len(new) > limit
    new = new[:limit]
    refreshed = [r for r in runs if r["id"] <= after]
    curves = {}
    if refreshed:
        for run_id, kinds in source.series_many([r["id"] for r in refreshed], OVERVIEW_KINDS, after=since,
                                                upto=cursor).items():
            if kinds:
                curves[run_id] = {k: series_json(s, v, OVERVIEW_WIDTH, method=minmax) for k, (s, v) in kinds.items()}
    return {"after": max([after] + [r["id"] for r in new]), "cursor": cursor, "more": more,
            "runs": [overview_summary(r) for r in new + refreshed], "curves": curves}


def curves(source: StoreSource, ids, upto: int | None = None) -> dict:
    """{'curves': {run id: {kind: series}}}: the small multiples' loss and validation accuracy of the runs
    ``ids`` (points with rowid <= ``upto``: the overview cursor the client has caught up to, so that its
    next poll's points follow on), min/max-reduced to the card's width.

    A finished run's curves are final (``record_run`` writes the series before the status): they are
    kept in ``source.cache`` with their newest point's rowid, and served from it to a client whose
    ``upto`` covers that point.
    """
    top = 2**62 if upto is None else int(upto)
    out, todo = {}, []
    for run_id in sorted({int(i) for i in ids}):
        hit = source.cache.get(run_id)
        if hit is not None and hit[0] <= top:
            out[run_id] = hit[1]
        else:
            todo.append(run_id)
    if todo:
        last = {}
        # the status first, the points after: a run read as finished has all its points in the later snapshot
        status = {r["id"]: r["status"] for r in source.runs(after=2**62, ids=todo)}
        for run_id, kinds in source.series_many(todo, OVERVIEW_KINDS, upto=top, last=last).items():
            reduced = {k: series_json(s, v, OVERVIEW_WIDTH, method=minmax) for k, (s, v) in kinds.items()}
            out[run_id] = reduced
            if status.get(run_id) not in (None, "running") and run_id in last:
                source.cache[run_id] = (last[run_id], reduced)
    return {"curves": out}


def warm_curves(source: StoreSource, runs: int = WARM_RUNS, stop=None) -> int:
    """Fill ``source.cache`` with the curves of the best ``runs`` finished runs (best validation accuracy
    first: the cards the command center shows first), in batches, until done or ``stop`` (an Event) is
    set; returns how many were computed. The server runs it in a thread at start-up, so that the first
    screen's cards need no reading of their 10,000-point series when a browser asks."""
    done = [r for r in source.runs() if r["status"] not in ("running",)]
    done.sort(key=lambda r: -(r["best_val_acc"] if r["best_val_acc"] is not None else
                               (r["val_acc"] if r["val_acc"] is not None else -1)))
    ids = [r["id"] for r in done[:runs] if r["id"] not in source.cache]
    for i in range(0, len(ids), 8):
        if stop is not None and stop.is_set():
            return i
        curves(source, ids[i:i + 8])
    return len(ids)


# -- search view ---------------------------------------------------------------------------------


def searches(source: StoreSource) -> list[dict]:
    return [{"id": s["id"], "name": s["name"], "model": s["spec"].get("model"), "created": _iso(s["created"])}
            for s in source.searches()]


def _space_json(space) -> dict:
    from babysit.search.spaces import Choice, LogUniform
    from babysit.search.stages import describe_space

    if isinstance(space, Choice):
        return {"type": "choice", "options": [_plain(o) for o in space.options], "text": describe_space(space)}
    return {"type": "log" if isinstance(space, LogUniform) else "linear", "low": float(space.low),
            "high": float(space.high), "text": describe_space(space)}


def search_view(source: StoreSource, search_id: int) -> dict | None:
    """One search: trials, stage ranges, edge warnings, the best trial, importance (None if no such search)."""
    from babysit.search.driver import SearchSpec, varying
    from babysit.search.records import TrialRecord, ranked
    from babysit.search.stages import next_stage_space

    found = [s for s in source.searches() if s["id"] == int(search_id)]
    if not found:
        return None
    stored = found[0]
    spec = SearchSpec.from_json(stored["spec"])
    runs = [r for r in source.runs() if r["search_id"] == stored["id"]]
    trials = [r for r in runs if r["stage"] is not None]
    names = varying(spec.space)
    space = spec.space
    stages, warnings = [], []
    by_stage = {}
    for r in trials:
        by_stage.setdefault(r["stage"], []).append(r)
    for stage in range(1, spec.stages + 1):
        # a resumed search's reruns: the latest run of a trial counts, as in RunStore.finished_trials
        latest = {}
        for r in by_stage.get(stage, []):
            if r["status"] not in ("running", "interrupted"):
                latest[r["trial_index"]] = r
        records = [TrialRecord.from_run(r) for r in latest.values()]
        best = ranked(records)
        stages.append({"stage": stage, "epochs": spec.stage_epochs[stage - 1], "planned": spec.stage_trials[stage - 1],
                       "ran": len(by_stage.get(stage, [])), "ranges": {n: _space_json(space[n]) for n in names},
                       "best_run": best[0].run_id if best else None,
                       "best_val_acc": best[0].val_acc if best else None})
        if not by_stage.get(stage):
            break
        space, stage_warnings = next_stage_space(space, records, stage, last=stage == spec.stages)
        warnings += [{"stage": w.stage, "name": w.name, "edge": w.edge, "message": w.message()} for w in stage_warnings]
    best_run = next((s["best_run"] for s in reversed(stages) if s["best_run"] is not None), None)
    log_names = [n for n in names if stages and stages[0]["ranges"][n]["type"] == "log"]
    finals = [r for r in runs if r["stage"] is None] + [
        r for r in source.runs() if (r.get("extra") or {}).get("role") == "final"
        and (r.get("extra") or {}).get("search") == stored["name"]]
    return {
        "id": stored["id"], "name": stored["name"], "spec": stored["spec"], "names": names, "log": log_names,
        "trials": [run_summary(r) for r in trials], "stages": stages, "warnings": warnings, "best_run": best_run,
        "importance": importance(trials, names, spec.space), "finals": [run_summary(r) for r in finals],
        "seeds": _seeds(trials + finals, lambda r: stored["spec"].get("model"), "in this search"),
    }


def _seeds(runs, model_of, what: str) -> dict:
    groups = seed_groups(runs, model_of)
    return {"groups": groups, "text": seed_text(groups, what)}


def importance(trials: list[dict], names: list[str], space) -> dict:
    """Which hyperparameters explained the validation accuracy: η² per name over the finished trials, in words."""
    from babysit.search.spaces import Choice, LogUniform

    done = [r for r in trials if r["status"] == "finished" and r["val_acc"] is not None and
            all(n in r["params"] for n in names)]
    y = [r["val_acc"] for r in done]
    scores = []
    for n in names:
        categorical = isinstance(space[n], Choice)
        eta = correlation_ratio([r["params"][n] for r in done], y, log=isinstance(space[n], LogUniform),
                                categorical=categorical)
        if eta is not None:
            scores.append({"name": n, "eta2": float(eta)})
    scores.sort(key=lambda s: -s["eta2"])
    measure = (f"η² (correlation ratio): the share of the variance of validation accuracy explained by the mean "
               f"accuracy within quantile bins of each hyperparameter (of log10 for log ranges), over the "
               f"{len(done)} finished trials")
    if not scores:
        return {"scores": [], "measure": measure, "text": "Too few finished trials (at least 3 with differing "
                "accuracies) to say which hyperparameter mattered."}
    groups = max(2, min(5, len(done) // 3))
    chance = chance_eta2(groups, len(done))
    parts = [f"{s['name']} {100 * s['eta2']:.0f}%" for s in scores]
    top = scores[0]
    text = (f"{top['name']} explained most of the validation accuracy ({', '.join(parts)} of its variance). "
            f"A hyperparameter unrelated to the accuracy scores about {100 * chance:.0f}% by chance with "
            f"{len(done)} trials.")
    if top["name"] == "lr":
        text += " As the lecture says: the learning rate first."
    return {"scores": scores, "measure": measure, "text": text, "chance": chance}


# -- several seeds of one configuration --------------------------------------------------------

SEED_KEYS = ("seed", "run_seed", "epochs")  # not part of a configuration: the seeds, and epochs (the column counts)


def configuration_key(run: dict, model: str | None) -> str | None:
    """What makes two finished runs the same configuration trained from different seeds: the model, every
    parameter but the seeds, and the epochs trained. None for a run that did not finish with a val acc."""
    import json

    if run.get("status") != "finished" or run.get("val_acc") is None:
        return None
    params = {k: _plain(v) for k, v in (run.get("params") or {}).items() if k not in SEED_KEYS}
    params.setdefault("model", model)
    return json.dumps([params, finite_or_none(run.get("epochs"))], sort_keys=True, default=str)


def seed_groups(runs: list[dict], model_of) -> list[dict]:
    """The configurations that ran more than once (several seeds), best mean first: each with its runs, the
    spread of their validation accuracies (``stats.seed_spread``) and its parameters in words."""
    groups: dict[str, list[dict]] = {}
    for r in runs:
        key = configuration_key(r, model_of(r))
        if key is not None:
            groups.setdefault(key, []).append(r)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        first = members[0]
        params = {k: _plain(v) for k, v in (first.get("params") or {}).items() if k not in SEED_KEYS}
        text = ", ".join(f"{k}={_short(v)}" for k, v in sorted(params.items()))
        out.append({"configuration": f"{model_of(first) or params.get('model', '?')}: {text}" if text else
                    str(model_of(first)), "epochs": finite_or_none(first.get("epochs")),
                    "runs": [r["id"] for r in members], **seed_spread([r["val_acc"] for r in members])})
    out.sort(key=lambda g: -g["mean"])
    return out


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _model_lookup(source: StoreSource):
    """run -> its model: its own 'model' parameter, else its search's (by id, or by name for a final run)."""
    specs = source.searches()
    by_id = {s["id"]: s["spec"].get("model") for s in specs}
    by_name = {s["name"]: s["spec"].get("model") for s in specs}

    def model_of(run):
        params = run.get("params") or {}
        if params.get("model"):
            return params["model"]
        if run.get("search_id") is not None:
            return by_id.get(run["search_id"])
        return by_name.get((run.get("extra") or {}).get("search"))
    return model_of


def seed_text(groups: list[dict], what: str) -> str:
    if not groups:
        return (f"Every configuration {what} ran once: no spread over seeds to show. A configuration run again "
                "with other seeds (the same parameters and epochs) is grouped here with the mean and spread of "
                "its validation accuracy.")
    g = groups[0]
    return (f"{len(groups)} configuration(s) {what} ran with several seeds. The best mean: {g['configuration']} "
            f"({g['n']} seeds, {g['epochs']:g} epochs): val acc {g['mean']:.4f} ± {g['std']:.4f} (std), "
            f"range {g['min']:.4f}–{g['max']:.4f}, 95% interval of the mean {g['mean_low']:.4f}–{g['mean_high']:.4f}.")


# -- run page ------------------------------------------------------------------------------------

# the activation histograms' series (doctor.monitor_series.histogram_series): act_hist:LAYER@ITERATION holds the
# counts by bin number, act_edges:LAYER@ITERATION the bin edges
_HIST = re.compile(r"^(act_hist|act_edges):(.+)@(\d+)$")


def run_view(source: StoreSource, run_id: int, width: int = RUN_WIDTH) -> dict | None:
    """Everything the run page draws and says about run ``run_id`` (None when there is no such run)."""
    from babysit.doctor.update_ratio_check import RATIO_BAND as band

    run = source.run(run_id)
    if run is None:
        return None
    kinds = source.kinds(run_id)
    series, hist = {}, {}
    for kind in kinds:
        steps, values = source.series(run_id, kind)
        m = _HIST.match(kind)
        if m:
            entry = hist.setdefault(m.group(2), {}).setdefault(int(m.group(3)), {})
            entry["counts" if m.group(1) == "act_hist" else "edges"] = [finite_or_none(v) for v in values]
            continue
        series[kind] = series_json(steps, values, width)
        if kind == "loss" and len(values):
            series["loss_smooth"] = series_json(steps, smoothed(values), width)
            series["loss"]["log"] = wants_log_axis(values)
    histograms = {layer: [{"iteration": it, **h} for it, h in sorted(by_it.items()) if "counts" in h and "edges" in h]
                  for layer, by_it in sorted(hist.items())}
    findings = source.findings(run_id)
    summary = run_summary(run)
    extra = run.get("extra") or {}
    return {
        "run": summary, "series": series, "histograms": histograms, "findings": findings,
        "ratio_band": list(band), "diagnosis": diagnosis_text(findings, series),
        "accuracy": accuracy_readout(run, series), "provenance": provenance(source, run),
        "test": test_readout(extra), "compare": compare_with_search(source, run), "seeds": same_configuration(source, run),
        "extra": {k: _plain(v) for k, v in extra.items() if not isinstance(v, (dict, list))},
    }


def same_configuration(source: StoreSource, run: dict) -> dict | None:
    """The runs of the store with this run's configuration (other seeds) and their spread; None when it ran once."""
    model_of = _model_lookup(source)
    key = configuration_key(run, model_of(run))
    if key is None:
        return None
    same = [r for r in source.runs() if configuration_key(r, model_of(r)) == key]
    groups = seed_groups(same, model_of)
    if not groups:
        return None
    g = groups[0]
    rank = sorted(same, key=lambda r: -r["val_acc"]).index(next(r for r in same if r["id"] == run["id"])) + 1
    g["text"] = (f"This configuration ran with {g['n']} seeds (runs {', '.join(map(str, g['runs']))}): val acc "
                 f"{g['mean']:.4f} ± {g['std']:.4f} (std), range {g['min']:.4f}–{g['max']:.4f}, 95% interval of "
                 f"the mean {g['mean_low']:.4f}–{g['mean_high']:.4f}; this run is {rank} of {g['n']}.")
    return g


def diagnosis_text(findings: list[dict], series: dict) -> str:
    """The loss curve in words: the doctor's reading when it made one, else what the numbers say."""
    for f in findings:
        if f["check"] == "loss_curve" and f.get("explanation"):
            return f"{f['status']}: {f['explanation']}"
    loss = series.get("loss")
    if not loss or not loss["n"]:
        return "No loss was recorded for this run."
    ys = [v for v in loss["y"] if v is not None]
    if not ys:
        return "Every recorded loss is NaN or infinite: the run diverged."
    text = f"The loss went from {ys[0]:.4g} to {ys[-1]:.4g} over {loss['n']} iterations (no diagnosis recorded)."
    if loss["bad"]:
        text += f" It turned NaN/inf at iteration {loss['bad'][0]}."
    return text


def accuracy_readout(run: dict, series: dict) -> dict:
    """The train/val gap (last epoch and best validation epoch) and 95% Wilson intervals where n is known."""
    extra = run.get("extra") or {}
    train = [v for v in (series.get("train_acc") or {}).get("y", [])]
    val = [v for v in (series.get("val_acc") or {}).get("y", [])]
    out = {"text": "No epoch finished: no accuracies to compare.", "intervals": {}}
    if train and val and train[-1] is not None and val[-1] is not None:
        gap = train[-1] - val[-1]
        reading = ("a big gap: overfitting, more regularization" if gap > 0.10 else
                   "no gap: more capacity may help" if gap < 0.02 else "a moderate gap")
        out["text"] = f"Last epoch: train {train[-1]:.4f}, val {val[-1]:.4f}, gap {gap:+.4f} ({reading})."
        out["gap"] = gap
    for key, n_key in (("val_acc", "val_examples"), ("train_acc", "train_acc_examples"), ("test_acc", "test_examples")):
        value = run.get(key) if key != "test_acc" else extra.get("test_acc")
        n = extra.get(n_key)
        if value is not None and n:
            lo, hi = wilson_interval(value, int(n))
            out["intervals"][key] = {"value": value, "n": int(n), "low": lo, "high": hi}
    return out


def test_readout(extra: dict) -> dict | None:
    """Per-class accuracy and the confusion matrix of the test split, when the run recorded them."""
    confusion = extra.get("test_confusion")
    per_class = extra.get("test_per_class")
    if not confusion and not per_class:
        return None
    return {"classes": extra.get("class_names"), "per_class": per_class, "confusion": confusion,
            "n": extra.get("test_examples"), "accuracy": extra.get("test_acc")}


def provenance(source: StoreSource, run: dict) -> list[list[str]]:
    """[(what, value)] of where the run comes from; 'not recorded' where the store does not say."""
    from babysit import __version__

    extra = run.get("extra") or {}
    spec = next((s["spec"] for s in source.searches()
                 if s["id"] == run.get("search_id") or (run.get("search_id") is None and s["name"] == extra.get("search"))),
                {})
    data = spec.get("data") or {}
    params = run.get("params") or {}
    rows = [
        ["babysit", extra.get("babysit_version") or f"not recorded (this reader is {__version__})"],
        ["command", extra.get("command") or "not recorded"],
        ["data", extra.get("data") or data.get("source") or params.get("data") or "not recorded"],
        ["preprocessing", data.get("preprocess") or params.get("preprocess") or "not recorded"],
        ["split seed", str(extra.get("split_seed", data.get("seed", params.get("seed", "not recorded"))))],
        ["run seed", str(extra.get("run_seed", _trial_seed(spec, run)))],
        ["split sizes", extra.get("split_sizes") or _sizes(extra)],
        ["machine", " / ".join(str(extra[k]) for k in ("host", "machine") if extra.get(k)) or "not recorded"],
        ["kernels", extra.get("kernels") or "not recorded"],
        ["started", _iso(run.get("started")) or "not recorded"],
        ["finished", _iso(run.get("finished")) or "-"],
        ["wall time", "-" if run.get("seconds") is None else f"{run['seconds']:.1f} s"],
    ]
    return [[k, str(v)] for k, v in rows]


def _trial_seed(spec: dict, run: dict):
    """A search trial's run seed: a function of the search's seed, the stage and the trial (search.trial.trial_seed)."""
    from babysit.search.trial import trial_seed

    if run.get("stage") is None or run.get("trial_index") is None or spec.get("seed") is None:
        return "not recorded"
    return f"{trial_seed(spec['seed'], run['stage'], run['trial_index'])} (from the search's seed {spec['seed']})"


def _sizes(extra: dict) -> str:
    parts = [f"{extra[k]} {name}" for k, name in (("train_examples", "train"), ("val_examples", "val"),
                                                  ("test_examples", "test")) if extra.get(k)]
    return " / ".join(parts) or "not recorded"


def compare_with_search(source: StoreSource, run: dict) -> str | None:
    """For a search's final run: why its validation accuracy differs from the search's best trial."""
    extra = run.get("extra") or {}
    if extra.get("role") != "final" or not extra.get("search"):
        return None
    search = next((s for s in source.searches() if s["name"] == extra["search"]), None)
    if search is None:
        return None
    trials = [r for r in source.runs() if r["search_id"] == search["id"] and r["status"] == "finished"
              and r["val_acc"] is not None]
    if not trials or run.get("val_acc") is None:
        return None
    # the trial the job took and the best it compared it with (babysit.search.selection), where recorded
    selection = extra.get("selection") or {}
    best = (next((r for r in trials if r["id"] == selection.get("best_run")), None)
            or max(trials, key=lambda r: r["val_acc"]))
    taken = next((r for r in trials if r["id"] == selection.get("taken_run")), best)
    diff = run["val_acc"] - best["val_acc"]
    text = (f"The search's best trial (run {best['id']}) reached val_acc {best['val_acc']:.4f} after "
            f"{best['epochs'] or 0:g} epochs; this final run reached {run['val_acc']:.4f} after "
            f"{run['epochs'] or 0:g} epochs ({diff:+.4f}). ")
    if taken is best or selection.get("standard_error") is None:
        text += "It is the same configuration trained longer"
    else:  # the one-standard-error rule took a more regularized trial (babysit.search.selection)
        text += (f"It is the configuration of run {taken['id']} (val_acc {taken['val_acc']:.4f}, reg "
                 f"{(taken.get('params') or {}).get('reg', float('nan')):.3g}) trained longer: the most regularized of "
                 f"the {selection.get('tied')} trials within one standard error ({selection.get('standard_error'):.4f}) "
                 "of the best, which a long run needs more than the short trials show")
    text += f"{_seed_relation(search['spec'], taken, extra)}{_rate_relation(extra, run)}."
    n = extra.get("val_examples") or (best.get("extra") or {}).get("val_examples")
    if n:
        lo, hi = wilson_interval(best["val_acc"], int(n))
        half = (hi - lo) / 2
        inside = abs(diff) <= half
        text += (f" On {n} validation examples the 95% interval of an accuracy is about ±{half:.4f}, so the "
                 f"difference is {'within' if inside else 'beyond'} what the sampling of the split explains"
                 + ("." if inside else "; a search best is also biased upward: it is the maximum of many noisy trials."))
    else:
        text += " The best of many noisy trials is biased upward (a maximum), so the longer run often scores lower."
    return text


def _seed_relation(spec: dict, best: dict, extra: dict) -> str:
    """How the final run's seed relates to the trial it trained (``best``): the same (babysit run since session 7), another
    (earlier final runs) or '' where the store does not say."""
    from babysit.search.trial import trial_seed

    if extra.get("run_seed") is None or spec.get("seed") is None or best.get("stage") is None:
        return ""
    if int(extra["run_seed"]) == trial_seed(spec["seed"], best["stage"], best["trial_index"]):
        return " from that trial's seed (the same init and minibatch order)"
    return " from another seed (its own init and minibatch order)"


def _rate_relation(extra: dict, run: dict) -> str:
    """The final trainings that were not kept before it (``final_attempts``: each exploded or scored lower), and
    the rate the kept one trained at; '' when there were none."""
    attempts = extra.get("final_attempts") or []
    if not attempts:
        return ""
    tried = ", ".join(f"run {a['run_id']} at lr {a['lr']:.3g} {a['status']}" for a in attempts)
    lr = (run.get("params") or {}).get("lr")
    return (f", at lr {lr:.3g} after {len(attempts)} final training(s) not kept ({tried}; an exploding final "
            "training is trained again at a lower rate)")


# -- the whole store, for the report ---------------------------------------------------------


def report_data(source: StoreSource, max_run_pages: int = 300) -> dict:
    """Every response the report's views ask for, keyed as the live app's API paths (see static/app.js)."""
    from babysit import __version__

    ov = overview(source, limit=10**9)
    ov["curves"] = curves(source, [r["id"] for r in ov["runs"]], ov["cursor"])["curves"]
    ordered = sorted(ov["runs"], key=lambda r: -(r["best_val_acc"] if r["best_val_acc"] is not None else -1))
    pages = {f"run/{r['id']}": run_view(source, r["id"]) for r in ordered[:max_run_pages]}
    data = {"overview": ov, "searches": searches(source), "findings": store_findings(source), **pages,
            "meta": {"store": source.path.name, "made_by": f"babysit {__version__}",
                     "made": _iso(_dt.datetime.now(_dt.timezone.utc).timestamp()),
                     "run_pages": len(pages), "runs": len(ov["runs"])}}
    for s in data["searches"]:
        data[f"search/{s['id']}"] = search_view(source, s["id"])
    return data


def store_findings(source: StoreSource) -> list[dict]:
    """The doctor's findings about the data and setup (run_id NULL)."""
    return source.findings(None)



