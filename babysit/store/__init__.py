"""babysit.store: the run store on SQLite (searches, runs, metric series, findings, artifacts)."""

from babysit.store.codec import RUN_METRIC_COLUMNS, spec_hash
from babysit.store.run_store import RunStore
from babysit.store.schema import FINAL_STATUSES, INTERRUPTED, LATEST_VERSION, RUN_STATUSES

__all__ = [
    "FINAL_STATUSES",
    "INTERRUPTED",
    "LATEST_VERSION",
    "RUN_METRIC_COLUMNS",
    "RUN_STATUSES",
    "RunStore",
    "spec_hash",
]
