"""Appending to the audit log, verifying its chain, and reading it within a caller's scope."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.areas.codes import subtree_prefix
from tulou.areas.models import Area
from tulou.areas.service import in_subtrees, valid_code
from tulou.audit.chain import GENESIS_HASH, HASHED_FIELDS, entry_hash
from tulou.audit.models import AuditEntry, AuditHead
from tulou.errors import NotFound
from tulou.i18n import gettext as _
from tulou.security.principal import Principal

HEAD_ID = 1
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
VERIFY_BATCH = 1000
INSERT_BATCH = 1000

# A write before the head is read: PostgreSQL takes the head row's lock until commit,
# SQLite takes its single write lock, so concurrent appends take turns on both.
TAKE_HEAD = (
    f"INSERT INTO core_audit_head (id, appends, last_id, last_hash) VALUES ({HEAD_ID}, 1, 0, '{GENESIS_HASH}') "
    "ON CONFLICT (id) DO UPDATE SET appends = core_audit_head.appends + 1"
)


@dataclass(frozen=True)
class AuditEvent:
    """One action to record, before it has its place in the chain."""

    action: str
    area_code: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    purpose: str | None = None
    detail: dict[str, Any] | None = None


async def record_audit(
    actor: str,
    action: str,
    *,
    area_code: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry; inside a caller's transaction it commits or rolls back with it.

    Raises on any failure, so the audited action cannot complete unaudited.
    """
    event = AuditEvent(action, area_code, target_type, target_id, purpose, detail)
    return (await record_audits(actor, [event]))[0]


async def record_audits(actor: str, events: Sequence[AuditEvent]) -> list[AuditEntry]:
    """Append one entry per event, chained in order, in one turn at the head.

    A bulk import records thousands of actions: one head lock and a batched insert
    instead of a round of queries for each.
    """
    for event in events:
        if not ACTION_PATTERN.match(event.action):
            raise ValueError(f"audit action must be dotted lower-case words, got {event.action!r}")
    if not events:
        return []
    async with in_transaction() as connection:
        await connection.execute_query(TAKE_HEAD)
        latest = await AuditEntry.all().order_by("-id").only("id", "hash").first()
        next_id, prev_hash = (latest.id + 1, latest.hash) if latest else (1, GENESIS_HASH)
        entries: list[AuditEntry] = []
        for number, event in enumerate(events, start=next_id):
            fields = _entry_fields(number, actor, event)
            entries.append(AuditEntry(**fields, prev_hash=prev_hash, hash=entry_hash(prev_hash, fields)))
            prev_hash = entries[-1].hash
        await AuditEntry.bulk_create(entries, batch_size=INSERT_BATCH)
        await AuditHead.filter(id=HEAD_ID).update(last_id=entries[-1].id, last_hash=prev_hash)
    return entries


def _entry_fields(number: int, actor: str, event: AuditEvent) -> dict[str, Any]:
    return {
        "id": number,
        "at": datetime.now(timezone.utc),
        "actor": actor,
        "action": event.action,
        "area_code": event.area_code,
        "target_type": event.target_type,
        "target_id": None if event.target_id is None else str(event.target_id),
        "purpose": event.purpose,
        "detail": event.detail or {},
    }


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify_chain`: intact, or the first broken link and why.

    ``reason`` is one of ``hash mismatch`` (an entry was edited), ``prev_hash mismatch``
    (an entry before it was removed or the order changed), ``gap in sequence`` (ids
    missing) or ``truncated`` (the newest entries are gone).
    """

    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str | None = None


async def _entries_in_order() -> AsyncIterator[AuditEntry]:
    """Every entry by id, fetched a batch at a time so the log never sits in memory whole."""
    last_id = 0
    while True:
        batch = await AuditEntry.filter(id__gt=last_id).order_by("id").limit(VERIFY_BATCH)
        for entry in batch:
            yield entry
        if len(batch) < VERIFY_BATCH:
            return
        last_id = batch[-1].id


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


async def verify_chain() -> ChainReport:
    """Recompute every link; report the first entry that was edited, removed or moved."""
    checked, expected_id, prev_hash = 0, 1, GENESIS_HASH
    async for entry in _entries_in_order():
        if entry.id != expected_id:
            return ChainReport(False, checked, entry.id, "gap in sequence")
        if entry.prev_hash != prev_hash:
            return ChainReport(False, checked, entry.id, "prev_hash mismatch")
        if entry_hash(entry.prev_hash, _hashed_fields(entry)) != entry.hash:
            return ChainReport(False, checked, entry.id, "hash mismatch")
        checked, expected_id, prev_hash = checked + 1, entry.id + 1, entry.hash
    head = await AuditHead.get_or_none(id=HEAD_ID)
    if head is not None and (head.last_id, head.last_hash) != (expected_id - 1, prev_hash):
        return ChainReport(False, checked, expected_id, "truncated")
    return ChainReport(True, checked)


async def holds_every_root(principal: Principal) -> bool:
    """Whether the principal's subtrees cover every root area: the county's own administrators."""
    roots = await Area.filter(parent_id=None).values_list("code", flat=True)
    return bool(roots) and all(principal.covers(root) for root in roots)


async def scoped_entries(principal: Principal) -> QuerySet[AuditEntry]:
    """Entries the principal may read: those in its subtrees, or all for a county-wide principal.

    Entries without an area (logins, client creation) are county-wide business.
    """
    if principal.area_roots is None:
        return AuditEntry.all()
    placed = in_subtrees(principal.area_roots, "area_code")
    if await holds_every_root(principal):
        return AuditEntry.filter(placed | Q(area_code=None))
    return AuditEntry.filter(placed)


async def list_entries(
    principal: Principal, area: str | None = None, action: str | None = None, limit: int = 100, offset: int = 0,
    *, actor: str | None = None, since: datetime | None = None, until: datetime | None = None,
) -> tuple[list[AuditEntry], int]:
    """One page of the entries the principal may read, newest first, and how many there are.

    ``since`` is inclusive and ``until`` exclusive, so consecutive ranges never count an entry twice.
    """
    query = await scoped_entries(principal)
    if area is not None:
        if not principal.covers(valid_code(area, "area")):
            raise NotFound(_("Area not found"), field="area")
        query = query.filter(area_code__startswith=subtree_prefix(area))
    if action is not None:
        query = query.filter(action=action)
    if actor is not None:
        query = query.filter(actor=actor)
    if since is not None:
        query = query.filter(at__gte=since)
    if until is not None:
        query = query.filter(at__lt=until)
    total = await query.count()
    return await query.order_by("-id").offset(offset).limit(limit), total
