"""The one way a run's results reach the store: ``record_run(store, run_id, record)``.

``record`` is a ``babysit.train.RunRecord`` (plain values: status, metrics, series, findings,
artifacts, error), built by ``babysit.train.outcome.run_record`` from a trained Solver (a search
trial returns one from its worker process). Every writer calls ``record_run``: search trials, ``babysit train --store`` and the final
training of ``babysit run``. Order matters for a kill -9 at any point: the series and findings
are written first and the status last, so a run marked finished has everything.
Every run also gets the writer's provenance (``process_provenance``: babysit version and command
line), so the dashboard's run page can say where any run, not only ``babysit run``'s final one, came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def record_run(store, run_id: int, record, *, extra_metrics: Mapping | None = None) -> None:
    """Write ``record`` into the running run ``run_id`` of ``store``: series, findings, status + metrics, artifacts.

    ``extra_metrics`` are merged over the record's (e.g. the test accuracy measured after training),
    both over ``process_provenance()`` (what the record says itself wins).
    """
    for kind, (steps, values) in record.series.items():
        if len(values):
            store.log_metrics(run_id, kind, steps, values)
    if record.findings:
        store.add_findings(run_id, record.findings)
    metrics = {**process_provenance(), **record.metrics, **(extra_metrics or {})}
    store.finish_run(run_id, record.status, metrics, error=record.error)
    for kind, path in record.artifacts:
        store.add_artifact(run_id, kind, Path(path))


def process_provenance() -> dict:
    """{'babysit_version', 'command'} of this process: the writer (a search's driver, ``babysit train``, ...)."""
    import os
    import shlex
    import sys

    from babysit import __version__

    return {"babysit_version": __version__, "command": shlex.join([os.path.basename(sys.argv[0]), *sys.argv[1:]])}
