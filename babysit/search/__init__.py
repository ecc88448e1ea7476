"""babysit.search: search spaces, samplers (coarse-to-fine stages and executors come later)."""

from babysit.search.samplers import SAMPLERS, GridSampler, RandomSampler, make_sampler
from babysit.search.spaces import (
    HYPERPARAMETERS,
    Choice,
    Hyperparameter,
    IntUniform,
    LogUniform,
    SearchSpace,
    Space,
    Uniform,
    check_space,
    hyperparameter,
    parse_space,
    space_from_json,
)

__all__ = [
    "Choice",
    "GridSampler",
    "HYPERPARAMETERS",
    "Hyperparameter",
    "IntUniform",
    "LogUniform",
    "RandomSampler",
    "SAMPLERS",
    "SearchSpace",
    "Space",
    "Uniform",
    "check_space",
    "hyperparameter",
    "make_sampler",
    "parse_space",
    "space_from_json",
]
