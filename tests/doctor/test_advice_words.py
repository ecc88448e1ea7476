"""Advice in the words of the interface (issue 10): CLI flags on the command line, arguments in Python,
and never the setting the run already has."""

from babysit.doctor.advice import in_words, setting, settings_named
from babysit.doctor.cause_rules import diagnose_cause


def test_markers_render_as_flags_or_python_arguments():
    text = f"raise the learning rate ({setting('lr', 0.1)}) and anneal it ({setting('schedule', 'cosine')})"
    assert in_words(text, {"lr": "--lr", "schedule": "--schedule"}) == \
        "raise the learning rate (--lr 0.1) and anneal it (--schedule cosine)"
    assert in_words(text) == "raise the learning rate (lr=0.1) and anneal it (schedule='cosine')"
    assert settings_named(text) == {"lr": "0.1", "schedule": "cosine"}


def test_exploded_run_is_told_a_lower_rate_not_to_train_longer():
    ev = {"nonfinite_at": 12, "status": "exploded", "chance": 0.1, "ln_c": 2.3, "init_excess": 0.0}
    d = diagnose_cause(ev, {"lr": 0.5, "epochs": 10})
    assert d.cause == "lr_too_high" and settings_named(d.advice) == {"lr": "0.05"}


def test_init_advice_never_repeats_the_default_init():
    # issue 10: `--init he` was advised to runs that already used He (the default for relu)
    ev = {"chance": 0.1, "ln_c": 2.3, "init_excess": 2.0, "val_acc": 0.5, "train_acc": 0.5}
    d = diagnose_cause(ev, {"lr": 0.01, "init": None, "activation": None, "preprocess": "standardize"})
    assert d.cause == "init_too_large"
    assert "init" not in settings_named(d.advice) and settings_named(d.advice) == {"normalization": "batchnorm"}
    d_small = diagnose_cause(ev, {"lr": 0.01, "weight_scale": 1.0})
    assert settings_named(d_small.advice)["init"] == "he"


def test_lr_at_default_is_scaled_from_the_run_not_blindly_lowered():
    ev = {"chance": 0.1, "ln_c": 2.3, "init_excess": 0.0, "val_acc": 0.7, "train_acc": 0.72, "gap": 0.02,
          "ratio_median": 4e-4, "late_share": 0.05, "val_gain_late": 0.0}
    d = diagnose_cause(ev, {"lr": 1e-3, "epochs": 10, "schedule": "cosine", "model": "fc:100,100"})
    assert d.cause == "lr_too_low" and settings_named(d.advice) == {"lr": "0.01"}
