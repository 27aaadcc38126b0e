"""What the audit log page shows: the caller's entries, filtered and paged, and the chain check as the caller may see it.

Entries come from :func:`tulou.audit.service.list_entries`, the query behind
``GET /api/v1/audit``, so a township's staff read their township's entries only. The
chain spans every township: only a county-wide reader learns how many entries it
holds and which one breaks it; others learn whether it is intact, and where it breaks
only if that entry is theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tulou.areas.models import Area
from tulou.audit.models import AuditEntry
from tulou.audit.service import holds_every_root, list_entries, scoped_entries, verify_chain
from tulou.console.actors import actor_names
from tulou.console.audit_labels import ACTION_LABELS, action_label
from tulou.console.paging import Paging
from tulou.i18n import gettext as _
from tulou.identity.accounts_models import Account
from tulou.security.principal import Principal


@dataclass(frozen=True)
class AuditFilter:
    """The filters as typed into the page: kept as text so the form shows them back."""

    actor: str = ""
    action: str = ""
    area: str = ""
    since: str = ""
    until: str = ""

    def query(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, value) for name, value in vars(self).items() if value)


@dataclass(frozen=True)
class Criteria:
    actor: str | None
    action: str | None
    area: str | None
    since: datetime | None
    until: datetime | None


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor: str
    label: str
    area: Area | None


@dataclass(frozen=True)
class ChainOutcome:
    """The chain check as shown to the caller; ``checked`` and ``broken_id`` are None where they would leak."""

    ok: bool
    reason: str | None
    checked: int | None
    broken_id: int | None


def reason_label(reason: str | None) -> str | None:
    return None if reason is None else {
        "hash mismatch": _("an entry was changed after it was written"),
        "prev_hash mismatch": _("an entry before it was removed, or entries were reordered"),
        "gap in sequence": _("entries are missing"),
        "truncated": _("the newest entries were removed"),
    }.get(reason, reason)


def action_choices(chosen: str) -> list[tuple[str, str]]:
    """Every action with a label, and the chosen one even without (a plugin's)."""
    codes = sorted({*ACTION_LABELS, *([chosen] if chosen else [])}, key=action_label)
    return [(code, f"{action_label(code)} ({code})") for code in codes]


def _day(text: str, field: str, zone: ZoneInfo, errors: dict[str, str]) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
    except ValueError:
        errors[field] = _("Enter a date like 2026-03-01")
        return None


async def _actor(text: str) -> str | None:
    """A username is its account's actor id; anything else (``client:3``, ``anonymous``) is taken as it is."""
    text = text.strip()
    if not text or ":" in text:
        return text or None
    found = await Account.get_or_none(username=text).values_list("id", flat=True)
    return f"account:{found}" if found is not None else text


async def criteria(typed: AuditFilter, zone: ZoneInfo) -> tuple[Criteria, dict[str, str]]:
    """The filters as the query takes them, and what is wrong with any of them, by field."""
    errors: dict[str, str] = {}
    since = _day(typed.since, "since", zone, errors)
    until = _day(typed.until, "until", zone, errors)
    if since and until and until < since:
        errors["until"] = _("The end comes before the start")
    return Criteria(
        actor=await _actor(typed.actor), action=typed.action or None, area=typed.area or None,
        since=since, until=until + timedelta(days=1) if until else None,  # the whole last day
    ), errors


async def audit_page(principal: Principal, wanted: Criteria, paging: Paging) -> tuple[list[AuditRow], int]:
    """One page of the caller's entries, newest first, with names and labels for people to read."""
    entries, total = await list_entries(
        principal, area=wanted.area, action=wanted.action, limit=paging.size, offset=paging.offset,
        actor=wanted.actor, since=wanted.since, until=wanted.until,
    )
    names = await actor_names({entry.actor for entry in entries})
    codes = {entry.area_code for entry in entries if entry.area_code}
    areas = {area.code: area for area in await Area.filter(code__in=list(codes))} if codes else {}
    rows = [AuditRow(entry, names[entry.actor], action_label(entry.action), areas.get(entry.area_code or ""))
            for entry in entries]
    return rows, total


async def checked_chain(principal: Principal) -> ChainOutcome:
    """Verify the whole chain; say as much of the outcome as the caller's scope allows."""
    report = await verify_chain()
    if await holds_every_root(principal) or principal.area_roots is None:
        return ChainOutcome(report.ok, reason_label(report.reason), report.checked, report.broken_id)
    theirs = report.broken_id is not None and await (await scoped_entries(principal)).filter(
        id=report.broken_id).exists()
    return ChainOutcome(report.ok, reason_label(report.reason), None, report.broken_id if theirs else None)
