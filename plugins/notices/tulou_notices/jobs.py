"""Scheduled work: moving ended notices off the board into the archive."""

from __future__ import annotations

from datetime import timedelta

from tulou.api import Job
from tulou_notices.service import archive_expired

JOBS = (
    Job(id="archive_expired", func=archive_expired, every=timedelta(minutes=10), per_area=True),
)
