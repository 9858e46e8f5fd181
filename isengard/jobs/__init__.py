"""The job runner: long work as jobs with persisted progress that any process can follow."""

from isengard.jobs.context import JobContext
from isengard.jobs.records import ACTIVE, TERMINAL, JobEvent, JobRecord
from isengard.jobs.runner import JobRunner

__all__ = ["ACTIVE", "TERMINAL", "JobContext", "JobEvent", "JobRecord", "JobRunner"]
