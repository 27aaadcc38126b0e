"""Who sees which datasets, and which records and fields of them: the one place that decides.

- *Full access* (every field, and writing): the caller holds ``record:read`` or
  ``record:write`` for the record's area and is a member of the dataset's owner or
  manager organisation, or holds ``*`` there. A public dataset gives every holder of
  ``record:read`` every field within its own areas, for reading.
- *Shared access* (reading only): an organisation the caller acts for holds an
  approved, unexpired agreement. The caller then sees the granted fields of records
  in the granted areas that also lie within its own ``record:read`` areas. With
  several agreements a field is visible for a record exactly when some agreement
  granting that field covers the record's area.

Agreements are read from the database on every request: an expiry or a revocation
holds from the next request on, in every process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tulou.areas.codes import common_subtrees, is_within, overlaps
from tulou.audit.service import record_audit
from tulou.exchange.models import Agreement, AgreementStatus, Classification, Dataset, DatasetStatus
from tulou.security.principal import ALL_PERMISSIONS, Principal

READ, WRITE, MANAGE = "record:read", "record:write", "dataset:manage"
OPEN_CLASSES = frozenset({Classification.PUBLIC, Classification.INTERNAL})

#: Area subtrees by their roots; ``None`` means everywhere.
Roots = tuple[str, ...] | None


def _union(first: Roots, second: Roots) -> Roots:
    if first is None or second is None:
        return None
    return tuple(dict.fromkeys((*first, *second)))


def intersect(first: Roots, second: Roots) -> Roots:
    if first is None:
        return second
    if second is None:
        return first
    return common_subtrees(first, second)


def covered(area: str, roots: Roots) -> bool:
    return roots is None or any(is_within(area, root) for root in roots)


def overlapping(area: str | None, roots: Roots) -> bool:
    return roots is None or (area is not None and any(overlaps(area, root) for root in roots))


@dataclass(frozen=True)
class Share:
    """What one agreement lets the caller read in one subtree."""

    root: str
    fields: frozenset[str]
    agreement_id: int
    purpose: str


@dataclass(frozen=True)
class View:
    """What the caller sees of one record: every field, or those its area's agreements grant."""

    every_field: bool
    fields: frozenset[str] = frozenset()
    shares: tuple[Share, ...] = ()

    def cut(self, data: dict[str, Any]) -> dict[str, Any]:
        return data if self.every_field else {key: value for key, value in data.items() if key in self.fields}


FULL_VIEW = View(every_field=True)


@dataclass(frozen=True)
class DatasetAccess:
    """The caller's rights on one dataset's records, worked out once per request."""

    full_roots: Roots
    write_roots: Roots
    shares: tuple[Share, ...] = field(default=())

    @property
    def reads_anything(self) -> bool:
        return self.full_roots is None or bool(self.full_roots) or bool(self.shares)

    def may_write(self, area: str) -> bool:
        return covered(area, self.write_roots)

    def view(self, area: str) -> View | None:
        """The fields of a record in ``area`` the caller may read; ``None`` when it may not read it."""
        if covered(area, self.full_roots):
            return FULL_VIEW
        shares = tuple(share for share in self.shares if is_within(area, share.root))
        if not shares:
            return None
        return View(every_field=False, fields=frozenset().union(*(s.fields for s in shares)), shares=shares)

    def _fields_at(self, root: str) -> frozenset[str]:
        return frozenset().union(*(s.fields for s in self.shares if is_within(root, s.root)))

    def roots_showing(self, fields: Iterable[str] = ()) -> Roots:
        """The subtrees whose records the caller may read with every one of ``fields`` visible.

        The shares covering an area are nested, so the deepest one's root sees the
        union of them all: checking each share's root is exact.
        """
        needed = frozenset(fields)
        shared = tuple(s.root for s in self.shares if needed <= self._fields_at(s.root))
        return _union(self.full_roots, shared)


def is_keeper(principal: Principal, dataset: Dataset) -> bool:
    """Whether the caller acts for the dataset's owner or manager."""
    return bool(principal.organisations & {dataset.owner_id, dataset.manager_id} - {None})


def now() -> datetime:
    return datetime.now(timezone.utc)


async def active_agreements(principal: Principal, dataset: Dataset) -> list[Agreement]:
    """The approved, unexpired agreements of the organisations the caller acts for."""
    if not principal.organisations:
        return []
    return await Agreement.filter(
        dataset_id=dataset.id, grantee_id__in=principal.organisations, status=AgreementStatus.APPROVED,
        expires_at__gt=now(),
    ).order_by("id")


def _shares(principal: Principal, agreements: Iterable[Agreement]) -> tuple[Share, ...]:
    own = principal.roots_holding(READ)
    return tuple(
        Share(root, frozenset(agreement.fields_granted), agreement.id, agreement.purpose)
        for agreement in agreements
        for root in (intersect(tuple(agreement.areas_granted), own) or ())
    )


async def access_to(principal: Principal, dataset: Dataset) -> DatasetAccess:
    """The caller's full, writing and shared rights on the dataset's records."""
    keeper = is_keeper(principal, dataset)
    everything = principal.roots_holding(ALL_PERMISSIONS)
    full = principal.roots_holding(READ) if keeper or dataset.classification is Classification.PUBLIC else everything
    write = principal.roots_holding(WRITE) if keeper else everything
    if dataset.status is not DatasetStatus.PUBLISHED:
        write = ()
    return DatasetAccess(full, write, _shares(principal, await active_agreements(principal, dataset)))


async def requested_datasets(principal: Principal) -> set[str]:
    """The datasets on which an organisation the caller acts for holds an agreement in any state."""
    if not principal.organisations:
        return set()
    found = await Agreement.filter(grantee_id__in=list(principal.organisations)).order_by("dataset_id").distinct() \
        .values_list("dataset_id", flat=True)
    return set(found)


def may_see(principal: Principal, dataset: Dataset, requested: set[str]) -> bool:
    """Catalogue visibility; ``requested`` comes from :func:`requested_datasets`.

    Drafts are the county's business. Public and internal datasets show wherever
    their area meets the caller's; sensitive and personal ones only to their keepers,
    to organisations that asked for them, and to holders of ``*`` in their area.
    """
    if dataset.status is DatasetStatus.DRAFT:
        return principal.has_permission(MANAGE)
    if is_keeper(principal, dataset) or dataset.id in requested:
        return True
    if overlapping(dataset.area_id, principal.roots_holding(ALL_PERMISSIONS)):
        return True
    return dataset.classification in OPEN_CLASSES and overlapping(dataset.area_id, principal.area_roots)


async def audit_shared_read(principal: Principal, dataset: Dataset, views: Iterable[View | None], path: str) -> None:
    """One audit entry for a response that showed records under agreements, with their purposes.

    Written before the response leaves: if the entry cannot be written, nothing is read.
    """
    shared = [view for view in views if view is not None and not view.every_field]
    if not shared:
        return
    purposes = {s.agreement_id: s.purpose for view in shared for s in view.shares}
    await record_audit(
        principal.id, "exchange.read", area_code=dataset.area_id, target_type="dataset", target_id=dataset.id,
        purpose="\n".join(purposes[key] for key in sorted(purposes)),
        detail={"dataset": dataset.id, "agreements": sorted(purposes), "count": len(shared), "path": path},
    )
