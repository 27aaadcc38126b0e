"""The notice board's rules, as plain async functions the routes, the job and tests call.

A board shows the notices of the areas it reaches: a village's board its own and
its township's; a township's board its own and all its villages'. Times must carry
a UTC offset: a bare local time would mean different instants to different callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from tulou.api import Area, AreaLevel, Invalid, NotFound, township_code
from tulou_notices.i18n import _
from tulou_notices.models import TITLE_MAX_LENGTH, Notice, NoticeStatus

BOARD_LEVELS = (AreaLevel.VILLAGE, AreaLevel.TOWNSHIP)


@dataclass(frozen=True)
class NoticeDraft:
    """What a publisher submits; ``valid_from`` of ``None`` means now."""

    title: str
    body: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


async def managed_areas(area: Area) -> list[str]:
    """Codes of the areas whose notices are managed through ``area``: it and a township's villages.

    A village cannot take down its township's notice, though its board shows it.
    """
    if area.level is AreaLevel.TOWNSHIP:
        villages = await Area.filter(parent_id=area.code).values_list("code", flat=True)
        return [area.code, *villages]
    return [area.code] if area.level is AreaLevel.VILLAGE else []


async def board_areas(area: Area) -> list[str]:
    """Codes of the areas whose notices appear on ``area``'s board; a village shows its township's."""
    township = township_code(area.code) if area.level is AreaLevel.VILLAGE else None
    return [area.code, township] if township else await managed_areas(area)


def currently_valid(now: datetime) -> Q:
    """Published, started, and not yet ended at ``now``."""
    return Q(status=NoticeStatus.PUBLISHED, valid_from__lte=now) & (
        Q(valid_until__isnull=True) | Q(valid_until__gt=now)
    )


async def board_query(
    area: Area, *, include_all: bool = False, now: datetime | None = None
) -> QuerySet[Notice]:
    """Notices on ``area``'s board, newest first: current ones only unless ``include_all``."""
    query = Notice.filter(area_id__in=await board_areas(area))
    if not include_all:
        query = query.filter(currently_valid(now or utc_now()))
    return query.order_by("-valid_from", "-id")


async def list_notices(
    area: Area, *, limit: int, offset: int, include_all: bool = False
) -> tuple[list[Notice], int]:
    """One page of ``area``'s board and the total number of notices on it."""
    query = await board_query(area, include_all=include_all)
    return await query.offset(offset).limit(limit), await query.count()


async def get_notice(area: Area, notice_id: int, *, include_all: bool = False) -> Notice:
    """One notice on ``area``'s board; 404 if it is not there (or not current)."""
    notice = await (await board_query(area, include_all=include_all)).get_or_none(id=notice_id)
    if notice is None:
        raise NotFound(_("Notice %(id)s not found") % {"id": notice_id}, field="notice_id")
    return notice


async def latest_in(codes: list[str], *, limit: int) -> list[Notice]:
    """The newest notices of these areas in any state, for publishers to see what they put up."""
    return await Notice.filter(area_id__in=codes).order_by("-valid_from", "-id").limit(limit)


def _zoned(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid(_("Times must include a time zone offset"), field=field)
    return moment


def checked_draft(draft: NoticeDraft, max_body_length: int) -> NoticeDraft:
    """The draft, title trimmed and start filled in; or :class:`Invalid` naming the field."""
    title = draft.title.strip()
    if not title:
        raise Invalid(_("The title must not be empty"), field="title")
    if len(title) > TITLE_MAX_LENGTH:
        raise Invalid(
            _("The title must be at most %(max)d characters") % {"max": TITLE_MAX_LENGTH},
            field="title",
        )
    if not draft.body.strip():
        raise Invalid(_("The body must not be empty"), field="body")
    if len(draft.body) > max_body_length:
        raise Invalid(
            _("The body must be at most %(max)d characters") % {"max": max_body_length},
            field="body",
        )
    valid_from = _zoned(draft.valid_from, "valid_from") if draft.valid_from else utc_now()
    valid_until = _zoned(draft.valid_until, "valid_until") if draft.valid_until else None
    if valid_until is not None and valid_until <= valid_from:
        raise Invalid(_("The notice must end after it starts"), field="valid_until")
    return NoticeDraft(title=title, body=draft.body, valid_from=valid_from, valid_until=valid_until)


async def publish_notice(
    area: Area, draft: NoticeDraft, *, publisher: str, max_body_length: int
) -> Notice:
    """Publish a notice to a village or township board."""
    if area.level not in BOARD_LEVELS:
        raise Invalid(
            _("Notices are published to a village or a township, and %(code)s is neither")
            % {"code": area.code},
            field="area",
        )
    checked = checked_draft(draft, max_body_length)
    return await Notice.create(
        area_id=area.code,
        title=checked.title,
        body=checked.body,
        valid_from=checked.valid_from,
        valid_until=checked.valid_until,
        published_by=publisher,
    )


async def withdraw_notice(area: Area, notice_id: int) -> Notice:
    """Take a notice off the board for good; the record stays. Repeating it changes nothing."""
    notice = await Notice.get_or_none(id=notice_id, area_id__in=await managed_areas(area))
    if notice is None:
        raise NotFound(_("Notice %(id)s not found") % {"id": notice_id}, field="notice_id")
    if notice.status is not NoticeStatus.WITHDRAWN:
        notice.status = NoticeStatus.WITHDRAWN
        await notice.save(update_fields=["status", "updated_at"])
    return notice


async def archive_expired(township: Area, now: datetime | None = None) -> int:
    """Archive the published notices of a township and its villages whose end has passed.

    The scheduled job calls this once per township where the module is on; running it
    twice archives nothing more. Returns how many notices it archived.
    """
    now = now or utc_now()
    expired = Notice.filter(
        area_id__in=await managed_areas(township),
        status=NoticeStatus.PUBLISHED,
        valid_until__lte=now,
    )
    # A bulk update skips auto_now, so the time is set here.
    return await expired.update(status=NoticeStatus.ARCHIVED, updated_at=now)
