"""babysit.experiments: the lecture's demonstrations, runnable (e.g. activation statistics at init)."""

from babysit.experiments.init_stats import InitStats, format_init_stats, plot_init_stats, run_init_stats

__all__ = ["InitStats", "run_init_stats", "format_init_stats", "plot_init_stats"]
