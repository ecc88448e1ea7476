import numpy as np
import pytest

from babysit.doctor import CHECKS, resolve_checks, run_doctor
from babysit.errors import ConfigError, DataError

from .doctor_cases import assert_jsonable, fc_factory

ALL = ["initial_loss", "regularization", "gradient_check", "overfit_small", "lr_range", "activation_stats",
       "update_ratio", "input_baseline"]


def test_registry_holds_the_eight_checks_in_the_lectures_order():
    assert list(CHECKS) == ALL


def test_unknown_check_names_are_a_config_error_listing_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        resolve_checks("initial_loss,grad_check")
    message = str(err.value)
    assert "'grad_check'" in message
    assert all(name in message for name in ALL)


def test_checks_accept_a_list_or_a_comma_string_and_drop_duplicates():
    assert resolve_checks("lr_range, initial_loss,lr_range") == ["lr_range", "initial_loss"]
    assert resolve_checks(["update_ratio"]) == ["update_ratio"]
    assert resolve_checks(None) == ALL
    with pytest.raises(ConfigError, match="no check named"):
        resolve_checks(" , ")


def test_healthy_net_passes_every_check(small_digits):
    seen = []
    findings = run_doctor(fc_factory([50]), small_digits, on_finding=seen.append)
    assert [f.check for f in findings] == ALL
    assert seen == findings
    assert [f.status for f in findings] == ["pass"] * len(ALL), [(f.check, f.explanation) for f in findings if f.status != "pass"]
    for f in findings:
        assert f.details["seconds"] >= 0
        assert_jsonable(f)


def test_update_ratio_uses_lr_ranges_suggestion_or_the_given_lr(small_digits):
    (f,) = run_doctor(fc_factory([50]), small_digits, checks="update_ratio")
    assert "lr_range" in f.details["lr_source"]
    lr_finding = run_doctor(fc_factory([50]), small_digits, checks="lr_range")[0]
    assert f.details["lr"] == pytest.approx(lr_finding.details["suggested_lr"])
    (g,) = run_doctor(fc_factory([50]), small_digits, checks=["update_ratio"], lr=3e-3)
    assert g.details["lr"] == 3e-3 and "given" in g.details["lr_source"]


def test_same_seed_same_findings(small_digits):
    a = run_doctor(fc_factory([20]), small_digits, checks="gradient_check,lr_range", seed=3)
    b = run_doctor(fc_factory([20]), small_digits, checks="gradient_check,lr_range", seed=3)
    assert [f.value for f in a] == [f.value for f in b]
    assert a[0].details["params"] == b[0].details["params"]


def test_a_model_that_crashes_becomes_a_failed_finding(small_digits):
    class Crashes:
        def __call__(self, **_):
            raise RuntimeError("layer 3 blew up")

    (f,) = run_doctor(Crashes(), small_digits, checks="initial_loss")
    assert f.status == "fail"
    assert "RuntimeError: layer 3 blew up" in f.explanation


def test_one_class_data_is_a_data_error(small_digits):
    X = small_digits["X_train"][:50]
    with pytest.raises(DataError, match="at least 2"):
        run_doctor(fc_factory([5]), (X, np.zeros(50, dtype=np.int64)), checks="initial_loss")


def test_accepts_a_dataset_object():
    from babysit.data import Preprocessor, load_source

    ds = load_source("digits")
    pre = Preprocessor.from_spec("standardize")
    ds.X_train, ds.X_val = pre.fit_transform(ds.X_train), pre.transform(ds.X_val)
    (f,) = run_doctor(fc_factory([10]), ds, checks="initial_loss")
    assert f.status == "pass"
