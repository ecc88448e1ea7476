"""``TrialRecord``: one finished (or failed) trial as the driver, the stages and the output see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrialRecord:
    """A trial's outcome: where it sits in the search, its hyperparameters and its final metrics.

    ``resumed`` is True when it was read back from the store rather than run now.
    """

    run_id: int | None
    stage: int
    index: int
    params: Mapping
    status: str
    val_acc: float | None = None
    train_acc: float | None = None
    loss: float | None = None
    epochs: float | None = None
    seconds: float | None = None
    error: str | None = None
    stop_reason: str | None = None
    resumed: bool = False
    extra: Mapping = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Finished normally with a validation accuracy (exploded, diverged and failed trials are not)."""
        return self.status == "finished" and self.val_acc is not None

    @classmethod
    def from_run(cls, run: Mapping) -> TrialRecord:
        """From a ``RunStore.runs()`` dict."""
        extra = dict(run.get("extra") or {})
        return cls(
            run_id=run["id"], stage=run["stage"], index=run["trial_index"], params=dict(run["params"]),
            status=run["status"], val_acc=run["val_acc"], train_acc=run["train_acc"], loss=run["loss"],
            epochs=run["epochs"], seconds=run["seconds"], error=run["error"],
            stop_reason=extra.get("stop_reason"), resumed=True, extra=extra,
        )


def ranked(records) -> list[TrialRecord]:
    """The trials that finished with a validation accuracy, best first (ties: earlier stage, lower index)."""
    return sorted((r for r in records if r.ok), key=lambda r: (-r.val_acc, r.stage, r.index))
