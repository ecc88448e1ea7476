import numpy as np
from PIL import Image

from babysit.doctor import run_doctor
from babysit.doctor.diagnoses import diagnose_loss_curve, diagnose_update_ratios
from babysit.doctor.plots import (plot_accuracy, plot_activation_histograms, plot_loss_curve, plot_lr_probes,
                                  plot_update_ratios, plot_weight_stats, save_doctor_plots, save_run_plots)

from .doctor_cases import fc_factory


def assert_png(path, min_width=400):
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.width >= min_width and img.height >= 200
        # not a blank canvas: something was drawn
        assert len(np.unique(np.asarray(img.convert("L")))) > 10


def test_loss_curve_with_nan_and_annotation(tmp_path):
    curve = [2.3] * 100 + list(np.linspace(2.3, 0.4, 200)) + [np.nan]
    path = plot_loss_curve(curve, tmp_path / "loss.png", diagnose_loss_curve(curve))
    assert path == tmp_path / "loss.png"
    assert_png(path)


def test_accuracy_update_ratio_weights_and_probe_plots(tmp_path):
    assert_png(plot_accuracy([0.3, 0.6, 0.9], [0.3, 0.5, 0.6], tmp_path / "acc.png"))
    history = {"iteration": [1, 11, 21], "params": {"W1": [1e-3, 2e-3, 0.0], "W2": [1e-2, 3e-2, 5e-2]}}
    assert_png(plot_update_ratios(history, tmp_path / "ratio.png", diagnose_update_ratios(history)))
    weights = {"epoch": [0, 1, 2], "params": {"W1": {"mean": [0, 0.01, 0.02], "std": [0.1, 0.12, 0.15]}}}
    assert_png(plot_weight_stats(weights, tmp_path / "w.png"))
    probes = [{"lr": 1e-3, "verdict": "too_low", "losses": [2.3, 2.3, 2.3]},
              {"lr": 1e-1, "verdict": "good", "losses": [2.3, 1.5, 0.9]},
              {"lr": 1e3, "verdict": "too_high", "losses": [2.3, 1e9, float("nan")]}]
    assert_png(plot_lr_probes(probes, tmp_path / "lr.png"))


def test_activation_histograms_like_the_lecture(tmp_path, small_digits):
    from babysit.doctor import activation_stats

    f = activation_stats(fc_factory([200] * 6, activation="tanh", weight_scale=0.01), small_digits)
    assert_png(plot_activation_histograms(f.details["layers"], tmp_path / "hist.png"), min_width=800)


def test_save_doctor_plots_writes_one_png_per_available_figure(tmp_path, small_digits):
    findings = run_doctor(fc_factory([30]), small_digits)
    paths = save_doctor_plots(findings, tmp_path / "plots")
    names = sorted(p.name for p in paths)
    assert names == sorted(["activation_histograms.png", "lr_range.png", "overfit_loss.png", "overfit_accuracy.png",
                            "overfit_weights.png", "update_ratios.png"])
    for p in paths:
        assert_png(p)


def test_save_run_plots_from_a_monitored_run(tmp_path, small_digits):
    from babysit.doctor.diagnoses import diagnose_solver
    from babysit.doctor.monitors import TrainingMonitor
    from babysit.train.solver import Solver

    monitor = TrainingMonitor(every=2)
    solver = Solver(fc_factory([30, 30])(), small_digits, optim_config={"learning_rate": 3e-2}, num_epochs=3,
                    batch_size=50, verbose=False, seed=0, callbacks=[monitor]).train()
    paths = save_run_plots(solver.loss_history, solver.train_acc_history, solver.val_acc_history, monitor.history,
                           diagnose_solver(solver, monitor), tmp_path)
    assert sorted(p.name for p in paths) == ["accuracy.png", "activation_histograms.png", "loss.png",
                                             "update_ratios.png", "weights.png"]
    for p in paths:
        assert_png(p)
