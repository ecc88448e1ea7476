"""Which trial a longer training should take: the one-standard-error rule over the search's best trials.

A validation accuracy p measured on n examples has a standard error of sqrt(p (1 - p) / n): 0.007 for
p = 0.52 on CIFAR-10's 5,000 validation images. Trials of the same stage (same epochs, same training
examples) whose accuracies lie within one standard error of the best are not told apart by the
validation split. Among them the rule takes the most regularized one, the largest ``reg``: the simplest
model the data cannot tell from the best (Breiman et al., *Classification and Regression Trees*, 1984;
Hastie, Tibshirani and Friedman, *The Elements of Statistical Learning*, section 7.10).

For ``babysit run`` this is more than a tie-break. The final training runs 4-16 times the epochs of the
trials, and a reg too small to cost anything in a 20-epoch trial leaves the long run overfitting: among a
6-minute CIFAR-10 fc:50 job's tied trials, the 80-epoch test accuracy rose with reg (docs/benchmarks.md,
"the one-standard-error rule").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from babysit.search.records import TrialRecord

REGULARIZER = "reg"  # the hyperparameter whose larger values make the simpler model


@dataclass(frozen=True)
class Selection:
    """The trial taken (``record``), the best by validation accuracy, the standard error used (None: the
    rule did not apply and ``record`` is ``best``) and the trials within it (the best included)."""

    record: TrialRecord
    best: TrialRecord
    standard_error: float | None = None
    tied: int = 1

    @property
    def changed(self) -> bool:
        """Whether the rule took another trial than the best."""
        return self.record is not self.best

    def describe(self) -> str:
        """One sentence on what was taken and why."""
        if self.standard_error is None:
            return f"the best trial (run {self.best.run_id}, val_acc {self.best.val_acc:f})"
        best = (f"the best val_acc {self.best.val_acc:f} (run {self.best.run_id}, {REGULARIZER} "
                f"{self.best.params[REGULARIZER]:.3g})")
        if self.tied == 1:
            return (f"no other trial of stage {self.best.stage} lies within one standard error "
                    f"({self.standard_error:.4f}) of {best}: it is kept")
        head = (f"{self.tied} trials of stage {self.best.stage} lie within one standard error "
                f"({self.standard_error:.4f}) of {best}")
        if not self.changed:
            return f"{head}; it is also the most regularized of them and is kept"
        return (f"{head}; the most regularized of them is taken: run {self.record.run_id}, val_acc "
                f"{self.record.val_acc:f}, {REGULARIZER} {self.record.params[REGULARIZER]:.3g} "
                "(the one-standard-error rule: a long run needs the regularization short trials cannot tell apart)")

    def summary(self) -> dict:
        """What the store keeps with the final run."""
        return {"rule": "one standard error" if self.standard_error is not None else "best",
                "best_run": self.best.run_id, "best_val_acc": self.best.val_acc, "taken_run": self.record.run_id,
                "standard_error": self.standard_error, "tied": self.tied}


def accuracy_standard_error(accuracy: float, examples: int) -> float:
    """The binomial standard error of an accuracy measured on ``examples`` examples."""
    p = min(max(float(accuracy), 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / int(examples))


def one_standard_error(best: TrialRecord | None, records) -> Selection | None:
    """The most regularized trial within one standard error of ``best`` among ``records`` (see the module
    docstring). Only trials comparable with ``best`` count: finished, of its stage, with its epochs and
    training examples, with a numeric ``reg``. Where ``best`` did not finish (a trial stopped at a rung),
    has no numeric ``reg`` or no recorded number of validation examples, ``best`` itself."""
    if best is None:
        return None
    examples = (best.extra or {}).get("val_examples")
    if not (best.ok and examples and _numeric(best.params.get(REGULARIZER)) and math.isfinite(best.val_acc)):
        return Selection(best, best)
    se = accuracy_standard_error(best.val_acc, examples)
    floor = best.val_acc - se
    tied = [r for r in records if _comparable(r, best) and r.val_acc >= floor]
    if best not in tied:  # a caller's best need not be among its records
        tied.append(best)
    taken = max(tied, key=lambda r: (float(r.params[REGULARIZER]), r.val_acc, -r.stage, -r.index))
    return Selection(taken, best, se, len(tied))


def _comparable(record: TrialRecord, best: TrialRecord) -> bool:
    return (record.ok and math.isfinite(record.val_acc) and record.stage == best.stage
            and record.epochs == best.epochs
            and (record.extra or {}).get("train_examples") == (best.extra or {}).get("train_examples")
            and _numeric(record.params.get(REGULARIZER)))


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
