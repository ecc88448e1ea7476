"""kill -9 of `babysit run` in each of its phases (data, doctor, right after the doctor, search, final
training, report), then the same command again into the same --out: the job resumes (one search, no
finished trial lost or run twice, the doctor's findings stored once, one final run, a report), the
store passes `PRAGMA integrity_check`. Each kill is timed on the line the job prints as it enters the
phase. A re-run with other settings into a folder holding an unfinished job is refused (exit 2, one
line naming --fresh), and --fresh starts a new job beside it."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from babysit.store import RunStore

from tests.cli.helpers import assert_one_line_error, babysit

from .kills import Child, duplicated_trials, integrity, runs, trials

ARGS = ("run", "--budget-minutes", "0.1", "--model", "fc:16", "--seed", "3", "--out", "job")

# phase -> (predicate on a stdout line: kill when it appears, how many such lines to wait for)
PHASES = {
    "data": (None, 0),  # killed 0.3 s after the start: before the data line
    "doctor": (lambda line: line.startswith("doctor: initial_loss"), 1),
    "after the doctor": (None, 0),  # killed once the doctor's findings are stored, before the search is created
    "search": (lambda line: line.startswith("val_acc:"), 2),
    "final training": (lambda line: line.startswith("final: training the configuration of run"), 1),
    "report": (lambda line: line.startswith("test: accuracy"), 1),  # + REPORT_DELAY_S: rendering the plots
}
REPORT_DELAY_S = 0.2


def _doctor_stored(store) -> bool:
    try:
        with RunStore(store, readonly=True) as s:
            return bool(s.findings())
    except Exception:  # not created yet
        return False


def _kill_in(phase: str, cwd) -> Child:
    predicate, count = PHASES[phase]
    child = Child(*ARGS, cwd=cwd)
    store = cwd / "job" / "runs.sqlite"
    if phase == "data":
        time.sleep(0.3)
    elif phase == "after the doctor":
        # stopped (SIGSTOP) the moment the findings are stored: the search is created a few ms later, and a test
        # process waiting for a core could otherwise kill the job after it (seen once on a loaded 2-core VM)
        assert child.wait_until(lambda: _doctor_stored(store), poll=0.005, pause=True), "the job ended first"
    else:
        reached = child.wait_until(lambda: sum(map(predicate, list(child.lines))) >= count, poll=0.005,
                                   pause=phase != "report")
        assert reached, f"the job ended before its {phase} phase: {child.lines[-3:]}"
        if phase == "report":
            time.sleep(REPORT_DELAY_S)
    assert child.kill9(), f"the job was no longer running when killed in its {phase} phase"
    return child


def _check_resumed(cwd, before: dict, killed: Child, phase: str):
    store = cwd / "job" / "runs.sqlite"
    again = babysit(*ARGS, cwd=cwd)
    assert again.returncode in (0, 1) and "Traceback" not in again.stderr, again.stdout[-2000:] + again.stderr
    if before:
        assert f"resuming search 'run 1': {len(before)} trials already done" in again.stdout
    with RunStore(store, readonly=True) as s:
        assert [x["name"] for x in s.searches()] == ["run 1"]  # one search: never a second one beside it
        setup_findings = [f["check"] for f in s.findings() if f["run_id"] is None]
        reports = [a for a in s.artifacts() if a["kind"] == "report"]
    after = trials(store)
    assert {k: after[k] for k in before} == before  # finished trials kept, none redone
    assert duplicated_trials(store) == []
    assert setup_findings and max(Counter(setup_findings).values()) == 1  # the doctor's findings stored once
    finals = [r for r in runs(store) if r["extra"].get("role") == "final"]
    reported = [r for r in finals if r["id"] in {a["run_id"] for a in reports}]
    # the final run is recorded before the report (which reads it from the store): one killed while its report
    # was written stays recorded, unreported, and the resumed job trains and reports its own
    assert len(finals) == (2 if phase == "report" else 1) and all(r["extra"]["search"] == "run 1" for r in finals)
    assert len(reported) == 1 and len(reports) == 2 and all(a["run_id"] == reported[0]["id"] for a in reports)
    assert (cwd / "job" / "report.html").is_file()
    assert not [r for r in runs(store) if r["status"] == "running"]
    assert integrity(store) == "ok"
    return again


def _kill_then_resume(phase: str, tmp_path):
    killed = _kill_in(phase, tmp_path)
    store = tmp_path / "job" / "runs.sqlite"
    before = trials(store)
    if store.exists():
        assert integrity(store) == "ok"
        with RunStore(store, readonly=True) as s:  # killed before the job was done: no report recorded
            assert not [a for a in s.artifacts() if a["kind"] == "report"]
        if phase != "report":  # the final run is recorded just before the report is written
            assert not [r for r in runs(store) if r["extra"].get("role") == "final"]
    if phase == "after the doctor":
        with RunStore(store, readonly=True) as s:
            assert s.findings() and not s.searches()  # killed between the doctor's findings and the search
    if phase == "report":
        assert not (tmp_path / "job" / "report.html").exists()  # killed while the report was being made
    return _check_resumed(tmp_path, before, killed, phase)


def test_a_run_killed_while_writing_its_report_resumes(tmp_path):
    _kill_then_resume("report", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["data", "doctor", "after the doctor", "search", "final training"])
def test_a_run_killed_in_a_phase_resumes_slow(phase, tmp_path):
    _kill_then_resume(phase, tmp_path)


@pytest.mark.slow  # the refusal itself is also checked in tests/pipeline/test_main_job.py
def test_an_unfinished_job_for_other_settings_is_refused_then_fresh_starts_beside_it(tmp_path):
    _kill_in("search", tmp_path)
    store = tmp_path / "job" / "runs.sqlite"
    before = runs(store)
    other = [a if a != "fc:16" else "fc:8" for a in ARGS]
    assert_one_line_error(babysit(*other, cwd=tmp_path), "holds the unfinished job 'run 1' for other settings",
                          "model 'fc:16'", "--fresh")
    assert [r["id"] for r in runs(store)] == [r["id"] for r in before]  # nothing written
    assert_one_line_error(babysit(*other, "--resume", cwd=tmp_path), "for other settings")
    assert_one_line_error(babysit(*ARGS, "--resume", "--fresh", cwd=tmp_path), "not allowed with argument")
    fresh = babysit(*other, "--fresh", cwd=tmp_path)
    assert fresh.returncode in (0, 1) and "Traceback" not in fresh.stderr, fresh.stderr
    assert "holds job 'run 1' (unfinished, left as it is); starting 'run 2' beside it" in fresh.stdout
    with RunStore(store, readonly=True) as s:
        assert [x["name"] for x in s.searches()] == ["run 1", "run 2"]
    assert integrity(store) == "ok"
