"""babysit.pipeline: ``babysit run``, the lecture's whole recipe (doctor, coarse-to-fine search, final
training, test evaluation, report), and recording plain training runs in the run store."""

from babysit.pipeline.main_job import JobConfig, JobResult, run_job
from babysit.pipeline.plan import Plan, plan_search
from babysit.pipeline.record import record_train_run

__all__ = ["JobConfig", "JobResult", "run_job", "Plan", "plan_search", "record_train_run"]
