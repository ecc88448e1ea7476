"""babysit.search: search spaces, samplers, the trial function, coarse-to-fine stages, executors, the driver."""

from babysit.search.spaces import Choice, IntUniform, LogUniform, Space, Uniform, space_from_json
from babysit.search.hyperparameters import HYPERPARAMETERS, Hyperparameter, check_space, hyperparameter
from babysit.search.syntax import format_space, parse_space
from babysit.search.search_space import SearchSpace
from babysit.search.samplers import SAMPLERS, GridSampler, RandomSampler, make_sampler
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
    "format_space",
    "hyperparameter",
    "make_sampler",
    "parse_space",
    "space_from_json",
]
