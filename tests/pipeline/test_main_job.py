"""run_job on digits with a small budget: every step leaves its trace in the folder and the store."""

from __future__ import annotations

import json
import re
import time

import pytest

from babysit.errors import ConfigError
from babysit.pipeline.main_job import JobConfig, run_job
from babysit.pipeline.plan import FINAL_PACE_MARGIN
from babysit.store import RunStore

BUDGET_MINUTES = 0.2


class Collect:
    def __init__(self):
        self.lines = []

    def __call__(self, text):
        self.lines.append(text)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("job") / "out"
    say = Collect()
    start = time.monotonic()
    result = run_job(JobConfig(data="digits", model="fc:32", budget_minutes=BUDGET_MINUTES, seed=2), out, say=say)
    return result, say.lines, time.monotonic() - start


def test_the_job_stays_within_its_budget_and_writes_every_file(job):
    result, _, _ = job
    # the plan fits the budget (the stage deadlines and the final's deadline enforce it; no wall-clock assert here)
    plan = result.plan
    assert sum(plan.stage_seconds) + plan.final_seconds <= BUDGET_MINUTES * 60
    names = sorted(p.name for p in result.out.iterdir())
    assert {"model.safetensors", "model.json", "runs.sqlite", "report.html", "report.md", "plots"} <= set(names)
    assert result.checkpoint == result.out / "model.safetensors"
    assert 0.85 < result.test["accuracy"] <= 1.0 and result.test["num_examples"] == 180


def test_the_doctor_ran_and_its_lr_range_seeded_the_search(job):
    result, lines, _ = job
    checks = [f.check for f in result.findings]
    assert checks[:2] == ["initial_loss", "regularization"] and "lr_range" in checks
    lr_finding = next(f for f in result.findings if f.check == "lr_range")
    low, high = lr_finding.value
    stage1 = result.search.stages[0].space["lr"]
    # from the lowest good probe to half a decade past the highest (the probes are a decade apart)
    assert stage1.low == low and stage1.high == pytest.approx(high * 10**0.5)
    assert result.search.stages[0].space["horizon"].options == (result.plan.final_epochs,)
    assert "lr_range probe recommends" in result.lr_note
    assert any(line.startswith("doctor: lr_range: pass") for line in lines)


def test_the_search_went_coarse_to_fine_and_the_best_trained_longer(job):
    result, lines, _ = job
    stages = result.search.stages
    assert len(stages) >= 2 and all(s.records for s in stages)
    assert [s.epochs for s in stages] == list(result.plan.stage_epochs)
    # the trial the final training took: the most regularized within one standard error of the best
    from babysit.search.selection import one_standard_error

    selection = one_standard_error(result.search.best, result.search.records)
    assert result.selection == selection and selection.standard_error is not None
    best = selection.record
    assert best.params["reg"] == max(r.params["reg"] for r in result.search.records
                                     if r.ok and r.stage == best.stage and r.epochs == best.epochs
                                     and r.val_acc >= result.search.best.val_acc - selection.standard_error)
    assert f"final: {selection.describe()}" in lines
    assert result.final.epochs > best.epochs  # "train the best configuration longer"
    assert result.final.config.lr == best.params["lr"] and result.final.config.reg == best.params["reg"]
    # from the best trial's own seed (its first epoch is the trial's), and no exploded attempt before it
    from babysit.search.trial import trial_seed

    assert result.final.config.run_seed == trial_seed(2, best.stage, best.index) and result.final.attempts == []
    assert any(line.startswith("final: Finished epoch 1 / ") for line in lines)
    # its BLAS threads were picked from its own first epochs (1 thread, then all), and said
    assert result.final.blas_threads in set(result.final.epoch_seconds_by_threads) and 1 in result.final.epoch_seconds_by_threads
    assert any(line.startswith(f"final: {result.final.blas_threads} BLAS thread(s) from epoch ") for line in lines)
    # the checkpoint says where it came from: the split seed (which eval re-splits with) and the search
    from babysit.train.checkpoint import load_checkpoint

    _, meta = load_checkpoint(result.checkpoint)
    assert meta["train_config"]["seed"] == 2 and meta["train_config"]["search"] == "run 1"
    assert meta["train_config"]["from_run"] == best.run_id and meta["train_config"]["lr"] == best.params["lr"]


def test_the_store_holds_findings_trials_and_the_final_run(job):
    result, _, _ = job
    with RunStore(result.store, readonly=True) as store:
        assert [s["name"] for s in store.searches()] == ["run 1"]
        findings = store.findings()
        doctor = [f for f in findings if f["run_id"] is None]
        assert [f["check"] for f in doctor] == [f.check for f in result.findings]
        runs = store.runs()
        final = [r for r in runs if r["search"] is None]
        assert len(final) == 1 and final[0]["extra"]["role"] == "final"
        # the final run's diagnoses and its monitors' series
        diagnosed = [f["check"] for f in store.findings(final[0]["id"])]
        assert diagnosed == [f.check for f in result.final.diagnoses]
        assert diagnosed[:2] == ["loss_curve", "accuracy_gap"] and "update_ratios" in diagnosed
        kinds = store.metric_kinds(final[0]["id"])
        assert {"loss", "val_acc", "lr", "update_ratio:W1", "weight_std:W1", "dead:relu1", "act_std:relu1"} <= set(kinds)
        assert final[0]["extra"]["test_acc"] == result.test["accuracy"]
        assert final[0]["extra"]["blas_threads"] == result.final.blas_threads
        assert final[0]["extra"]["selection"] == result.selection.summary()
        assert final[0]["extra"]["selection"]["taken_run"] == result.selection.record.run_id
        from babysit.nn.kernels import active_kernels

        assert final[0]["extra"]["kernels"] == active_kernels()  # which kernels set its pace
        assert len(runs) == len(result.search.records) + 1
        kinds = sorted(a["kind"] for a in store.artifacts(final[0]["id"]))
        assert kinds == ["checkpoint", "report", "report"]


def test_each_stage_of_the_search_has_a_bracket_that_fits_its_time(job):
    from babysit.search.rungs import Rungs

    result, _, _ = job
    with RunStore(result.store, readonly=True) as store:
        rungs = Rungs.from_json(store.searches()[0]["spec"]["rungs"])
    plan = result.plan
    assert rungs.stage_brackets == tuple(Rungs().bracket_for_stage(e, t, int(plan.parallel))
                                         for e, t in zip(plan.stage_epochs, plan.stage_epoch_times()))


def test_the_report_has_every_section_and_embedded_plots(job):
    result, _, _ = job
    md = result.report_md.read_text()
    for heading in ("## Result", "## Doctor", "## Search, coarse to fine", "## Edge warnings", "## Best 15 trials",
                    "## Final training"):
        assert heading in md
    assert f"Test accuracy {result.test['accuracy']:.4f} on 180 held-out examples" in md
    assert "| initial_loss | pass |" in md and "![search](plots/search.png)" in md
    assert "| loss_curve |" in md and "![update_ratios](plots/update_ratios.png)" in md
    html = result.report_html.read_text()  # the dashboard's self-contained report of the job's store
    data = json.loads(re.search(r'id="babysit-data">(.*?)</script>', html, flags=re.S).group(1))
    final = next(r for r in data["overview"]["runs"] if r["role"] == "final")
    page = data[f"run/{final['id']}"]
    assert page["test"]["confusion"] and sum(map(sum, page["test"]["confusion"])) == 180  # the test split
    assert dict(page["provenance"])["split sizes"].endswith("/ 180 test") and page["compare"]
    trial = next(r for r in data["overview"]["runs"] if r["stage"] == 1)
    assert any(k.startswith("update_ratio:") for k in data[f"run/{trial['id']}"]["series"])  # trials' monitors


def test_a_second_run_into_the_same_folder_adds_a_search_and_keeps_history(job, tmp_path):
    result, _, _ = job
    out = tmp_path / "again"
    config = JobConfig(data="digits", model="fc:8", budget_minutes=0.1, seed=0)
    run_job(config, out, say=Collect())
    run_job(config, out, say=Collect())
    with RunStore(out / "runs.sqlite", readonly=True) as store:
        assert [s["name"] for s in store.searches()] == ["run 1", "run 2"]


def test_bad_settings_fail_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="'budget_minutes' parameter of JobConfig must be a float in"):
        run_job(JobConfig(budget_minutes=0), tmp_path / "a", say=Collect())
    with pytest.raises(ConfigError, match="expected .fc:H1,H2"):
        run_job(JobConfig(model="mlp:3"), tmp_path / "b", say=Collect())
    with pytest.raises(ConfigError, match="'workers' parameter of JobConfig"):
        JobConfig(workers=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="'out' parameter of run_job must be a directory"):
        run_job(JobConfig(), tmp_path / "file", say=Collect())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _stored_spec(model: str, seed: int = 0) -> dict:
    from babysit.search.driver import SearchSpec
    from babysit.search.search_space import SearchSpace
    from babysit.search.trial import DataRef

    space = SearchSpace.parse({"lr": "1e-4:1e-1:log", "reg": "1e-5:1e-1:log", "horizon": "12"})
    return SearchSpec(DataRef("digits", seed, "standardize"), model, space, (7, 3), (1, 2), seed).to_json()


def test_an_unfinished_search_is_resumed_with_its_stored_spec_unless_its_settings_differ(tmp_path):
    from babysit.pipeline.main_job import JobConflict, _search_to_run
    from babysit.search.trial import DataRef

    ref = DataRef("digits", 0, "standardize")
    with RunStore(tmp_path / "runs.sqlite") as store:
        store.create_or_open_search("run 1", _stored_spec("fc:8"))
        say = Collect()
        name, spec = _search_to_run(store, JobConfig(model="fc:8"), ref, say)
        assert name == "run 1" and spec.to_json() == _stored_spec("fc:8")
        assert say.lines == ["resuming search 'run 1': 0 trials already done (its stored ranges and stages are kept)"]
        # an unfinished job for other settings is never mixed with this one: refused, or --fresh beside it
        with pytest.raises(JobConflict, match=r"holds the unfinished job 'run 1' for other settings \(model 'fc:8'\); "
                                              "give the same settings to resume it, --fresh to start a new job"):
            _search_to_run(store, JobConfig(model="fc:16"), ref, say)
        with pytest.raises(JobConflict, match="for other settings"):
            _search_to_run(store, JobConfig(model="fc:16"), ref, say, "resume")
        assert _search_to_run(store, JobConfig(model="fc:16"), ref, say, "fresh") == ("run 2", None)
        assert say.lines[-1].endswith("holds job 'run 1' (unfinished, left as it is); starting 'run 2' beside it "
                                      "(its history is kept)")
        assert _search_to_run(store, JobConfig(model="fc:8"), ref, say, "resume")[0] == "run 1"
        final = store.start_run(None, None, None, {})
        store.finish_run(final, "finished", {"role": "final", "search": "run 1"})
        # its final run is recorded, but its report is not written yet: still unfinished
        assert _search_to_run(store, JobConfig(model="fc:8"), ref, say)[0] == "run 1"
        store.add_artifact(final, "report", tmp_path / "report.html")
        assert _search_to_run(store, JobConfig(model="fc:8"), ref, say) == ("run 2", None)  # run 1 completed
        with pytest.raises(JobConflict, match="nothing to resume in .*: its last job 'run 1' finished"):
            _search_to_run(store, JobConfig(model="fc:8"), ref, say, "resume")


def test_with_two_workers_the_epoch_is_timed_in_both_side_by_side(tmp_path):
    say = Collect()
    result = run_job(JobConfig(data="digits", model="fc:16", budget_minutes=BUDGET_MINUTES, seed=1, workers=2),
                     tmp_path / "out", say=say)
    timed = [line for line in say.lines if line.startswith("timed: one epoch took ")]
    # a digits epoch is cheap: the final's pace is timed alone in the job's process too
    match = re.fullmatch(r"timed: one epoch took (.*) s in the 2 workers side by side, (.*) s alone in this process "
                         r"\(the final training's pace\)", timed[0])
    assert len(timed) == 1 and match, timed
    paces = [float(v) for v in match.group(1).split(", ")]
    assert len(paces) == 2 and result.plan.epoch_seconds == pytest.approx(sum(paces) / 2, abs=0.006)
    assert result.plan.final_epoch_seconds == pytest.approx(float(match.group(2)), abs=0.006)
    assert result.plan.final_seconds <= FINAL_PACE_MARGIN * result.plan.final_epochs * result.plan.final_pace() + 1e-9
    assert result.plan.parallel == 2.0 and result.test is not None


def test_a_probe_that_does_not_finish_gives_no_pace():
    from babysit.pipeline.plan import time_epoch_side_by_side
    from babysit.search.executors import InlineExecutor
    from babysit.search.trial import DataRef, TrialTask

    ok = TrialTask(DataRef("digits"), "fc:8", {"lr": 1e-2, "reg": 1e-4}, 1, 0)
    paces = time_epoch_side_by_side(InlineExecutor(), ok, 2)
    assert len(paces) == 2 and all(p > 0 for p in paces)
    broken = TrialTask(DataRef("digits"), "fc:8", {"lr": -1.0}, 1, 0)  # refused config: the trial fails
    assert time_epoch_side_by_side(InlineExecutor(), broken, 2) == []
