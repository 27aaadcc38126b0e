"""What the jobs page shows: every scheduled job (the core's and the plugins'), when it runs next, and recent runs.

There is no jobs API: the page takes ``jobs:manage``, a county permission (see
:data:`tulou.identity.roles.COUNTY_ONLY`), because a job runs for every township at
once. Runs are still shown within the caller's areas only, and a run started by hand
goes through :func:`tulou.jobs.runner.run_job`, as a scheduled one does, and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from babel.dates import format_timedelta
from tortoise.expressions import Q
from tortoise.functions import Max

from tulou.areas.service import in_subtrees
from tulou.audit.service import holds_every_root, record_audit
from tulou.errors import NotFound
from tulou.i18n import current_locale
from tulou.i18n import gettext as _
from tulou.jobs.job import Job
from tulou.jobs.models import JobRun
from tulou.jobs.runner import JobRunner, job_key, run_job, scheduled_jobs
from tulou.platform import Platform
from tulou.security.principal import Principal

MANAGE = "jobs:manage"
RECENT_RUNS = 50


@dataclass(frozen=True)
class JobSchedule:
    key: str
    owner: str
    schedule: str
    per_area: bool
    next_run: datetime | None


def schedule_label(job: Job) -> str:
    """"every 6 hours" or the crontab line, in the page's language."""
    if job.every is not None:
        return _("every %(interval)s") % {
            "interval": format_timedelta(job.every, threshold=1.5, locale=current_locale.get())}
    return _("cron %(line)s (UTC)") % {"line": job.cron}


def _next_run(job: Job, key: str, runner: JobRunner | None, last_start: datetime | None) -> datetime | None:
    """The leader's own plan when this process leads; else what the schedule says from the last run."""
    if runner is not None and runner.scheduler is not None and (planned := runner.scheduler.get_job(key)):
        return planned.next_run_time
    now = datetime.now(UTC)
    if job.cron is not None:
        return CronTrigger.from_crontab(job.cron, timezone=UTC).get_next_fire_time(None, now)
    return max(last_start + job.every, now) if last_start is not None and job.every is not None else None


async def _last_starts() -> dict[str, datetime]:
    """Each job's latest start, counted by the database: a job run every minute has many rows."""
    rows = await JobRun.annotate(last=Max("started_at")).group_by("job_id").values_list("job_id", "last")
    return {key: started for key, started in rows}


async def schedules(platform: Platform, runner: JobRunner | None) -> list[JobSchedule]:
    """Every job the leader schedules, core's first, with its next run."""
    starts = await _last_starts()
    return [
        JobSchedule(job_key(owner, job), owner, schedule_label(job), job.per_area,
                    _next_run(job, job_key(owner, job), runner, starts.get(job_key(owner, job))))
        for owner, job in scheduled_jobs(platform)
    ]


async def _scope(principal: Principal) -> Q:
    """Runs in the caller's areas; runs for no township only for a county-wide caller."""
    if principal.area_roots is None:
        return Q()
    placed = in_subtrees(principal.area_roots, "area_code")
    return placed | Q(area_code=None) if await holds_every_root(principal) else placed


async def recent_runs(principal: Principal, job: str | None = None) -> list[JobRun]:
    query = JobRun.filter(await _scope(principal))
    if job:
        query = query.filter(job_id=job)
    return await query.order_by("-id").limit(RECENT_RUNS)


async def run_now(platform: Platform, principal: Principal, key: str) -> list[JobRun]:
    """Run one tick of job ``key`` in this process now, audited as asked for by the caller."""
    found = next(((owner, job) for owner, job in scheduled_jobs(platform) if job_key(owner, job) == key), None)
    if found is None:
        raise NotFound(_("No scheduled job is called %(job)s") % {"job": key}, field="job")
    await record_audit(principal.id, "job.run_requested", target_type="job", target_id=key)
    return await run_job(platform, *found)
