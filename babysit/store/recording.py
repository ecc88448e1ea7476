"""The one way a run's results reach the store: ``record_run(store, run_id, record)``.

``record`` is a ``babysit.train.RunRecord`` (plain values: status, metrics, series, findings,
artifacts, error), built by ``babysit.train.outcome.run_record`` from a trained Solver (a search
trial returns one from its worker process). Every writer calls ``record_run``: search trials, ``babysit train --store`` and the final
training of ``babysit run``. Order matters for a kill -9 at any point: the series and findings
are written first and the status last, so a run marked finished has everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def record_run(store, run_id: int, record, *, extra_metrics: Mapping | None = None) -> None:
    """Write ``record`` into the running run ``run_id`` of ``store``: series, findings, status + metrics, artifacts.

    ``extra_metrics`` are merged over the record's (e.g. the test accuracy measured after training).
    """
    for kind, (steps, values) in record.series.items():
        if len(values):
            store.log_metrics(run_id, kind, steps, values)
    if record.findings:
        store.add_findings(run_id, record.findings)
    store.finish_run(run_id, record.status, {**record.metrics, **(extra_metrics or {})}, error=record.error)
    for kind, path in record.artifacts:
        store.add_artifact(run_id, kind, Path(path))
