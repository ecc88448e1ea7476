"""babysit.doctor: the lecture's sanity checks (each returns a Finding), training monitors, diagnoses, plots.

    findings = run_doctor(make_model, data)            # the eight checks, in the lecture's order
    monitor = TrainingMonitor(every=10)                 # a Solver callback; monitor.history is plain data
    diagnose_solver(solver, monitor)                    # end-of-run findings from the recorded curves
"""

from babysit.doctor.activation_check import activation_stats, layer_statistics
from babysit.doctor.baseline_check import input_baseline
from babysit.doctor.diagnoses import (diagnose_accuracy_gap, diagnose_loss_curve, diagnose_run, diagnose_solver,
                                      diagnose_units, diagnose_update_ratios)
from babysit.doctor.finding import Finding, worst_status
from babysit.doctor.gradient_check import gradient_check
from babysit.doctor.initial_checks import initial_loss, regularization
from babysit.doctor.monitors import (ActivationMonitor, GradientMonitor, TrainingMonitor, UpdateRatioMonitor,
                                     WeightStatsMonitor)
from babysit.doctor.runner import CHECKS, resolve_checks, run_doctor
from babysit.doctor.lr_range_check import lr_range
from babysit.doctor.overfit_check import overfit_small
from babysit.doctor.update_ratio_check import update_ratio

__all__ = [
    "Finding", "worst_status", "CHECKS", "run_doctor", "resolve_checks",
    "initial_loss", "regularization", "gradient_check", "overfit_small", "lr_range", "activation_stats",
    "update_ratio", "input_baseline", "layer_statistics",
    "TrainingMonitor", "UpdateRatioMonitor", "WeightStatsMonitor", "ActivationMonitor", "GradientMonitor",
    "diagnose_loss_curve", "diagnose_accuracy_gap", "diagnose_update_ratios", "diagnose_units", "diagnose_run",
    "diagnose_solver",
]
