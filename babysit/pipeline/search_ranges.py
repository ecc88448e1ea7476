"""The ranges ``babysit run`` searches: learning rate from the doctor's probes, regularization fixed.

The lecture starts its coarse search from the learning rates at which the loss goes down; the
doctor's ``lr_range`` check probes rates a decade apart and reports the good ones.
"""

from __future__ import annotations

import math

LECTURE_LR = (1e-6, 1e-3)  # the lecture's coarse range, when the doctor found no working rate
# The lecture searched reg in 1e-5..1e5 for weights initialized at 1e-4 * randn. With He/Xavier init
# and standardized inputs, 0.5 * reg * sum(W**2) is ~50 x reg for the 2-layer net at init, so
# reg above ~10 only shrinks the weights to zero: the range stops there.
REG_RANGE = (1e-5, 1e1)
PROBE_GAP_ABOVE = math.sqrt(10.0)  # the doctor's lr probes are a decade apart: search half way to the next


def lr_range_from(findings, update: str) -> tuple[tuple[float, float], str, bool]:
    """The search's lr range from the doctor's findings, a sentence saying where it came from, and whether
    the doctor gave it (False: the lecture's fallback range).

    The probes are a decade apart and short: the highest rate that works lies between the last
    good probe and the first bad one, and a long annealed run tolerates (and usually wants) rates
    near it, so the range reaches half a decade past the last good probe. A single good probe
    also reaches half a decade below it. No good probe (or no lr_range finding): the lecture's range.
    """
    lr = next((f for f in findings if f.check == "lr_range"), None)
    if lr is not None and isinstance(lr.value, (list, tuple)) and len(lr.value) == 2:
        low, high = float(lr.value[0]), float(lr.value[1])
        if not low < high:
            low = low / PROBE_GAP_ABOVE
        high = high * PROBE_GAP_ABOVE
        note = (f"the doctor's lr_range probe recommends {lr.value[0]:g} .. {lr.value[1]:g} ({update}); the search "
                f"starts from {low:.3g} .. {high:.3g}, half a decade past the last good probe towards the first "
                "failing one")
        return (low, high), note, True
    note = (f"the doctor's lr_range found no working rate ({lr.explanation if lr else 'not run'}); the search "
            f"starts from the lecture's lr range {LECTURE_LR[0]:g} .. {LECTURE_LR[1]:g}")
    return LECTURE_LR, note, False
