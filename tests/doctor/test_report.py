from babysit.doctor import Finding
from babysit.doctor.report import (ASCII_MARKS, MARKS, format_advice, format_row, format_summary, format_value,
                                   marks_for)


def test_marks_fall_back_to_ascii_when_the_encoding_cannot_write_them():
    assert marks_for("utf-8") == MARKS
    assert marks_for("ascii") == ASCII_MARKS
    assert marks_for("latin-1") == ASCII_MARKS  # no check mark in latin-1
    assert marks_for(None) == ASCII_MARKS
    assert marks_for("no-such-codec") == ASCII_MARKS


def test_values_are_rendered_per_check():
    mk = lambda check, value: Finding(check, "pass", value, None, "")  # noqa: E731
    assert format_value(mk("overfit_small", 1.0)) == "100% train"
    assert format_value(mk("lr_range", [1e-3, 1.0])) == "lr 0.001 .. 1"
    assert format_value(mk("activation_stats", {"tanh1": 0.21, "tanh10": 1e-8})) == "std 0.21 .. 1e-08"
    assert format_value(mk("update_ratio", {"W1": 1e-3, "W2": 4e-3})) == "1.0e-03 .. 4.0e-03"
    assert format_value(mk("gradient_check", 2e-8)) == "2.00e-08"
    assert format_value(mk("initial_loss", 2.302585)) == "2.303"
    assert format_value(mk("lr_range", None)) == "-"


def test_rows_advice_and_summary():
    findings = [Finding("initial_loss", "pass", 2.3, "ln 10", "fine"),
                Finding("overfit_small", "fail", 0.1, "1.0", "could not overfit", "use --init he")]
    assert format_row(findings[1], MARKS).startswith("  ✗ ")
    assert "could not overfit" in format_row(findings[1], ASCII_MARKS)
    assert format_advice(findings) == ["", "What to do:", "  overfit_small: use --init he"]
    assert format_summary(findings, 1.23) == "2 check(s): 1 passed, 0 warning(s), 1 failed (1.2 s)"
