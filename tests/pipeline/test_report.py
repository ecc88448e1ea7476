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
from babysit.search.driver import SearchOutcome, StageOutcome
from babysit.search.records import TrialRecord
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import LogUniform
from babysit.store import RunStore
from babysit.store.recording import record_run
from babysit.train.recipe import TrainConfig


def _trial(index, lr, val_acc, status="finished"):
    return TrialRecord(run_id=index + 1, stage=1, index=index, params={"lr": lr}, status=status, val_acc=val_acc,
                       train_acc=val_acc, loss=0.5, epochs=1, seconds=0.1)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("job")
    stage = StageOutcome(1, SearchSpace({"lr": LogUniform(1e-3, 1e-1)}), 1, 3,
                         records=[_trial(0, 1e-2, 0.80), _trial(1, 3e-2, 0.90), _trial(2, 9e-2, None, "exploded")])
    run = monitored_training(TrainConfig(model="fc:8", lr=3e-2, epochs=2), out, monitor_every=5, verbose=False)
    with RunStore(out / "runs.sqlite") as store:  # the report's HTML is drawn from the job's store
        record_run(store, store.start_run(None, None, None, {"lr": 3e-2, "note": "<img src=x onerror=alert(2)>"}),
                   run.record(role="final"))
    findings = [Finding("initial_loss", "pass", 2.31, "~2.303", "loss <b>at</b> init | fine", "")]
    result = JobResult(out, run.result.checkpoint, out / "runs.sqlite", out / "report.html", out / "report.md",
                       SearchOutcome(1, "run 1", [stage]), findings, "lr note <script>alert(1)</script>",
                       plan_search(30.0, 0.05), FinalRun(4, run, 2), {"accuracy": 0.875, "num_examples": 8},
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
    assert "1 exploded, 2 finished" in md  # the stage's statuses
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
    assert len(data["overview"]["runs"]) == 1 and "update_ratio:W1" in data["run/1"]["series"]
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
