"""write_report: report.md and a self-contained report.html from a job's results, user text escaped."""

from __future__ import annotations

import json
import re

import pytest

from babysit.doctor import Finding
from babysit.pipeline.final_training import FinalRun
from babysit.pipeline.main_job import JobConfig, JobResult
from babysit.pipeline.plan import plan_search
from babysit.pipeline.report import _markdown, _short, write_report
from babysit.pipeline.training import monitored_training
from babysit.search.driver import SearchOutcome, SearchSpec, StageOutcome
from babysit.search.records import TrialRecord
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import LogUniform
from babysit.search.trial import DataRef
from babysit.store import RunStore
from babysit.store.recording import record_run
from babysit.train.outcome import RunRecord
from babysit.train.recipe import TrainConfig


def _trial(index, lr, val_acc, status="finished"):
    return TrialRecord(run_id=index + 1, stage=1, index=index, params={"lr": lr}, status=status, val_acc=val_acc,
                       train_acc=val_acc, loss=0.5, epochs=1, seconds=0.1)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("job")
    records = [_trial(0, 1e-2, 0.80), _trial(1, 3e-2, 0.90), _trial(2, 9e-2, None, "exploded"),
               _trial(3, 2e-3, 0.40, "stopped"), _trial(4, 2e-3, 0.30, "stopped")]
    stage = StageOutcome(1, SearchSpace({"lr": LogUniform(1e-3, 1e-1)}), 3, 6, records=records, train_examples=600)
    run = monitored_training(TrainConfig(model="fc:8", lr=3e-2, epochs=2), out, monitor_every=5, verbose=False)
    with RunStore(out / "runs.sqlite") as store:  # the report's HTML and its stage table are drawn from the job's store
        spec = SearchSpec(DataRef("digits"), "fc:8", stage.space, (6, 1), (3, 6), stage_examples=(600, None))
        search_id = store.create_or_open_search("run 1", spec.to_json())
        for r in records:  # the trials as the driver records them: a stopped one with its rung, all with their examples
            rung = {"rung": 1, "rung_epochs": 1} if r.status == "stopped" else {}
            record_run(store, store.start_run(search_id, 1, r.index, dict(r.params)),
                       RunRecord(r.status, {"val_acc": r.val_acc, "epochs": r.epochs, "train_examples": 600, **rung},
                                 series={"val_acc": ([1], [r.val_acc or 0.0])}))
        record_run(store, store.start_run(search_id, 2, 0, {"lr": 3e-2}),  # stage 2: the whole split
                   RunRecord("finished", {"val_acc": 0.9, "epochs": 2, "train_examples": 1000}))
        final_id = store.start_run(None, None, None, {"lr": 3e-2, "note": "<img src=x onerror=alert(2)>"})
        record_run(store, final_id, run.record(role="final"))
    findings = [Finding("initial_loss", "pass", 2.31, "~2.303", "loss <b>at</b> init | fine", "")]
    result = JobResult(out, run.result.checkpoint, out / "runs.sqlite", out / "report.html", out / "report.md",
                       SearchOutcome(search_id, "run 1", [stage]), findings, "lr note <script>alert(1)</script>",
                       plan_search(30.0, 0.05), FinalRun(final_id, run, 2), {"accuracy": 0.875, "num_examples": 8},
                       {"data": 0.5, "search": 2.0, "total_before_report": 3.0})
    write_report(result, JobConfig(data="digits", model="fc:8"))
    return result


def test_both_reports_hold_every_section_the_ranked_trials_and_the_result(report):
    md = report.report_md.read_text()
    for heading in ("## Result", "## Doctor", "## Search, coarse to fine", "## Edge warnings", "## Best 15 trials",
                    "## Final training"):
        assert heading in md
    assert "Test accuracy 0.8750 on 8 held-out examples" in md
    ranks = re.findall(r"^\| (\d) \| 1 \| (\d) \| ([0-9.]+) \|", md, flags=re.M)
    assert ranks == [("1", "1", "0.900000"), ("2", "0", "0.800000")]  # best first; the exploded trial is not ranked
    # the stage's trials as the store has them: launched / planned, finished, stopped at which rung, exploded
    assert ("| 1 | lr 1.00e-03 .. 1.00e-01 (log) | 3 | 600 (subset) | 5 / 6 | 2 | 2 at rung 1 (epoch 1) | 1 exploded |"
            in md)
    assert ("2 trial(s) stopped early at a rung of their stage: 2 in stage 1 of 'run 1' at rung 1 (epoch 1)." in md)
    assert "stage 1 of 'run 1' on 600 of 1,000 examples." in md
    assert "loss <b>at</b> init \\| fine" in md  # a '|' in a cell cannot break the markdown table
    assert f"Validation accuracy {report.final.metrics()['val_acc']:.4f}" in md


def test_the_html_is_the_self_contained_dashboard_report_with_the_job_summary(report):
    html = report.report_html.read_text()
    # plotly's text, one inline script for the app, one JSON data element: nothing from the store is markup
    assert html.count("</script>") == 3 and '<script type="application/json" id="babysit-data">' in html
    assert "<img src=x" not in html and "\\u003cimg src=x onerror=alert(2)\\u003e" in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html  # the lr note, escaped inside the JSON
    data = json.loads(re.search(r'id="babysit-data">(.*?)</script>', html, flags=re.S).group(1))
    titles = [s["title"] for s in data["summary"]]
    assert titles[:2] == ["Result", "Doctor"] and "Test accuracy 0.8750 on 8 held-out examples" in json.dumps(data)
    stage_table = next(b for s in data["summary"] if s["title"] == "Search, coarse to fine" for b in s["blocks"]
                       if b[0] == "table")  # the first page says how many trials were stopped, and where
    assert "stopped (rung)" in stage_table[1] and stage_table[2][0][6] == "2 at rung 1 (epoch 1)"
    assert len(data["overview"]["runs"]) == 7 and "update_ratio:W1" in data[f"run/{report.final.run_id}"]["series"]
    assert "val_acc" in data["run/4"]["series"]  # a stopped trial's page shows its curve up to the rung
    # plotly.min.js sits as inert text, run when a view needs it (its source names URLs it never loads)
    start = html.index('<script type="text/plain" id="babysit-plotly">')
    rest = html[:start] + html[html.index("</script>", start):]
    assert "http://" not in rest and "https://" not in rest  # nothing outside plotly points off the file


def test_the_plots_are_files_beside_the_reports(report):
    plots = sorted(p.name for p in (report.out / "plots").iterdir())
    assert plots == ["activation_histograms.png", "final.png", "search.png", "update_ratios.png", "weights.png"]
    assert not [p for p in report.out.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp file


def test_values_are_shown_short_and_blocks_render_in_order():
    assert _short(0.000123456) == "0.0001235" and _short([1e-3, 2.5]) == "[0.001, 2.5]"
    assert _short({"W1": 1e-3}) == "W1: 0.001" and _short(None) == "-"
    md = _markdown([("T", [("p", "a"), ("table", ["x", "y"], [["1", "a|b"]]), ("plot", "missing")])], {})
    assert md.splitlines()[2:] == ["## T", "", "a", "", "| x | y |", "|---|---|", "| 1 | a\\|b |"]


def test_the_summary_says_when_the_final_training_was_trained_again_at_a_lower_rate(report):
    import dataclasses

    from babysit.pipeline.report import _sections

    attempt = {"run_id": 12, "lr": 0.06, "status": "exploded", "iteration": 5}
    result = dataclasses.replace(report, final=dataclasses.replace(report.final, attempts=[attempt]))
    summary = " ".join(block[1] for block in _sections(result, JobConfig(data="digits", model="fc:8"))[0][1])
    assert ("A final training with lr 6.000e-02 (run 12) ended exploded at iteration 5, before its first epoch; "
            "it was not kept.") in summary
    assert f"The final run kept trained with lr {report.final.config.lr:.3e}" in summary
    plain = " ".join(block[1] for block in _sections(report, JobConfig(data="digits", model="fc:8"))[0][1])
    assert "not kept" not in plain
