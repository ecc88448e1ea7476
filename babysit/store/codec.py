"""How the run store turns values into SQLite cells and rows back into dicts."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping

from babysit.fileio import dumps

# finish_run() metrics that have their own column; any other key goes to extra_json.
RUN_METRIC_COLUMNS = ("val_acc", "train_acc", "loss", "epochs", "best_val_acc")

RUN_COLUMNS = (
    "id", "search_id", "stage", "trial_index", "params_json", "status", "error", "started", "finished", "seconds",
    *RUN_METRIC_COLUMNS, "extra_json",
)
# The columns of runs joined with the search's name: what run() and runs() select.
RUN_SELECT = (
    "SELECT " + ", ".join("r." + c for c in RUN_COLUMNS) + ", s.name FROM runs r "
    "LEFT JOIN searches s ON s.id = r.search_id"
)

FINDING_FIELDS = ("check", "status", "value", "expected", "explanation", "advice", "details")


def to_json(value) -> str:
    """Canonical strict JSON: keys sorted, no spaces, NaN/inf as null, NumPy values as plain ones.

    The text of a search spec is hashed (``spec_hash``) to recognise a resume, so it must
    not change between versions for the same spec.
    """
    return dumps(value, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: Mapping) -> str:
    """SHA-256 of the canonical JSON of a search spec: equal specs hash equal, whatever the key order."""
    return hashlib.sha256(to_json(spec).encode()).hexdigest()


def float_or_none(value) -> float | None:
    """A metric cell: a float, None for None and NaN (SQLite stores NaN as NULL anyway; ±inf is kept)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def from_json(text: str | None):
    return None if text is None else json.loads(text)


def run_dict(row) -> dict:
    """A runs row selected with ``RUN_SELECT`` as the dict ``RunStore.runs`` documents."""
    d = dict(zip(RUN_COLUMNS + ("search",), row))
    d["params"] = json.loads(d.pop("params_json"))
    extra = d.pop("extra_json")
    d["extra"] = json.loads(extra) if extra else {}
    return d


def finding_fields(finding) -> Mapping:
    """The fields of a finding given as a dict, a ``babysit.doctor.Finding`` or any object with them."""
    if isinstance(finding, Mapping):
        return finding
    if hasattr(finding, "to_dict"):  # babysit.doctor.Finding
        return finding.to_dict()
    return {k: getattr(finding, k, None) for k in FINDING_FIELDS}


def differing_keys(old, new) -> list[str]:
    """Top-level keys whose values differ between two specs (for the "different spec" error)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return []
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
