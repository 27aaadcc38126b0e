"""The jobs page: schedules, recent runs, and running a job now, for holders of ``jobs:manage`` only."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from tulou.console.job_board import MANAGE, recent_runs, run_now, schedules
from tulou.console.layout import CONSOLE, page, see_other
from tulou.identity.routes import caller
from tulou.security.guards import requires

JOBS = f"{CONSOLE}/jobs"


class JobsController(Controller):
    path = JOBS
    include_in_schema = False

    @get("/", guards=[requires(MANAGE)])
    async def jobs_page(self, request: Request, ran: FromQuery[str | None] = None,
                        job: FromQuery[str | None] = None) -> Any:
        platform = request.app.state.platform
        return await page(
            request, "jobs.html", schedules=await schedules(platform, getattr(request.app.state, "job_runner", None)),
            runs=await recent_runs(await caller(request), job), ran=ran, job=job or "",
            leading=getattr(getattr(request.app.state, "job_runner", None), "is_leader", False),
        )

    @post("/{job:str}/run", guards=[requires(MANAGE)])
    async def run(self, request: Request, job: FromPath[str]) -> Any:
        await run_now(request.app.state.platform, await caller(request), job)
        return see_other(f"{JOBS}?ran={job}")
