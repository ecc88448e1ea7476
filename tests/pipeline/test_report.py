"""write_report: report.md and a self-contained report.html from a job's results, user text escaped."""

from __future__ import annotations

import base64
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


def test_the_html_is_self_contained_and_escapes_every_text(report):
    html = report.report_html.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "loss &lt;b&gt;at&lt;/b&gt; init" in html
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    # the search plot, the final curves, and the final run's update ratios, activation histograms and weights
    assert len(images) == 5 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "http://" not in html and "https://" not in html
    assert "<td class='pass'>pass</td>" in html


def test_the_plots_are_files_beside_the_reports(report):
    plots = sorted(p.name for p in (report.out / "plots").iterdir())
    assert plots == ["activation_histograms.png", "final.png", "search.png", "update_ratios.png", "weights.png"]
    assert not [p for p in report.out.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp file


def test_values_are_shown_short_and_blocks_render_in_order():
    assert _short(0.000123456) == "0.0001235" and _short([1e-3, 2.5]) == "[0.001, 2.5]"
    assert _short({"W1": 1e-3}) == "W1: 0.001" and _short(None) == "-"
    md = _markdown([("T", [("p", "a"), ("table", ["x", "y"], [["1", "a|b"]]), ("plot", "missing")])], {})
    assert md.splitlines()[2:] == ["## T", "", "a", "", "| x | y |", "|---|---|", "| 1 | a\\|b |"]
