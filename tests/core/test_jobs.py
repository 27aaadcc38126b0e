"""Jobs: one leader at a time, runs recorded, per-area jobs only where the module is on."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, ON_POSTGRES, SHIMEN_TOWN, YUNXI_TOWN
from tests.core.sample_plugins import SamplePlugin
from tulou.identity.accounts_models import AccessToken
from tulou.jobs.core import CORE
from tulou.jobs.leader import FileLeadership, PostgresLeadership
from tulou.jobs.models import JobOutcome, JobRun
from tulou.jobs.runner import JobRunner, run_job, scheduled_jobs


async def test_only_one_file_leader_at_a_time(tmp_path: Path) -> None:
    first, second = FileLeadership(tmp_path), FileLeadership(tmp_path)
    assert await first.try_acquire()
    assert not await second.try_acquire()
    await first.release()
    assert await second.try_acquire()
    await second.release()


@pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass of make test")
async def test_only_one_postgres_leader_at_a_time(database_url: str) -> None:
    first, second = PostgresLeadership(database_url), PostgresLeadership(database_url)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.still_held()
        await first.release()
        assert await second.try_acquire()
    finally:
        await first.release()
        await second.release()


async def test_per_area_jobs_run_where_the_module_is_on_and_are_recorded(serve: Any) -> None:
    plugin = SamplePlugin(fail_job_for={SHIMEN_TOWN})
    async with serve(plugins=[plugin]) as client:
        platform = client.app.state.platform
        job = platform.registry.jobs["sample"][0]
        assert await run_job(platform, "sample", job) == []
        await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/sample", headers=ADMIN)
        await client.put(f"/api/v1/areas/{SHIMEN_TOWN}/modules/sample", headers=ADMIN)
        runs = await run_job(platform, "sample", job)
        stored = await JobRun.filter(job_id="sample.tick").order_by("area_code")
    assert plugin.job_areas == [YUNXI_TOWN]
    assert [(r.area_code, r.outcome) for r in stored] == [
        (YUNXI_TOWN, JobOutcome.SUCCEEDED), (SHIMEN_TOWN, JobOutcome.FAILED)
    ]
    assert len(runs) == 2
    failed = next(r for r in stored if r.outcome is JobOutcome.FAILED)
    assert "job failed on purpose" in failed.error and failed.finished_at is not None


async def test_two_runners_on_one_database_schedule_once(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin()]) as client:
        platform = client.app.state.platform
        first, second = JobRunner(platform), JobRunner(platform)
        try:
            first.start()
            second.start()
            for _ in range(50):
                if first.is_leader or second.is_leader:
                    break
                await asyncio.sleep(0.05)
            assert first.is_leader != second.is_leader
            leader = first if first.is_leader else second
            assert leader.scheduler.get_job("sample.tick") is not None
        finally:
            await first.stop()
            await second.stop()


def test_a_job_needs_one_valid_schedule() -> None:
    from datetime import timedelta

    from tulou.jobs.job import Job

    async def work() -> None: ...

    with pytest.raises(ValueError, match="exactly one"):
        Job(id="both", func=work, every=timedelta(minutes=1), cron="* * * * *")
    with pytest.raises(ValueError):
        Job(id="bad_cron", func=work, cron="61 * * * *")
    with pytest.raises(ValueError, match="positive"):
        Job(id="never", func=work, every=timedelta(0))
    assert Job(id="nightly", func=work, cron="0 2 * * *").cron == "0 2 * * *"


async def test_the_core_purges_token_rows_a_day_after_they_expire(serve: Any) -> None:
    async with serve() as client:
        platform = client.app.state.platform
        (owner, job), *_ = scheduled_jobs(platform)
        assert (owner, job.id) == (CORE, "purge_expired_tokens")
        admin = await AccessToken.get()  # the tests' admin token, far from expiry
        now = datetime.now(timezone.utc)
        for name, expired_for in (("old", timedelta(days=2)), ("recent", timedelta(hours=1))):
            await AccessToken.create(token_hash=name * 8, account_id=admin.account_id, kind=admin.kind,
                                     expires_at=now - expired_for, token_version=0)
        (run,) = await run_job(platform, CORE, job)
        left = sorted(await AccessToken.all().values_list("token_hash", flat=True))
    assert run.outcome is JobOutcome.SUCCEEDED and run.job_id == "tulou.purge_expired_tokens"
    assert left == sorted([admin.token_hash, "recent" * 8])
