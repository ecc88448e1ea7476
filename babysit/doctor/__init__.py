"""babysit.doctor: the lecture's sanity checks (each returns a Finding), training monitors, diagnoses, plots."""

from babysit.doctor.activation_check import activation_stats, layer_statistics
from babysit.doctor.finding import Finding, worst_status
from babysit.doctor.gradient_check import gradient_check
from babysit.doctor.initial_checks import initial_loss, regularization
from babysit.doctor.runner import CHECKS, resolve_checks, run_doctor
from babysit.doctor.training_checks import lr_range, overfit_small, update_ratio

__all__ = [
    "Finding", "worst_status", "CHECKS", "run_doctor", "resolve_checks",
    "initial_loss", "regularization", "gradient_check", "overfit_small", "lr_range", "activation_stats",
    "update_ratio", "layer_statistics",
]
