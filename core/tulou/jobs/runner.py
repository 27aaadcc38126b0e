"""The job runner: schedules the core's and plugins' jobs while this process is the leader, and records each run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.jobs.core import CORE, core_jobs
from tulou.jobs.job import Job
from tulou.jobs.leader import Leadership, leadership_for
from tulou.jobs.models import JobOutcome, JobRun
from tulou.modules.models import ModuleActivation
from tulou.platform import Platform
from tulou.plugins.manager import describe_error
from tulou.plugins.manifest import ActivationPolicy

log = logging.getLogger(__name__)
LEADER_POLL_SECONDS = 5.0


def job_key(plugin: str, job: Job) -> str:
    return f"{plugin}.{job.id}"


async def townships_running(platform: Platform, plugin: str) -> list[Area]:
    """The townships where ``plugin`` is on: all of them for a required module and the core."""
    record = platform.plugins.get(plugin)
    if plugin == CORE or (record is not None and record.activation is ActivationPolicy.REQUIRED):
        return await Area.filter(level=AreaLevel.TOWNSHIP).order_by("code")
    codes = await ModuleActivation.filter(plugin=plugin).values_list("area_id", flat=True)
    return await Area.filter(code__in=list(codes)).order_by("code")


def scheduled_jobs(platform: Platform) -> list[tuple[str, Job]]:
    """Every job to schedule, with its owner: the core's first, then each plugin's."""
    return [(CORE, job) for job in core_jobs(platform)] + [
        (plugin, job) for plugin, jobs in platform.registry.jobs.items() for job in jobs
    ]


async def run_job(platform: Platform, plugin: str, job: Job) -> list[JobRun]:
    """Run one tick of a job now: once, or once per township where its module is on."""
    record = platform.plugins.get(plugin)
    if plugin != CORE and (record is None or not record.usable):
        return []
    if not job.per_area:
        return [await _record_run(plugin, job, None)]
    return [await _record_run(plugin, job, area) for area in await townships_running(platform, plugin)]


async def _record_run(plugin: str, job: Job, area: Area | None) -> JobRun:
    run = await JobRun.create(
        job_id=job_key(plugin, job), plugin=plugin, area_code=area.code if area else None, started_at=datetime.now(UTC)
    )
    try:
        await (job.func(area) if job.per_area else job.func())
    except Exception as error:  # noqa: BLE001 - a job's failure is recorded, not raised
        run.outcome, run.error = JobOutcome.FAILED, describe_error(error)
        log.error("job %s failed for %s: %s", run.job_id, run.area_code, run.error)
    else:
        run.outcome = JobOutcome.SUCCEEDED
    run.finished_at = datetime.now(UTC)
    await run.save(update_fields=["outcome", "error", "finished_at"])
    return run


class JobRunner:
    """Competes for leadership and, while leader, runs the scheduler."""

    def __init__(self, platform: Platform, leadership: Leadership | None = None) -> None:
        self.platform = platform
        self.leadership = leadership or leadership_for(platform.settings.database_url, platform.settings.data_dir)
        self.scheduler: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._lead(), name="tulou job leader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._stop_scheduler()
        await self.leadership.release()

    async def _lead(self) -> None:
        while True:
            try:
                if self.scheduler is None and await self.leadership.try_acquire():
                    self._start_scheduler()
                elif self.scheduler is not None and not await self.leadership.still_held():
                    log.warning("lost the job leader lock; stopping the scheduler")
                    self._stop_scheduler()
            except Exception as error:  # noqa: BLE001 - retry on the next poll
                log.error("job leadership check failed: %s", describe_error(error))
            await asyncio.sleep(LEADER_POLL_SECONDS)

    def _start_scheduler(self) -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        for plugin, job in scheduled_jobs(self.platform):
            trigger = IntervalTrigger(seconds=job.every.total_seconds()) if job.every else CronTrigger.from_crontab(job.cron, timezone=UTC)
            scheduler.add_job(
                run_job, trigger, args=[self.platform, plugin, job], id=job_key(plugin, job),
                replace_existing=True, max_instances=1, coalesce=True,
            )
        scheduler.start()
        self.scheduler = scheduler
        log.info("this process now runs scheduled jobs")

    def _stop_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
