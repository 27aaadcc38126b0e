"""A record of every job run."""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class JobOutcome(str, enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(Model):
    """One run of a job, for one township when the job is per area."""

    id = fields.IntField(primary_key=True)
    job_id = fields.CharField(max_length=128, db_index=True)
    plugin = fields.CharField(max_length=64)
    area_code = fields.CharField(max_length=12, null=True)
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    outcome = fields.CharEnumField(JobOutcome, max_length=16, default=JobOutcome.RUNNING)
    error = fields.TextField(null=True)

    class Meta:
        table = "core_job_run"
        ordering = ["-id"]
