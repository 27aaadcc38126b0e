"""A dataset's records: validated writes that feed the change feed, and reads cut to what the caller may see.

Every write runs in one transaction: take the dataset's turn, read the record as it
is now, check ``If-Match``, write, record the change (:mod:`tulou.exchange.feed`).
Without ``If-Match`` the last writer wins. A record's area never changes; deleting
keeps a tombstone (no data, a new version) so the feed can report it, and creating
the same id again brings the record back with the next version.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.areas.codes import AreaLevel, is_within
from tulou.areas.models import Area
from tulou.areas.service import in_subtrees, valid_code
from tulou.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from tulou.exchange.access import DatasetAccess, View, access_to, audit_shared_read, intersect
from tulou.exchange.catalogue import readable_dataset, visible_dataset
from tulou.exchange.feed import Written, changes_after, record_changes, take_turn
from tulou.exchange.filters import apply_filters, record_filters
from tulou.exchange.models import Change, ChangeOp, Dataset, DatasetStatus, DatasetVersion, Record
from tulou.exchange.validation import validate_record
from tulou.exchange.versions import latest_version, validator_of
from tulou.i18n import gettext as _
from tulou.identity.scope import area_in_scope
from tulou.security.principal import Principal

WRITABLE_LEVELS = (AreaLevel.VILLAGE, AreaLevel.TOWNSHIP)


def etag(record: Record) -> str:
    return f'"{record.version}"'


def check_if_match(if_match: str | None, record: Record) -> None:
    """412 unless ``If-Match`` is absent, ``*`` or lists the record's current ETag (strong comparison)."""
    if if_match is None:
        return
    tags = {tag.strip() for tag in if_match.split(",")}
    if "*" not in tags and etag(record) not in tags:
        raise PreconditionFailed(
            _("The record has changed: its version is now %(version)s") % {"version": record.version},
            field="If-Match",
        )


def _record_not_found() -> NotFound:
    return NotFound(_("Record not found"), field="key")


async def writable_dataset(principal: Principal, dataset_id: str) -> tuple[Dataset, DatasetAccess]:
    dataset = await visible_dataset(principal, dataset_id)
    if dataset.status is not DatasetStatus.PUBLISHED:
        raise Conflict(_("Records can be written only to a published dataset"), field="dataset_id")
    return dataset, await access_to(principal, dataset)


async def record_area(principal: Principal, dataset: Dataset, access: DatasetAccess, code: str) -> str:
    """A village or township inside the dataset's area (422), the caller's areas (404) and its rights (403)."""
    valid_code(code, "area")
    if not principal.covers(code):
        raise NotFound(_("Area not found"), field="area")
    area = await Area.get_or_none(code=code)
    if area is None or area.level not in WRITABLE_LEVELS:
        raise Invalid(_("A record belongs to an existing village or township"), field="area")
    if dataset.area_id is None or not is_within(code, dataset.area_id):
        raise Invalid(_("%(code)s is outside the dataset's area") % {"code": code}, field="area")
    if not access.may_write(code):
        raise Forbidden(_("You may not write this dataset's records"), field="area")
    return code


async def _create_or_revive(dataset: Dataset, version: DatasetVersion, key: str, area: str,
                            data: dict[str, Any], actor: str) -> Record:
    existing = await Record.get_or_none(dataset_id=dataset.id, major=version.major, key=key)
    if existing is None:
        return await Record.create(
            dataset_id=dataset.id, key=key, major=version.major, minor=version.minor, area_id=area, data=data,
            created_by=actor, updated_by=actor,
        )
    if not existing.deleted:
        raise Conflict(_("A record with this id exists"), field="id")
    existing.update_from_dict({"area_id": area, "data": data, "minor": version.minor, "deleted": False,
                               "version": existing.version + 1, "updated_by": actor})
    await existing.save()
    return existing


async def create_record(principal: Principal, dataset_id: str, key: str | None, area: str,
                        data: dict[str, Any], major: int | None = None) -> Record:
    """A new record, validated against the latest minor version of ``major`` (default: the latest major)."""
    dataset, access = await writable_dataset(principal, dataset_id)
    code = await record_area(principal, dataset, access, area)
    version = await latest_version(dataset.id, major)
    validate_record(validator_of(version), data)
    async with in_transaction():
        await take_turn(dataset.id)
        record = await _create_or_revive(dataset, version, key or uuid.uuid4().hex, code, data, principal.id)
        await record_changes(dataset.id, [Written.of(ChangeOp.CREATE, record)], principal.id)
    return record


async def _record_to_write(principal: Principal, access: DatasetAccess, dataset: Dataset, major: int, key: str) -> Record:
    record = await Record.get_or_none(dataset_id=dataset.id, major=major, key=key, deleted=False)
    if record is None or not principal.covers(record.area_id):
        raise _record_not_found()
    if not access.may_write(record.area_id):
        raise Forbidden(_("You may not write this dataset's records"))
    return record


async def update_record(principal: Principal, dataset_id: str, key: str, new_data: Callable[[dict[str, Any]], Any],
                        area: str | None, if_match: str | None, major: int | None = None) -> Record:
    """Replace the record's data with ``new_data(current data)``, validated, as its next version."""
    dataset, access = await writable_dataset(principal, dataset_id)
    version = await latest_version(dataset.id, major)
    async with in_transaction():
        await take_turn(dataset.id)
        record = await _record_to_write(principal, access, dataset, version.major, key)
        if area is not None and area != record.area_id:
            raise Invalid(_("A record's area cannot change: delete it and create it in the other area"), field="area")
        check_if_match(if_match, record)
        data = new_data(record.data)
        validate_record(validator_of(version), data)
        record.update_from_dict({"data": data, "minor": version.minor, "version": record.version + 1,
                                 "updated_by": principal.id})
        await record.save()
        await record_changes(dataset.id, [Written.of(ChangeOp.UPDATE, record)], principal.id)
    return record


async def delete_record(principal: Principal, dataset_id: str, key: str, if_match: str | None,
                        major: int | None = None) -> Record:
    """Leave a tombstone: no data, the next version, reported by the feed as a delete."""
    dataset, access = await writable_dataset(principal, dataset_id)
    version = await latest_version(dataset.id, major)
    async with in_transaction():
        await take_turn(dataset.id)
        record = await _record_to_write(principal, access, dataset, version.major, key)
        check_if_match(if_match, record)
        record.update_from_dict({"data": {}, "deleted": True, "version": record.version + 1, "updated_by": principal.id})
        await record.save()
        await record_changes(dataset.id, [Written.of(ChangeOp.DELETE, record)], principal.id)
    return record


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


async def get_record(principal: Principal, dataset_id: str, key: str, path: str,
                     major: int | None = None) -> tuple[Record, View]:
    """One live record as the caller may see it; 404 when it may not see it at all. Shared reads are audited."""
    dataset, access = await readable_dataset(principal, dataset_id)
    version = await latest_version(dataset.id, major)
    record = await Record.get_or_none(dataset_id=dataset.id, major=version.major, key=key, deleted=False)
    view = access.view(record.area_id) if record is not None else None
    if record is None or view is None:
        raise _record_not_found()
    await audit_shared_read(principal, dataset, [view], path)
    return record, view


@dataclass(frozen=True)
class RecordQuery:
    """A page request: ``cursor`` is the ``next`` of the page before."""

    limit: int
    cursor: str | None = None
    area: str | None = None
    major: int | None = None
    include_deleted: bool = False
    params: Iterable[tuple[str, str]] = field(default=())


def parse_cursor(text: str | None, field_name: str) -> int:
    if text is None:
        return 0
    if not text.isdigit() or len(text) > 19:
        raise Invalid(_("Not a cursor from this list"), field=field_name)
    return int(text)


@dataclass(frozen=True)
class Readable:
    """The records a read may return (a query not yet run), and the rights to cut each one with."""

    dataset: Dataset
    access: DatasetAccess
    version: DatasetVersion
    rows: QuerySet[Record]


async def readable_records(principal: Principal, dataset_id: str, major: int | None, area: str | None,
                           params: Iterable[tuple[str, str]], include_deleted: bool = False) -> Readable:
    """The records of ``major`` the caller may read, narrowed by ``area`` and ``filter[...]`` parameters."""
    dataset, access = await readable_dataset(principal, dataset_id)
    version = await latest_version(dataset.id, major)
    filters = record_filters(params, version.schema)
    roots = access.roots_showing(filters)
    if area is not None:
        roots = intersect(roots, ((await area_in_scope(principal, area, "area")).code,))
    rows = Record.filter(dataset_id=dataset.id, major=version.major)
    if roots is not None:
        rows = rows.filter(in_subtrees(roots, "area_id"))
    if not include_deleted:
        rows = rows.filter(deleted=False)
    return Readable(dataset, access, version, apply_filters(rows, filters))


async def list_records(principal: Principal, dataset_id: str, query: RecordQuery,
                       path: str) -> tuple[list[tuple[Record, View]], str | None]:
    """One page of the records the caller may read, in id order, each with what it may see of it."""
    readable = await readable_records(principal, dataset_id, query.major, query.area, query.params,
                                      query.include_deleted)
    found = await readable.rows.filter(id__gt=parse_cursor(query.cursor, "cursor")).order_by("id").limit(query.limit + 1)
    page = [(record, view) for record in found[: query.limit] if (view := readable.access.view(record.area_id)) is not None]
    await audit_shared_read(principal, readable.dataset, [view for _record, view in page], path)
    return page, str(found[query.limit - 1].id) if len(found) > query.limit else None


async def read_changes(principal: Principal, dataset_id: str, after: str | None, limit: int, path: str,
                       major: int | None = None) -> tuple[list[tuple[Change, View]], str, bool]:
    """The changes after cursor ``after`` the caller may see, cut like records; the next cursor; whether more wait."""
    dataset, access = await readable_dataset(principal, dataset_id)
    version = await latest_version(dataset.id, major)
    start = parse_cursor(after, "after")
    found, more = await changes_after(dataset.id, version.major, start, limit, access.roots_showing())
    page = [(change, view) for change in found if (view := access.view(change.area_code)) is not None]
    await audit_shared_read(principal, dataset, [view for _change, view in page], path)
    return page, str(found[-1].seq if found else start), more
