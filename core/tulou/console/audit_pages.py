"""The audit log page: the caller's entries by actor, action, area and days, and a check of the hash chain.

Guarded by ``audit:read`` like ``GET /api/v1/audit``; the chain check reads without
changing anything, but it is a POST so that a link or a prefetch cannot start it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.params import FromQuery

from tulou.console.audit_log import AuditFilter, ChainOutcome, action_choices, audit_page, checked_chain, criteria
from tulou.console.guards import session_holding
from tulou.console.layout import CONSOLE, page
from tulou.console.paging import Paging, page_number
from tulou.console.pickers import area_options, areas_holding
from tulou.errors import Problem
from tulou.identity.routes import caller
from tulou.security.guards import requires

READ = "audit:read"
AUDIT_PAGE_SIZE = 50


class AuditController(Controller):
    path = f"{CONSOLE}/audit"
    include_in_schema = False

    @get("/", guards=[requires(READ)])
    async def audit_log_page(
        self, request: Request, actor: FromQuery[str] = "", action: FromQuery[str] = "", area: FromQuery[str] = "",
        since: FromQuery[str] = "", until: FromQuery[str] = "", page: FromQuery[int | None] = None,
    ) -> Any:
        return await self._show(request, AuditFilter(actor, action, area, since, until), page_number(page))

    @post("/verify", guards=[requires(READ)])
    async def verify(self, request: Request) -> Any:
        return await self._show(request, AuditFilter(), 1, chain=await checked_chain(await caller(request)))

    async def _show(self, request: Request, typed: AuditFilter, number: int,
                    chain: ChainOutcome | None = None) -> Any:
        principal = session_holding(request, READ)
        zone = ZoneInfo(request.app.state.platform.settings.console.timezone)
        wanted, errors = await criteria(typed, zone)
        rows, total = ([], 0)
        if not errors:
            try:
                rows, total = await audit_page(principal, wanted, Paging(number, 0, size=AUDIT_PAGE_SIZE))
            except Problem as refused:  # an area outside the caller's, or no area code at all
                errors[refused.field or "area"] = refused.detail
        return await page(
            request, "audit.html", status=422 if errors else 200, rows=rows, typed=typed, errors=errors,
            paging=Paging(number, total, typed.query(), size=AUDIT_PAGE_SIZE), chain=chain,
            actions=action_choices(typed.action), areas=area_options(await areas_holding(principal, READ)),
        )
