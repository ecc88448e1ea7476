"""Coarse to fine: from one stage's results, the next stage's ranges, and the lecture's edge warning.

The lecture: a first stage samples the whole ranges for a few epochs; each later stage
narrows the ranges to where the best trials were and trains longer. And when the best
result sits at the edge of its range ("this best cross-validation result is worrying"),
better values may lie beyond it: we say so and extend the next stage past that edge, but only
when that trial clearly learned (above chance) and beats the typical trial. A stage whose
trials all sit at chance learned nothing: it says so (``NothingLearned``, with the likely cause)
instead, and the next stage keeps the ranges rather than narrowing onto noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from babysit.search.records import TrialRecord, ranked
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import Choice, LogUniform, Space, option_text
from babysit.search.syntax import format_space

TOP_FRACTION = 0.2  # the next stage spans the best fifth of the trials...
MIN_TOP = 3  # ...but at least the best three
MARGIN = 0.1  # plus this fraction of the current width on each side
EDGE_TOL = 0.1  # "near an edge": within this fraction of the width (decades for log ranges)
CHANCE_MARGIN = 0.1  # "above chance": by this fraction of the way from chance to 100%
MIN_EXTEND_DECADES = 0.5  # a log range grows past an edge by at least half a decade


def top_trials(records, fraction: float = TOP_FRACTION, minimum: int = MIN_TOP) -> list[TrialRecord]:
    """The best ``fraction`` of the trials that finished (at least ``minimum``, at most all of them)."""
    good = ranked(records)
    n = max(minimum, math.ceil(fraction * len([r for r in records if r.status != "failed"])))
    return good[:n]


@dataclass(frozen=True)
class EdgeWarning:
    """The best trial of ``stage`` sits near the ``edge`` ('low'|'high') of ``name``'s range [low, high].

    ``extended`` is the next stage's range for ``name`` (None after the last stage).
    """

    stage: int
    name: str
    edge: str
    value: float
    val_acc: float
    space: Space
    extended: Space | None

    def message(self) -> str:
        side = "above" if self.edge == "high" else "below"
        text = (
            f"{self.name}: the best trial of stage {self.stage} (val_acc {self.val_acc:f}, {self.name} "
            f"{format_value(self.value)}) sits at the {self.edge} edge of the range searched "
            f"({describe_space(self.space)}): this best result is worrying, better values may lie {side} it"
        )
        if self.extended is not None:
            return text + f"; stage {self.stage + 1} extends {self.name} to {describe_space(self.extended)}"
        wider = self.extended_cli()
        return text + f"; search again with --{self.name.replace('_', '-')} {wider}"

    def extended_cli(self) -> str:
        """CLI text of the range widened past the edge (what to search next)."""
        wider = _extend(SearchSpace({self.name: self.space}), self.name, self.edge)[self.name]
        if isinstance(wider, LogUniform):
            return f"{wider.low:.3g}:{wider.high:.3g}:log"
        return format_space(wider)


@dataclass(frozen=True)
class NothingLearned:
    """Every trial of ``stage`` ended at chance (or exploded): the ranges hold no working setting.

    ``cause`` is from ``babysit.doctor.causes`` (lr_too_low, lr_too_high or no_signal: a broken setup).
    """

    stage: int
    cause: str
    best_val_acc: float | None
    chance: float
    exploded: int
    trials: int
    space: SearchSpace
    extended = None  # the printer's "is there a next stage to announce" test, as for EdgeWarning

    def message(self) -> str:
        best = "no trial reached a validation accuracy" if self.best_val_acc is None else \
            f"the best val_acc is {self.best_val_acc:f}"
        head = (f"stage {self.stage} learned nothing: {best}, chance is {self.chance:f} "
                f"({self.exploded} of {self.trials} trials exploded)")
        if self.cause == "lr_too_high":
            why = "the learning rates searched are too high: search lower rates"
        elif self.cause == "lr_too_low":
            lr = self.space["lr"] if "lr" in self.space else None
            why = ("the learning rates searched are too low for this preprocessing and init" +
                   (f" (lr {describe_space(lr)})" if lr is not None else "") +
                   ": search higher rates; leave --lr out and babysit takes the doctor's lr range")
        else:
            why = ("no setting in these ranges learns: check the setup with `babysit doctor` "
                   "(labels, data scale, gradient check)")
        return f"{head}: {why}"


def spec_chance(spec) -> float | None:
    """Chance accuracy (1 / classes) of a search's data (prepared once per process, cached)."""
    from babysit.search.trial import prepared

    try:
        return 1.0 / prepared(spec.data)[0].num_classes
    except Exception:  # the trials report bad data themselves
        return None


def _nothing_learned(space, records, stage, chance) -> NothingLearned | None:
    exploded = sum(r.status in ("exploded", "diverged") for r in records)
    total = len([r for r in records if r.status != "failed"])
    if chance is None or not total:
        return None
    # a trial stopped at a rung (by its bracket, or by the budget before any trial went on from the rung) has
    # its rung's accuracy: evidence of learning too. (A ConvNet stage cut by its deadline at the rungs was told
    # "no trial finished ... the learning rates searched are too low" with trials at 0.49-0.56 against 0.1.)
    seen = [r.val_acc for r in records if r.val_acc is not None and math.isfinite(r.val_acc)
            and (r.ok or r.status == "stopped")]
    best = max(seen) if seen else None
    if best is not None and best > chance + CHANCE_MARGIN * (1 - chance):
        return None
    if exploded * 2 >= total:
        cause = "lr_too_high"
    elif "lr" in space and isinstance(space["lr"], LogUniform) and space["lr"].high <= 1e-2:
        cause = "lr_too_low"
    else:
        cause = "no_signal"
    return NothingLearned(stage, cause, best, chance, exploded, total, space)


def _clearly_best(best: TrialRecord, others, chance) -> bool:
    """The best trial learned (above chance, when known) and beats the typical other trial."""
    if chance is not None and best.val_acc <= chance + CHANCE_MARGIN * (1 - chance):
        return False
    rest = sorted(r.val_acc for r in others)
    return not rest or best.val_acc > rest[len(rest) // 2]


def next_stage_space(space: SearchSpace, records, stage: int, *, last: bool = False, chance: float | None = None):
    """The ranges of stage ``stage + 1`` from the trials of ``stage``.

    Every range (log, linear, integer) narrows to the span of the best trials plus a margin;
    lists of options stay whole. Each hyperparameter whose best value sits near an edge is
    extended past that edge, when that trial is clearly the best (``_clearly_best``). Returns
    (next SearchSpace, [EdgeWarning]); with ``last`` the space is unchanged and the warnings tell
    what to search next. With no finished trial the space is unchanged and there are no warnings.
    ``chance`` (1 / classes; None: unknown): a stage all at chance keeps the space and returns
    [NothingLearned] instead of edge warnings.
    """
    nothing = _nothing_learned(space, records, stage, chance)
    if nothing is not None:
        return space, [nothing]
    best = top_trials(records)
    if not best:
        return space, []
    narrowed = space
    if not last:
        for name in space:
            if isinstance(space[name], Choice):
                continue
            narrowed = narrowed.with_space(name, space[name].narrow([r.params[name] for r in best], MARGIN))
    warnings = []
    others = [r for r in ranked(records) if r is not best[0]]
    edges = space.edges(best[0].params, EDGE_TOL) if _clearly_best(best[0], others, chance) else {}
    for name, edge in edges.items():
        if not last:
            # the margin (>= the edge tolerance) has kept this edge in the narrowed range; grow past it
            narrowed = _extend(narrowed.with_space(name, _with_edge(narrowed[name], space[name], edge)), name, edge)
        warnings.append(EdgeWarning(stage, name, edge, best[0].params[name], best[0].val_acc, space[name],
                                    None if last else narrowed[name]))
    return narrowed, warnings


def _with_edge(narrow: Space, wide: Space, edge: str) -> Space:
    """``narrow`` with its ``edge`` bound moved to ``wide``'s (so the extension starts from the searched edge)."""
    if edge == "low":
        return type(narrow)(wide.low, narrow.high)
    return type(narrow)(narrow.low, wide.high)


def _extend(space: SearchSpace, name: str, edge: str) -> SearchSpace:
    s = space[name]
    if isinstance(s, LogUniform):
        decades = math.log10(s.high / s.low)
        return space.extend(name, edge, 10.0 ** max(MIN_EXTEND_DECADES, decades / 2))
    return space.extend(name, edge)  # linear ranges double their width on that side


def format_value(value) -> str:
    """A hyperparameter value as the lecture prints it: floats as %e, the rest as text."""
    if isinstance(value, float):
        return f"{value:e}"
    return option_text(value)


def describe_space(space: Space) -> str:
    """A range in words for the output: '1.00e-06 .. 1.00e-03 (log)', '0 .. 0.5', '50, 100, 200'."""
    if isinstance(space, Choice):
        return ", ".join(option_text(o) for o in space.options)
    if isinstance(space, LogUniform):
        return f"{space.low:.2e} .. {space.high:.2e} (log)"
    return f"{space.low:g} .. {space.high:g}"


def describe(space: SearchSpace) -> str:
    """Every range of a search space in words, one 'name range' per hyperparameter."""
    return ", ".join(f"{name} {describe_space(s)}" for name, s in space.items())
