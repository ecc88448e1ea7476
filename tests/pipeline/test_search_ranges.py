"""lr_range_from: the search's lr range from the doctor's lr_range probes, or the lecture's."""

from __future__ import annotations

import math

import pytest

from babysit.doctor import Finding
from babysit.pipeline.search_ranges import LECTURE_LR, lr_range_from


def _probe(value):
    return Finding("lr_range", "pass" if value else "fail", value, None, "probes", "")


def test_the_range_reaches_half_a_decade_past_the_last_good_probe():
    (low, high), note, from_doctor = lr_range_from([_probe([1e-3, 1e-2])], "momentum")
    assert from_doctor and low == 1e-3 and high == pytest.approx(1e-2 * math.sqrt(10))
    assert "recommends 0.001 .. 0.01 (momentum)" in note


def test_a_single_good_probe_also_reaches_half_a_decade_below():
    (low, high), _, _ = lr_range_from([_probe([1e-2, 1e-2])], "sgd")
    assert low == pytest.approx(1e-2 / math.sqrt(10)) and high == pytest.approx(1e-2 * math.sqrt(10))


def test_no_working_rate_or_no_probe_falls_back_to_the_lectures_range():
    for findings in ([_probe(None)], []):
        lr_range, note, from_doctor = lr_range_from(findings, "sgd")
        assert lr_range == LECTURE_LR and not from_doctor and "the lecture's lr range" in note
