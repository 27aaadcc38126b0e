"""Wire shapes of notices: what publishers send and what boards show."""

from __future__ import annotations

from datetime import datetime

import msgspec

from tulou_notices.models import Notice
from tulou_notices.service import NoticeDraft


class NoticeIn(msgspec.Struct, forbid_unknown_fields=True):
    """A notice as a publisher submits it; times carry a UTC offset, ``valid_from`` defaults to now.

    A missing title or body is the same mistake as a blank one, so both default to ""
    and the service answers 422 naming the field.
    """

    title: str = ""
    body: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def draft(self) -> NoticeDraft:
        return NoticeDraft(
            title=self.title,
            body=self.body,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
        )


class NoticeOut(msgspec.Struct):
    """A notice on a board. ``published_by`` (an account or client id) is shown only to
    those who may publish there: a public board does not hand out staff ids."""

    id: int
    area: str
    title: str
    body: str
    valid_from: datetime
    valid_until: datetime | None
    status: str
    created_at: datetime
    updated_at: datetime
    published_by: str | msgspec.UnsetType = msgspec.UNSET


class NoticePage(msgspec.Struct):
    items: list[NoticeOut]
    total: int
    limit: int
    offset: int


def notice_out(notice: Notice, *, publisher_shown: bool) -> NoticeOut:
    return NoticeOut(
        id=notice.id,
        area=notice.area_id,
        title=notice.title,
        body=notice.body,
        valid_from=notice.valid_from,
        valid_until=notice.valid_until,
        status=notice.status.value,
        created_at=notice.created_at,
        updated_at=notice.updated_at,
        published_by=notice.published_by if publisher_shown else msgspec.UNSET,
    )
