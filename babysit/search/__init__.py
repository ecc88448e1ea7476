"""babysit.search: search spaces, samplers, the trial function, coarse-to-fine stages, executors, the driver."""

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
from babysit.search.trial import DataRef, TrialTask, run_trial, trial_seed  # noqa: E402  (after spaces)
from babysit.search.records import TrialRecord, ranked  # noqa: E402
from babysit.search.stages import EdgeWarning, next_stage_space  # noqa: E402
from babysit.search.executors import DaskExecutor, InlineExecutor, ProcessExecutor, make_executor  # noqa: E402
from babysit.search.driver import Observer, SearchOutcome, SearchSpec, StageOutcome, run_search  # noqa: E402

__all__ = [
    "DaskExecutor",
    "DataRef",
    "EdgeWarning",
    "InlineExecutor",
    "Observer",
    "ProcessExecutor",
    "SearchOutcome",
    "SearchSpec",
    "StageOutcome",
    "TrialRecord",
    "TrialTask",
    "make_executor",
    "next_stage_space",
    "ranked",
    "run_search",
    "run_trial",
    "trial_seed",
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
