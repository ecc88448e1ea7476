"""babysit.pipeline: ``babysit run``, the lecture's whole recipe (doctor, coarse-to-fine search, final
training, test evaluation, report), and the babysat training run that ``babysit train`` and the final
training share (``monitored_training``, ``train_job``)."""

from babysit.pipeline.main_job import JobConfig, JobResult, run_job
from babysit.pipeline.plan import Plan, plan_search
from babysit.pipeline.training import MonitoredRun, TrainJob, monitored_training, train_job

__all__ = ["JobConfig", "JobResult", "run_job", "Plan", "plan_search", "MonitoredRun", "TrainJob",
           "monitored_training", "train_job"]
