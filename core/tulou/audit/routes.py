"""``GET /api/v1/audit``: the audit log, newest first, within the caller's areas."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import QueryParameter

from tulou.audit import service
from tulou.audit.schemas import AuditPage, entry_out
from tulou.security.guards import current_principal, requires

READ = "audit:read"
MAX_PAGE = 500


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/", guards=[requires(READ)], summary="Audit entries within the caller's areas, newest first")
    async def list_audit(
        self,
        request: Request,
        area: Annotated[str | None, QueryParameter(description="only this area's subtree")] = None,
        action: Annotated[str | None, QueryParameter(description="only this action, e.g. module.enabled")] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 100,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> AuditPage:
        principal = await current_principal(request)
        assert principal is not None  # the guard admitted the caller
        limit = min(limit, MAX_PAGE)
        entries, total = await service.list_entries(principal, area=area, action=action, limit=limit, offset=offset)
        return AuditPage(items=[entry_out(e) for e in entries], total=total, limit=limit, offset=offset)
