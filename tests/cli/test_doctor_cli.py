"""`babysit doctor` as a real subprocess: the report, the JSON, the plots, exit codes and one-line errors."""

import json

import numpy as np
import pytest

from .helpers import assert_one_line_error, babysit

CHECKS = ["initial_loss", "regularization", "gradient_check", "overfit_small", "lr_range", "activation_stats",
          "update_ratio", "input_baseline"]
DEEP_TANH = ["--model", ",".join(["fc:500"] + ["500"] * 9), "--activation", "tanh", "--weight-scale", "0.01"]


def doctor(*args, cwd, encoding="utf-8"):
    """`babysit doctor ARGS`, its stdout in UTF-8 unless told otherwise (the report's marks depend on it)."""
    return babysit("doctor", *args, cwd=cwd, encoding=encoding)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("doctor")
    proc = doctor("--data", "digits", "--model", "fc:50", "--json", "findings.json", "--plots", "plots", cwd=cwd)
    return cwd, proc


def test_healthy_lecture_net_passes_every_check(healthy):
    cwd, proc = healthy
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("  ") and line.split()[1:2] and
            line.split()[1] in CHECKS]
    assert [row.split()[1] for row in rows] == CHECKS
    assert all(row.split()[0] == "✓" for row in rows), proc.stdout
    assert "8 check(s): 8 passed, 0 warning(s), 0 failed" in proc.stdout
    assert "What to do" not in proc.stdout


def test_healthy_run_writes_findings_json_and_plots(healthy):
    cwd, _ = healthy
    payload = json.loads((cwd / "findings.json").read_text())
    assert list(payload) == ["findings"]
    findings = payload["findings"]
    assert [f["check"] for f in findings] == CHECKS
    for f in findings:
        assert set(f) == {"check", "status", "value", "expected", "explanation", "advice", "details", "cause",
                          "confidence", "evidence"}
        assert f["cause"] == f["details"]["cause"] == "healthy"  # issue 10: every check names a cause
        assert f["status"] == "pass"
    lr = next(f for f in findings if f["check"] == "lr_range")
    low, high = lr["value"]
    assert 0 < low < high
    assert {p["verdict"] for p in lr["details"]["probes"]} >= {"too_low", "good", "too_high"}
    plots = sorted(p.name for p in (cwd / "plots").iterdir())
    assert plots == sorted(["activation_histograms.png", "lr_range.png", "overfit_loss.png", "overfit_accuracy.png",
                            "overfit_weights.png", "update_ratios.png", "input_batch.png"])


def test_zero_init_is_flagged_with_exit_1(tmp_path):
    proc = doctor("--data", "digits", "--model", "fc:50", "--init", "zeros", "--json", "z.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    status = {f["check"]: f["status"] for f in json.loads((tmp_path / "z.json").read_text())["findings"]}
    assert status["overfit_small"] == "fail"
    assert status["activation_stats"] == "fail"
    assert "✗" in proc.stdout and "What to do:" in proc.stdout
    assert "identical" in proc.stdout


@pytest.mark.slow
def test_the_lectures_deep_tanh_net_at_0_01_is_flagged(tmp_path):
    proc = doctor("--data", "digits", *DEEP_TANH, "--json", "t.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    findings = {f["check"]: f for f in json.loads((tmp_path / "t.json").read_text())["findings"]}
    assert findings["activation_stats"]["status"] == "fail"
    assert "vanish" in findings["activation_stats"]["explanation"]
    assert findings["overfit_small"]["status"] == "fail"


def test_deep_tanh_vanishing_is_flagged_by_the_activation_check_alone(tmp_path):
    proc = doctor("--data", "digits", *DEEP_TANH, "--checks", "initial_loss,activation_stats", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "vanish with depth" in proc.stdout


def test_ascii_stdout_gets_ascii_marks(tmp_path):
    proc = doctor("--checks", "initial_loss,gradient_check", cwd=tmp_path, encoding="ascii")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "initial_loss" in line or "gradient_check" in line]
    assert len(rows) == 2 and all(row.split()[0] == "PASS" for row in rows)
    proc.stdout.encode("ascii")  # nothing outside ASCII was printed


def test_unknown_check_name(tmp_path):
    proc = doctor("--checks", "initial_loss,gradcheck", cwd=tmp_path)
    assert_one_line_error(proc, "'gradcheck'", "gradient_check", "update_ratio")


@pytest.mark.parametrize("args,fragment", [
    (["--model", "fc:abc"], "--model"),
    (["--model", "mlp:50"], "--model"),
    (["--model", "conv:8", "--dropout", "0.5"], "--dropout"),
    (["--model", "fc:50", "--dropout", "1.5"], "dropout"),
    (["--model", "fc:50", "--init", "he", "--weight-scale", "0.01"], "--weight-scale must be None with init='he'"),
    (["--lr", "-1"], "--lr"),
    (["--data", "nosuch"], "nosuch"),
])
def test_model_or_option_that_cannot_be_built(tmp_path, args, fragment):
    assert_one_line_error(doctor(*args, cwd=tmp_path), fragment)


def test_data_with_one_class(tmp_path):
    X = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
    np.savez(tmp_path / "one.npz", X=X, y=np.zeros(60, dtype=np.int64))
    proc = doctor("--data", f"npz:{tmp_path / 'one.npz'}", "--model", "fc:8", cwd=tmp_path)
    assert_one_line_error(proc, "class")


def test_json_into_a_missing_directory_is_refused_before_any_work(tmp_path):
    proc = doctor("--json", "nowhere/f.json", cwd=tmp_path)
    assert_one_line_error(proc, "--json")


@pytest.mark.parametrize("lr,words", [("1e6", "too fast"), ("1e-9", "too slow")])
def test_a_given_lr_far_off_is_judged_by_the_update_ratio(tmp_path, lr, words):
    proc = doctor("--checks", "update_ratio", "--lr", lr, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert words in proc.stdout and "the given --lr" in proc.stdout
