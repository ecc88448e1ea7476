import json
import math

import numpy as np
import pytest

from babysit.doctor import Finding, worst_status


def test_to_dict_is_strict_json_with_numpy_values_and_non_finite_floats_as_null():
    f = Finding("x", "warn", np.float32(1.5), {"a": np.int64(3)}, "why", "do this",
                details={"arr": np.arange(3), "nan": math.nan, "inf": np.float64(np.inf), "t": (1, 2)})
    d = json.loads(json.dumps(f.to_dict(), allow_nan=False))
    assert d == {"check": "x", "status": "warn", "value": 1.5, "expected": {"a": 3}, "explanation": "why",
                 "advice": "do this", "details": {"arr": [0, 1, 2], "nan": None, "inf": None, "t": [1, 2]},
                 "cause": None, "confidence": None, "evidence": {}}


def test_cause_confidence_and_evidence_go_into_details_for_the_store():
    f = Finding("x", "warn", 1.0, 1.0, "why", cause="lr_too_low", confidence=0.7, evidence={"ratio": 1e-5})
    d = f.to_dict()
    assert d["details"] == {"cause": "lr_too_low", "confidence": 0.7, "evidence": {"ratio": 1e-5}}
    assert d["cause"] == "lr_too_low"
    with pytest.raises(ValueError, match="unknown cause"):
        Finding("x", "warn", 1, 1, "why", cause="bad_luck")
    with pytest.raises(ValueError, match="confidence"):
        Finding("x", "warn", 1, 1, "why", cause="healthy", confidence=1.5)


def test_status_must_be_known():
    with pytest.raises(ValueError, match="pass, warn, fail"):
        Finding("x", "ok", 1, 1, "why")


def test_worst_status():
    mk = lambda s: Finding("x", s, None, None, "")  # noqa: E731
    assert worst_status([mk("pass"), mk("pass")]) == "pass"
    assert worst_status([mk("pass"), mk("warn")]) == "warn"
    assert worst_status([mk("warn"), mk("fail"), mk("pass")]) == "fail"
    assert worst_status([]) == "pass"
