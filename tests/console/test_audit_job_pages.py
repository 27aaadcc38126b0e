"""The audit log page (filters, paging, the chain check) and the jobs page (schedules, runs, running one now)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import DEMO_COUNTY, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.console.conftest import Browser, staff
from tulou.audit.models import AuditEntry
from tulou.audit.service import record_audit
from tulou.jobs.models import JobOutcome, JobRun


async def signed_in(open_browser: Any, username: str) -> Browser:
    browser = open_browser()
    assert (await browser.sign_in(username)).status_code == 303
    return browser


def entry_ids(page: str) -> list[int]:
    """The entry numbers in the table, in order."""
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return [int(number) for number in re.findall(r'<td><span class="code">(\d+)</span></td>', body)]


async def test_the_audit_log_shows_the_callers_township_only_filtered_and_paged(
    console: AppClient, open_browser: Any,
) -> None:
    lin_id = await staff(console, "lin", "township_admin")
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    for number in range(55):
        await record_audit("cli", "person.created", area_code=SHANGPING_VILLAGE, target_type="person",
                           target_id=str(number))
    await record_audit("cli", "person.created", area_code=MEILIN_TOWNSHIP, target_type="person", target_id="m1")
    await record_audit(f"account:{lin_id}", "household.created", area_code=SHANGPING_VILLAGE,
                       target_type="household", target_id="by-lin")
    lin = await signed_in(open_browser, "lin")
    first = (await lin.open("/console/audit?action=person.created")).text
    yunxi = await AuditEntry.filter(action="person.created", area_code__startswith=YUNXI_TOWN[:9]).count()
    assert yunxi == 55 and re.search(rf"\D{yunxi} ", first.split("</table>")[1])  # Meilin's entry is not counted
    assert "person m1" not in first and 'rel="next"' in first and len(entry_ids(first)) == 50
    second = (await lin.open("/console/audit?action=person.created&page=2")).text
    assert len(entry_ids(second)) == 5 and 'rel="prev"' in second
    assert set(entry_ids(first)).isdisjoint(entry_ids(second))
    mine = (await lin.open("/console/audit?actor=lin")).text.split("<tbody>")[1]
    assert "household by-lin" in mine and "<td>lin</td>" in mine and "person " not in mine
    today = datetime.now(UTC).date()
    later = (await lin.open(f"/console/audit?since={today + timedelta(days=2)}")).text
    assert entry_ids(later) == []
    wrong = await lin.open(f"/console/audit?since=yesterday&until={today}")
    assert wrong.status_code == 422 and 'id="since-error"' in wrong.text
    backwards = await lin.open(f"/console/audit?since={today}&until={today - timedelta(days=1)}")
    assert backwards.status_code == 422 and 'id="until-error"' in backwards.text
    outside = await lin.open(f"/console/audit?area={MEILIN_TOWNSHIP}")
    assert outside.status_code == 422 and "person m1" not in outside.text
    options = first.split('id="area"')[1].split("</select>")[0]
    assert SHANGPING_VILLAGE in options and MEILIN_TOWNSHIP not in options


async def test_verifying_the_chain_says_ok_or_where_it_breaks(console: AppClient, open_browser: Any) -> None:
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    await staff(console, "lin", "township_admin")
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    county, lin = await signed_in(open_browser, "county"), await signed_in(open_browser, "lin")
    await county.open("/console/audit")
    intact = await county.submit("/console/audit/verify")
    total = await AuditEntry.all().count()
    assert intact.status_code == 200 and 'class="notice" role="status" id="chain-result"' in intact.text
    assert f"{total}" in intact.text.split('id="chain-result"')[1].split("</p>")[0]
    await lin.open("/console/audit")
    for_lin = (await lin.submit("/console/audit/verify")).text.split('id="chain-result"')[1].split("</p>")[0]
    assert f"{total}" not in for_lin  # how many entries the county holds is not a township's business
    meilin = await AuditEntry.filter(area_code=MEILIN_TOWNSHIP).order_by("id").first()
    assert meilin is not None
    await AuditEntry.filter(id=meilin.id).update(target_id="tampered")
    broken = (await county.submit("/console/audit/verify")).text
    assert 'class="error" role="alert" id="chain-result"' in broken
    assert str(meilin.id) in broken.split('id="chain-result"')[1].split("</p>")[0]
    for_lin = (await lin.submit("/console/audit/verify")).text
    assert 'role="alert" id="chain-result"' in for_lin
    assert str(meilin.id) not in for_lin.split('id="chain-result"')[1].split("</p>")[0]  # not Yunxi's entry


async def test_the_jobs_page_lists_schedules_and_runs_a_job_now(console: AppClient, open_browser: Any) -> None:
    county_id = await staff(console, "county", "county_admin", DEMO_COUNTY)
    await staff(console, "lin", "township_admin")
    await JobRun.create(job_id="tulou.device_status", plugin="tulou", started_at=datetime.now(UTC),
                        outcome=JobOutcome.FAILED, error="RuntimeError: broker away")
    await JobRun.create(job_id="notices.expire", plugin="notices", area_code=MEILIN_TOWNSHIP,
                        started_at=datetime.now(UTC), outcome=JobOutcome.SUCCEEDED)
    county = await signed_in(open_browser, "county")
    page = (await county.open("/console/jobs")).text
    for key in ("tulou.purge_expired_tokens", "tulou.device_status", "tulou.telemetry_upkeep"):
        assert f'id="job-{key}"' in page
    assert "RuntimeError: broker away" in page and MEILIN_TOWNSHIP in page
    before = await JobRun.filter(job_id="tulou.purge_expired_tokens").count()
    ran = await county.submit("/console/jobs/tulou.purge_expired_tokens/run")
    assert ran.status_code == 303 and ran.headers["location"] == "/console/jobs?ran=tulou.purge_expired_tokens"
    run = await JobRun.filter(job_id="tulou.purge_expired_tokens").order_by("-id").first()
    assert await JobRun.filter(job_id="tulou.purge_expired_tokens").count() == before + 1
    assert run is not None and run.outcome is JobOutcome.SUCCEEDED
    assert await AuditEntry.exists(action="job.run_requested", actor=f"account:{county_id}",
                                   target_id="tulou.purge_expired_tokens")
    assert (await county.submit("/console/jobs/tulou.nosuch/run")).status_code == 404
    only = (await county.open("/console/jobs?job=tulou.device_status")).text.split('id="runs-heading"')[1]
    assert "broker away" in only and "tulou.purge_expired_tokens" not in only
    lin = await signed_in(open_browser, "lin")
    assert (await lin.open("/console/jobs")).status_code == 403
    assert (await lin.submit("/console/jobs/tulou.purge_expired_tokens/run")).status_code == 403
    assert 'href="/console/jobs"' not in (await lin.open("/console/")).text


async def test_the_overview_says_where_a_jobs_latest_run_failed(console: AppClient, open_browser: Any) -> None:
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    await staff(console, "lin", "township_admin")
    earlier, later = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC)
    for area, outcomes in ((MEILIN_TOWNSHIP, (JobOutcome.SUCCEEDED, JobOutcome.FAILED)),
                           (YUNXI_TOWN, (JobOutcome.FAILED, JobOutcome.SUCCEEDED))):  # Yunxi's has recovered
        for started, outcome in zip((earlier, later), outcomes, strict=True):
            await JobRun.create(job_id="notices.expire", plugin="notices", area_code=area, started_at=started,
                                outcome=outcome)
    overview = (await (await signed_in(open_browser, "county")).open("/console/")).text
    meilin = overview.split(f'id="area-{MEILIN_TOWNSHIP}"')[1].split("</section>")[0]
    yunxi = overview.split(f'id="area-{YUNXI_TOWN}"')[1].split("</section>")[0]
    assert "1 个任务最近一次运行失败" in meilin and 'href="/console/jobs"' in meilin
    assert "没有失败的任务" in yunxi
    for_lin = (await (await signed_in(open_browser, "lin")).open("/console/")).text
    assert "定时任务" not in for_lin.split('<main')[1] and "任务最近一次运行失败" not in for_lin  # a county page
