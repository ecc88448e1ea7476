"""How a search's trials ended, per stage, read from the run store's rows (``RunStore.runs()`` dicts).

One place for what ``babysit runs`` prints under its table and what ``babysit run``'s report shows per
stage: trials launched, finished, stopped at which rung (babysit.search.rungs), exploded / diverged /
failed, the training examples a stage trained on (a stratified subset for the coarse stages of a
search whose epochs are long) and the seconds from its first trial's start to its last one's end.
A trial that ran more than once (interrupted, then resumed) counts once, by its latest row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babysit.search.rungs import STOPPED


@dataclass
class StageTally:
    """The trials of one stage of one search, by how they ended."""

    search: str
    stage: int
    statuses: dict[str, int] = field(default_factory=dict)  # status -> trials ('stopped' included)
    stopped_at: dict[tuple, int] = field(default_factory=dict)  # (rung, rung_epochs) -> trials stopped there
    train_examples: int | None = None  # the most examples a trial of the stage trained on (None: unknown)
    started: float | None = None
    ended: float | None = None

    @property
    def launched(self) -> int:
        return sum(self.statuses.values())

    @property
    def seconds(self) -> float | None:
        """From the first trial's start to the last one's end (None while none has ended)."""
        return None if self.started is None or self.ended is None else self.ended - self.started

    def stopped_by_rung(self) -> list[tuple[tuple, int]]:
        """[((rung, rung_epochs), trials stopped there)], in rung order."""
        return sorted(self.stopped_at.items(), key=lambda kv: tuple(map(str, kv[0])))

    def stopped_text(self) -> str:
        """'6 at rung 1 (epoch 1)' per rung, or '0'."""
        return ", ".join(f"{n} at rung {rung} (epoch {epochs})" for (rung, epochs), n in self.stopped_by_rung()) or "0"


def stage_tallies(runs) -> list[StageTally]:
    """A StageTally per (search, stage) of the search trials in ``runs``, in search-id then stage order."""
    latest: dict[tuple, dict] = {}
    for r in runs:  # in id order: a rerun trial's latest row wins
        if r["search"] is not None and r["stage"] is not None:
            latest[(r.get("search_id"), r["search"], r["stage"], r["trial_index"])] = r
    tallies: dict[tuple, StageTally] = {}
    for (search_id, search, stage, _), r in sorted(latest.items(), key=lambda kv: (kv[0][0] or 0, kv[0][2], kv[0][3])):
        t = tallies.setdefault((search_id, search, stage), StageTally(search, stage))
        t.statuses[r["status"]] = t.statuses.get(r["status"], 0) + 1
        extra = r.get("extra") or {}
        if r["status"] == STOPPED:
            where = (extra.get("rung"), extra.get("rung_epochs"))
            t.stopped_at[where] = t.stopped_at.get(where, 0) + 1
        if extra.get("train_examples") is not None:
            t.train_examples = max(t.train_examples or 0, int(extra["train_examples"]))
        if r.get("started") is not None:
            t.started = r["started"] if t.started is None else min(t.started, r["started"])
        if r.get("finished") is not None:
            t.ended = r["finished"] if t.ended is None else max(t.ended, r["finished"])
    return list(tallies.values())


def stopped_note(runs) -> str | None:
    """How many search trials were stopped early, per stage and rung, or None when none was."""
    parts, total = [], 0
    for t in stage_tallies(runs):
        for (rung, epochs), n in t.stopped_by_rung():
            parts.append(f"{n} in stage {t.stage} of {t.search!r} at rung {rung} (epoch {epochs})")
            total += n
    if not parts:
        return None
    return (f"{total} trial(s) stopped early at a rung of their stage: " + "; ".join(parts)
            + ". Their rows show the rung's result.")


def subset_note(runs) -> str | None:
    """Which search stages trained on a stratified subset of the training split, or None when none did."""
    tallies = stage_tallies(runs)
    whole: dict[str, int] = {}
    for t in tallies:
        whole[t.search] = max(whole.get(t.search, 0), t.train_examples or 0)
    parts = [f"stage {t.stage} of {t.search!r} on {t.train_examples:,} of {whole[t.search]:,}"
             for t in tallies if t.train_examples is not None and t.train_examples < whole[t.search]]
    if not parts:
        return None
    return ("Trained on a stratified subset of the training split (the coarse stages of a search whose epochs "
            "are long): " + "; ".join(parts) + " examples.")
