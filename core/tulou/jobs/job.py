"""A scheduled job as a plugin registers it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

JOB_ID = re.compile(r"^[a-z][a-z0-9_]{1,60}$")


@dataclass(frozen=True)
class Job:
    """A job with a fixed id, run on an interval or a crontab line.

    A ``per_area`` job is called once per township where its module is enabled, as
    ``await func(area)``; otherwise once per tick as ``await func()``. Jobs must be
    idempotent: a tick may be retried after a crash.
    """

    id: str
    func: Callable[..., Awaitable[Any]]
    every: timedelta | None = None
    cron: str | None = None
    per_area: bool = True

    def __post_init__(self) -> None:
        if not JOB_ID.match(self.id):
            raise ValueError(f"job id {self.id!r} must be lower-case letters, digits or '_'")
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"job {self.id!r} needs exactly one of every= or cron=")
        if self.every is not None and self.every.total_seconds() <= 0:
            raise ValueError(f"job {self.id!r}: every= must be positive")
        if self.cron is not None:
            CronTrigger.from_crontab(self.cron)  # raises ValueError naming the bad field
