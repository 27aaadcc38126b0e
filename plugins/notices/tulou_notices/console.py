"""``/console/notices``: the notice board page, where staff see their boards and publish to them.

Mounted by the core under ``/console/notices`` behind the console's guards and the module
gate; it offers only the villages and townships where the caller may publish and the
module is on, and publishes through :mod:`tulou_notices.service`, like the API does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery

from tulou.api import (
    Area,
    AreaLevel,
    ConsoleForm,
    Invalid,
    Problem,
    Unauthorized,
    area_label,
    console_page,
    current_principal,
    level_of,
    module_areas,
    plugin_settings,
    requires,
    see_other,
)
from tulou_notices import service
from tulou_notices.i18n import _
from tulou_notices.models import TITLE_MAX_LENGTH, NoticeStatus
from tulou_notices.permissions import PUBLISH
from tulou_notices.settings import NoticesSettings

BOARD = "/console/notices"
#: How many of the newest notices the page lists.
SHOWN = 50


@dataclass
class NoticeForm:
    title: str = ""
    body: str = ""
    area: str = ""


def status_labels() -> dict[str, str]:
    return {
        NoticeStatus.PUBLISHED.value: _("Published"),
        NoticeStatus.WITHDRAWN.value: _("Withdrawn"),
        NoticeStatus.ARCHIVED.value: _("Archived"),
    }


async def boards(request: Request) -> list[Area]:
    """The villages and townships the caller may publish to, where the module is on."""
    return [area for area in await module_areas(request, PUBLISH)
            if level_of(area.code) in (AreaLevel.VILLAGE, AreaLevel.TOWNSHIP)]


def draft_errors(data: NoticeForm, target: Area | None, max_body_length: int) -> dict[str, str]:
    """What the service would refuse, checked before it is asked: the board, then the draft."""
    errors = {} if target else {"area": _("Choose a village or township from the list")}
    try:
        service.checked_draft(service.NoticeDraft(title=data.title, body=data.body), max_body_length)
    except Invalid as refused:
        errors[refused.field or "form"] = refused.detail
    return errors


class NoticeBoardPage(Controller):
    path = "/"
    include_in_schema = False

    @get("/", guards=[requires(PUBLISH)])
    async def board(self, request: Request, done: FromQuery[str | None] = None) -> Any:
        notice = _("The notice has been published.") if done == "published" else None
        return await self._board(request, NoticeForm(), {}, notice=notice)

    @post("/", guards=[requires(PUBLISH)])
    async def publish(self, request: Request, data: Annotated[NoticeForm, ConsoleForm]) -> Any:
        settings: NoticesSettings = plugin_settings(request, "notices")
        target = next((area for area in await boards(request) if area.code == data.area), None)
        errors = draft_errors(data, target, settings.max_body_length)
        if target is not None and not errors:
            principal = await current_principal(request)
            if principal is None:  # the guard has already refused anonymous callers
                raise Unauthorized(_("Sign-in required"))
            draft = service.NoticeDraft(title=data.title, body=data.body)
            try:
                await service.publish_notice(target, draft, publisher=principal.id,
                                             max_body_length=settings.max_body_length)
            except Problem as refused:
                errors = {refused.field or "form": refused.detail}
            else:
                return see_other(f"{BOARD}?done=published")
        return await self._board(request, data, errors, status=422)

    async def _board(self, request: Request, form: NoticeForm, errors: dict[str, str], *,
                     notice: str | None = None, status: int = 200) -> Any:
        targets = await boards(request)
        notices = await service.latest_in([area.code for area in targets], limit=SHOWN)
        return await console_page(
            request, "board.html", status=status, notices=notices, places={area.code: area for area in targets},
            area_choices=[(area.code, f"{area_label(area)} {area.code}") for area in targets],
            statuses=status_labels(), form=form, errors=errors, notice=notice,
            title_max=TITLE_MAX_LENGTH,
        )
