"""``/api/v1/notices/areas/{area}/notices``: reading a board (public) and publishing to it.

Handlers only parse, authorise and shape; the rules are in :mod:`tulou_notices.service`.
The core mounts them behind the module gate, which answers 404 for areas whose
township has not enabled the module.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, QueryParameter, RequestBody

from tulou.api import (
    PUBLIC,
    Area,
    Unauthorized,
    current_principal,
    get_area,
    plugin_settings,
    requires,
)
from tulou_notices import service
from tulou_notices.i18n import _
from tulou_notices.permissions import PUBLISH
from tulou_notices.schemas import NoticeIn, NoticeOut, NoticePage, notice_out
from tulou_notices.settings import NoticesSettings

MAX_PAGE = 100
may_publish = requires(PUBLISH)

Include = Annotated[
    Literal["current", "all"],
    QueryParameter(
        description="'all' adds withdrawn, archived, ended and future notices (notices:publish)"
    ),
]


async def _include_all(request: Request, include: str) -> bool:
    """Past and withdrawn notices are for publishers: check the same guard the write routes use."""
    if include == "all":
        await may_publish(request, request.route_handler)
        return True
    return False


async def _publisher_shown(request: Request, area: Area) -> bool:
    """Who published a notice is for those who publish on the board, not for the public."""
    principal = await current_principal(request)
    return principal is not None and principal.has_permission(PUBLISH, area.code)


class NoticeController(Controller):
    path = "/areas/{area:str}/notices"
    tags = ["notices"]

    @get("/", opt=PUBLIC, summary="Notices on an area's board, newest first")
    async def list_notices(
        self,
        request: Request,
        area: FromPath[str],
        include: Include = "current",
        limit: Annotated[int, QueryParameter(ge=1, description=f"at most {MAX_PAGE}")] = 20,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> NoticePage:
        include_all = await _include_all(request, include)
        limit = min(limit, MAX_PAGE)
        board = await get_area(area)
        notices, total = await service.list_notices(
            board, limit=limit, offset=offset, include_all=include_all
        )
        shown = await _publisher_shown(request, board)
        return NoticePage(
            items=[notice_out(n, publisher_shown=shown) for n in notices],
            total=total,
            limit=limit,
            offset=offset,
        )

    @get("/{notice_id:int}", opt=PUBLIC, summary="One notice on an area's board")
    async def get_notice(
        self,
        request: Request,
        area: FromPath[str],
        notice_id: FromPath[int],
        include: Include = "current",
    ) -> NoticeOut:
        include_all = await _include_all(request, include)
        board = await get_area(area)
        notice = await service.get_notice(board, notice_id, include_all=include_all)
        return notice_out(notice, publisher_shown=await _publisher_shown(request, board))

    @post("/", guards=[may_publish], summary="Publish a notice to a village or township")
    async def publish(
        self, request: Request, area: FromPath[str], data: RequestBody[NoticeIn]
    ) -> NoticeOut:
        principal = await current_principal(request)
        if principal is None:  # the guard has already refused anonymous callers
            raise Unauthorized(_("Sign-in required"))
        settings: NoticesSettings = plugin_settings(request, "notices")
        notice = await service.publish_notice(
            await get_area(area),
            data.draft(),
            publisher=principal.id,
            max_body_length=settings.max_body_length,
        )
        return notice_out(notice, publisher_shown=True)

    @delete(
        "/{notice_id:int}",
        guards=[may_publish],
        status_code=200,
        summary="Withdraw a notice (kept)",
    )
    async def withdraw(self, area: FromPath[str], notice_id: FromPath[int]) -> NoticeOut:
        notice = await service.withdraw_notice(await get_area(area), notice_id)
        return notice_out(notice, publisher_shown=True)
