"""The change feed's bookkeeping: every write to a dataset takes its turn, then numbers its changes.

A write transaction first takes the dataset's turn (:func:`take_turn`, an update of
the dataset's row, which PostgreSQL locks and SQLite serialises until commit), reads
and writes its records, and ends with :func:`record_changes`, which numbers the
changes after the dataset's last. Writers of one dataset therefore commit one after
the other in the order of their numbers, and a reader that has seen change N has
seen every change before it: following the feed never skips one.

Every write path goes through these two functions, the single-record routes as well
as a bulk import writing thousands of records in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

import msgspec
from tortoise.expressions import F

from tulou.areas.service import in_subtrees
from tulou.exchange.driver_rows import insert_rows
from tulou.exchange.models import Change, ChangeOp, Dataset, NewChange, Record
from tulou.exchange.outbox import enqueue_deliveries

_CHANGE_COLUMNS = ("dataset_id", "seq", "op", "record_key", "record_version", "major", "minor", "area_code", "data",
                   "actor", "at")


class Written(NamedTuple):
    """What a write did to one record, as the feed reports it."""

    op: ChangeOp
    key: str
    version: int
    major: int
    minor: int
    area: str
    data: dict[str, Any]

    @classmethod
    def of(cls, op: ChangeOp, record: Record) -> Written:
        return cls(op, record.key, record.version, record.major, record.minor, record.area_id, record.data)


async def take_turn(dataset_id: str) -> None:
    """Inside a transaction: wait for the dataset's other writers to commit, and hold them off until this one does."""
    await Dataset.filter(id=dataset_id).update(feed_seq=F("feed_seq"))


def _numbered(dataset_id: str, first: int, written: Sequence[Written], actor: str) -> list[NewChange]:
    at = datetime.now(timezone.utc)
    return [
        NewChange(dataset_id, first + n, item.op, item.key, item.version, item.major, item.minor, item.area,
                  None if item.op is ChangeOp.DELETE else item.data, actor, at)
        for n, item in enumerate(written)
    ]


def _row(change: NewChange, encode: Any = msgspec.json.encode) -> tuple[Any, ...]:
    data = None if change.data is None else encode(change.data).decode()
    return (change.dataset_id, change.seq, change.op.value, change.record_key, change.record_version, change.major,
            change.minor, change.area_code, data, change.actor, change.at)


async def record_changes(dataset_id: str, written: Sequence[Written], actor: str) -> list[NewChange]:
    """Number the ``written`` changes after the dataset's last and store them, in the write's transaction.

    Whatever must commit together with a change belongs here: the rows of the feed
    now, and each subscription's delivery in the outbox. The rows go through the
    driver, as a bulk import writes thousands at a time.
    """
    if not written:
        return []
    await Dataset.filter(id=dataset_id).update(feed_seq=F("feed_seq") + len(written))
    last: int = await Dataset.get(id=dataset_id).values_list("feed_seq", flat=True)  # type: ignore[assignment]
    changes = _numbered(dataset_id, last - len(written) + 1, written, actor)
    await insert_rows("core_change", _CHANGE_COLUMNS, [_row(change) for change in changes])
    await enqueue_deliveries(dataset_id, changes)
    return changes


async def changes_after(
    dataset_id: str, major: int, after: int, limit: int, roots: tuple[str, ...] | None
) -> tuple[list[Change], bool]:
    """Up to ``limit`` changes numbered after ``after`` in ``roots``, and whether more follow."""
    query = Change.filter(dataset_id=dataset_id, major=major, seq__gt=after)
    if roots is not None:
        query = query.filter(in_subtrees(roots, "area_code"))
    found = await query.order_by("seq").limit(limit + 1)
    return found[:limit], len(found) > limit
