"""What a run records about where it comes from, and the final run of ``babysit run`` how it did on the test split.

Every run recorded through ``record_run`` carries the babysit version and the command line
(``store.recording.process_provenance``); ``train_run_extras(config)`` adds the machine, the kernels
(``babysit.nn.kernels``: the pace, not the results, depends on them), data and seeds of a ``babysit train
--store`` run.

``final_run_extras(config, dataset, final, test, selection)`` -> extra metrics for the final run's record (kept in
the store's ``extra_json``, so both the live dashboard and ``babysit report`` show them): the babysit
version, the command line, the machine, the kernels, the data source, seeds and split sizes, which trial it took
and why (``search.selection.Selection.summary``), and, for the test
split, the per-class accuracy and the confusion matrix (rows: true class, columns: predicted).
"""

from __future__ import annotations

import os
import platform
import socket

import numpy as np

from babysit.nn.kernels import active_kernels


def machine() -> str:
    """One line: CPU model (from /proc/cpuinfo where there is one), logical cores, OS."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


def confusion_matrix(model, X, y, num_classes: int, batch_size: int = 500) -> list[list[int]]:
    """counts[true][predicted] of ``model`` (eval mode: ``model.loss(X)`` gives scores) on (X, y)."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for start in range(0, len(X), batch_size):
        with np.errstate(all="ignore"):
            predicted = np.asarray(model.loss(X[start:start + batch_size])).argmax(axis=1)
        np.add.at(counts, (np.asarray(y[start:start + batch_size]), predicted), 1)
    return counts.tolist()


def train_run_extras(config) -> dict:
    """Provenance of a ``babysit train --store`` run (the version and command line come with every
    ``record_run``): the machine, the data source and the seeds of its ``TrainConfig``."""
    return {**_where(), "data": config.data, "split_seed": config.seed, "run_seed": config.init_seed}


def _where() -> dict:
    """The machine, the host and the kernels (``babysit.nn.kernels``) a run trained on."""
    return {"machine": machine(), "host": socket.gethostname(), "kernels": active_kernels()}


def final_run_extras(config, dataset, final, test: dict | None, selection=None) -> dict:
    """The provenance and test details of the final run (see the module docstring)."""
    from babysit.store.recording import process_provenance

    extras = {
        **process_provenance(), **_where(), "data": config.data, "split_seed": config.seed,
        "run_seed": final.config.init_seed, "train_examples": int(len(dataset.y_train)),
        "val_examples": int(len(dataset.y_val)), "test_examples": int(len(dataset.y_test)),
        "class_names": [str(c) for c in dataset.class_names],
    }
    if final.blas_threads is not None:  # what the final training chose from its own first epochs
        extras["blas_threads"] = final.blas_threads
        extras["epoch_seconds_by_threads"] = {str(k): v for k, v in (final.epoch_seconds_by_threads or {}).items()}
    if selection is not None:  # the trial it took and why (search.selection)
        extras["selection"] = selection.summary()
    if final.attempts:  # the final trainings not kept, each recorded in the store ('final attempt')
        extras["final_attempts"] = [dict(a) for a in final.attempts]
    if test is not None:
        extras["test_per_class"] = test.get("per_class")
        extras["test_confusion"] = confusion_matrix(final.run.result.model, dataset.X_test, dataset.y_test,
                                                    dataset.num_classes)
    return extras
