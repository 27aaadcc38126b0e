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

from tortoise.expressions import F

from tulou.areas.service import in_subtrees
from tulou.exchange.models import Change, ChangeOp, Dataset, Record
from tulou.exchange.outbox import enqueue_deliveries


async def take_turn(dataset_id: str) -> None:
    """Inside a transaction: wait for the dataset's other writers to commit, and hold them off until this one does."""
    await Dataset.filter(id=dataset_id).update(feed_seq=F("feed_seq"))


def _snapshot(seq: int, op: ChangeOp, record: Record, actor: str, at: datetime) -> Change:
    return Change(
        dataset_id=record.dataset_id, seq=seq, op=op, record_key=record.key, record_version=record.version,
        major=record.major, minor=record.minor, area_code=record.area_id,
        data=None if op is ChangeOp.DELETE else record.data, actor=actor, at=at,
    )


async def record_changes(dataset_id: str, changes: Sequence[tuple[ChangeOp, Record]], actor: str) -> list[Change]:
    """Number ``changes`` after the dataset's last and store them, in the write's transaction.

    Whatever must commit together with a change belongs here: the rows of the feed
    now, and each subscription's delivery in the outbox.
    """
    if not changes:
        return []
    await Dataset.filter(id=dataset_id).update(feed_seq=F("feed_seq") + len(changes))
    last: int = await Dataset.get(id=dataset_id).values_list("feed_seq", flat=True)  # type: ignore[assignment]
    first, at = last - len(changes) + 1, datetime.now(timezone.utc)
    rows = [_snapshot(first + n, op, record, actor, at) for n, (op, record) in enumerate(changes)]
    await Change.bulk_create(rows)
    await enqueue_deliveries(dataset_id, rows)
    return rows


async def changes_after(
    dataset_id: str, major: int, after: int, limit: int, roots: tuple[str, ...] | None
) -> tuple[list[Change], bool]:
    """Up to ``limit`` changes numbered after ``after`` in ``roots``, and whether more follow."""
    query = Change.filter(dataset_id=dataset_id, major=major, seq__gt=after)
    if roots is not None:
        query = query.filter(in_subtrees(roots, "area_code"))
    found = await query.order_by("seq").limit(limit + 1)
    return found[:limit], len(found) > limit
