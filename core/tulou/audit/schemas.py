"""Wire shapes of the audit log."""

from __future__ import annotations

from typing import Any

import msgspec

from tulou.audit.chain import utc_iso
from tulou.audit.models import AuditEntry


class AuditEntryOut(msgspec.Struct):
    id: int
    at: str
    actor: str
    action: str
    area_code: str | None
    target_type: str | None
    target_id: str | None
    purpose: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(msgspec.Struct):
    items: list[AuditEntryOut]
    total: int
    limit: int
    offset: int


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id, at=utc_iso(entry.at), actor=entry.actor, action=entry.action, area_code=entry.area_code,
        target_type=entry.target_type, target_id=entry.target_id, purpose=entry.purpose,
        detail=entry.detail or {}, prev_hash=entry.prev_hash, hash=entry.hash,
    )
