"""The registry of searchable hyperparameters: their names, kinds, allowed values, and which spaces suit them.

Names are checked once, at the boundary (``hyperparameter``, ``check_space``); past it a
``SearchSpace`` holds only known names with spaces that fit them.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from babysit.nn.init import INIT_SCHEMES
from babysit.nn.models import MODEL_ACTIVATIONS, NORMALIZATIONS
from babysit.search.spaces import Choice, IntUniform, LogUniform, Space, Uniform, option_text
from babysit.train.optim import UPDATE_RULES
from babysit.validation import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Interval, invalid


@dataclass(frozen=True)
class Hyperparameter:
    """A searchable hyperparameter: ``kind`` 'float' | 'int' | 'option', the values it allows, a help line."""

    name: str
    kind: str
    help: str
    limits: Interval | None = None  # allowed numbers ('float', 'int')
    options: tuple | None = None  # allowed values ('option')

    def allows(self, value) -> bool:
        if self.kind == "option":
            return value in self.options
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        return math.isfinite(value) and value in self.limits

    def allowed(self) -> str:
        """The allowed values in words, for error messages: 'numbers in [0, 1)', 'sgd, momentum, adam'."""
        if self.kind == "option":
            return ", ".join(option_text(o) for o in self.options)
        return f"{'integers' if self.kind == 'int' else 'numbers'} in {self.limits}"

    def refused(self, space: Space) -> list:
        """The values of ``space`` (its bounds or options) this hyperparameter does not allow."""
        values = space.options if isinstance(space, Choice) else (space.low, space.high)
        return [v for v in values if not self.allows(v)]


_UNIT_OPEN = Interval(0.0, 1.0, "left")  # [0, 1)

HYPERPARAMETERS: dict[str, Hyperparameter] = {
    hp.name: hp
    for hp in (
        Hyperparameter("lr", "float", "learning rate", POSITIVE),
        Hyperparameter("reg", "float", "L2 regularization strength", NON_NEGATIVE),
        Hyperparameter("weight_scale", "float", "std of the 'small' weight init", POSITIVE),
        Hyperparameter("dropout", "float", "probability of dropping a hidden unit", _UNIT_OPEN),
        Hyperparameter("lr_decay", "float", "learning rate factor per epoch", Interval(0.0, 1.0, "right")),
        Hyperparameter("momentum", "float", "momentum of the update rule", _UNIT_OPEN),
        Hyperparameter("horizon", "int", "epochs the lr decay is spread over: a trial of E epochs multiplies the "
                       "rate by lr_decay**(horizon/E) per epoch, so it ends as annealed as a horizon-epoch run",
                       AT_LEAST_ONE),
        Hyperparameter("hidden", "int", "hidden units per layer", AT_LEAST_ONE),
        Hyperparameter("batch_size", "int", "examples per minibatch", AT_LEAST_ONE),
        Hyperparameter("update", "option", "update rule", options=tuple(UPDATE_RULES)),
        Hyperparameter("init", "option", "weight init scheme", options=tuple(INIT_SCHEMES)),
        Hyperparameter("activation", "option", "activation function", options=tuple(MODEL_ACTIVATIONS)),
        Hyperparameter("normalization", "option", "normalization layer", options=tuple(NORMALIZATIONS)),
        Hyperparameter("lr_mult", "float", "finetuning (--from): factor on lr for the pretrained blocks that train",
                       POSITIVE),
    )
}

# which space objects each kind of hyperparameter accepts
_ACCEPTED = {"float": (LogUniform, Uniform, Choice), "int": (IntUniform, Choice), "option": (Choice,)}


def hyperparameter(name: str) -> Hyperparameter:
    """The registry entry for ``name``; ConfigError naming the known ones (and the closest) when it is unknown."""
    hp = HYPERPARAMETERS.get(name)
    if hp is None:
        close = difflib.get_close_matches(str(name), HYPERPARAMETERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise invalid("hyperparameter", "name",
                      f"the name of a hyperparameter, one of {', '.join(sorted(HYPERPARAMETERS))}{hint}", name)
    return hp


def check_space(name: str, space: Space, owner: str = "SearchSpace") -> None:
    """ConfigError (parameter ``name`` of ``owner``) unless ``space`` suits the hyperparameter ``name``."""
    hp = hyperparameter(name)
    accepted = _ACCEPTED[hp.kind]
    bad = hp.refused(space) if isinstance(space, accepted) else None
    if bad is None or bad:
        names = [c.__name__ for c in accepted]
        kinds = " or ".join(filter(None, [", ".join(names[:-1]), names[-1]]))
        article = "an" if kinds[0] in "AEIOU" else "a"
        raise invalid(owner, name, f"{article} {kinds} of {hp.allowed()} ({why_refused(hp, bad)})", space)


def why_refused(hp: Hyperparameter, refused: list | None) -> str:
    """The help line of ``hp``, and the first refused value if any: 'learning rate: not -1.0'."""
    return f"{hp.help}: not {option_text(refused[0])}" if refused else hp.help
