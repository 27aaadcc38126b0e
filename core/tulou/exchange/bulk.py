"""Importing many records at once: checked as they stream in, written in chunks in one transaction.

Each row is checked as a single create would be (its id, an area the caller may
write in the dataset's area, its data against the schema) and a bad row is reported
with its line and the JSON path of each error. By default the import is all or
nothing: one bad row and nothing is written, though every row is still checked so
all the bad ones are reported at once. With ``skip_invalid`` the good rows are
written and the bad ones returned.

A row whose id already names a record *updates* it (its next version), which is what
re-importing a corrected list means; the area of a live record cannot change (a bad
row), a tombstone comes back in the row's area. Records are written through the
driver a chunk at a time (:mod:`tulou.exchange.chunk_writes`), and each chunk's changes go through
:func:`tulou.exchange.feed.record_changes`, in the transaction that took the
dataset's turn: a reader of the feed sees the whole import or none of it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jsonschema_rs
import msgspec
from tortoise.transactions import in_transaction

from tulou.errors import Invalid, Problem
from tulou.exchange.access import DatasetAccess
from tulou.exchange.chunk_writes import Target, write_chunk
from tulou.exchange.feed import record_changes, take_turn
from tulou.exchange.models import ChangeOp, Dataset, DatasetVersion
from tulou.exchange.records import record_area, writable_dataset
from tulou.exchange.schemas import BadRow, ImportReport, LineError, RowError
from tulou.exchange.sources import SourceRow
from tulou.exchange.validation import record_errors
from tulou.exchange.versions import latest_version, validator_of
from tulou.i18n import gettext as _
from tulou.security.principal import Principal

CHUNK = 2000
MAX_REPORTED = 1000
KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
#: Told the number of rows read so far, as the import goes on.
Progress = Callable[[int], None]


@dataclass
class ImportResult:
    """What an import did: records created (tombstones brought back included) and updated, and the bad
    rows (the first :data:`MAX_REPORTED`)."""

    created: int = 0
    updated: int = 0
    invalid: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)

    def reject(self, row: SourceRow) -> None:
        self.invalid += 1
        if len(self.bad_rows) < MAX_REPORTED:
            self.bad_rows.append(BadRow(row.line, row.errors))

    def report(self) -> ImportReport:
        return ImportReport(created=self.created, updated=self.updated, invalid=self.invalid, bad_rows=self.bad_rows)


@dataclass
class _Checked:
    """A good row, ready to be written."""

    key: str
    area: str
    data: dict[str, Any]
    source: SourceRow


class RowChecker:
    """Checks rows as a create would; remembers each area's verdict, as an import names few areas."""

    def __init__(self, principal: Principal, dataset: Dataset, access: DatasetAccess,
                 validator: jsonschema_rs.Draft202012Validator, default_area: str | None) -> None:
        self.principal, self.dataset, self.access, self.validator = principal, dataset, access, validator
        self.default_area = default_area
        self._areas: dict[str, str | None] = {}

    async def _area_error(self, code: str) -> str | None:
        if code not in self._areas:
            try:
                await record_area(self.principal, self.dataset, self.access, code)
                self._areas[code] = None
            except Problem as problem:
                self._areas[code] = problem.detail
        return self._areas[code]

    async def check(self, row: SourceRow) -> _Checked | None:
        """The row ready to write, or ``None`` with its errors added to ``row.errors``."""
        key = row.key if row.key is not None else uuid.uuid4().hex
        if not KEY.match(key):
            row.errors.append(RowError(field="id", message=_("An id is 1 to 100 letters, digits or . _ : -")))
        area = row.area or self.default_area
        if area is None:
            row.errors.append(RowError(field="area", message=_("A value is required")))
        elif (problem := await self._area_error(area)) is not None:
            row.errors.append(RowError(field="area", message=problem))
        if not row.errors:  # a cell that did not parse is reported once, not again by the schema
            row.errors.extend(RowError.in_data(e["path"], e["message"]) for e in record_errors(self.validator, row.data))
        return None if row.errors or area is None else _Checked(key, area, row.data, row)


class ChunkWriter:
    """Writes checked rows a chunk at a time on the transaction's connection, and numbers their changes.

    All or nothing, it stops writing at the first bad row (the transaction will roll
    back) but keeps being fed, so every bad row is still found.
    """

    def __init__(self, dataset: Dataset, version: DatasetVersion, actor: str, result: ImportResult,
                 skip_invalid: bool) -> None:
        self.dataset, self.version, self.actor, self.result = dataset, version, actor, result
        self.skip_invalid = skip_invalid
        self.pending: dict[str, _Checked] = {}

    @property
    def writing(self) -> bool:
        return self.skip_invalid or self.result.invalid == 0

    async def add(self, row: _Checked) -> None:
        if row.key in self.pending:  # the same id twice: the first is written before the second updates it
            await self.flush()
        self.pending[row.key] = row
        if len(self.pending) >= CHUNK:
            await self.flush()

    async def flush(self) -> None:
        """Write the pending rows; a row that would move a live record to another area is a bad row."""
        chunk, self.pending = list(self.pending.values()), {}
        if not chunk or not self.writing:
            return
        target = Target(self.dataset.id, self.version.major, self.version.minor, self.actor, datetime.now(timezone.utc))
        outcome = await write_chunk(target, chunk)
        for row in outcome.refused:
            row.source.errors.append(RowError(field="area", message=_(
                "A record's area cannot change: delete it and create it in the other area")))
            self.result.reject(row.source)
        if self.writing:
            await record_changes(self.dataset.id, outcome.written, self.actor)
            created = sum(written.op is ChangeOp.CREATE for written in outcome.written)  # a tombstone brought back too
            self.result.created += created
            self.result.updated += len(outcome.written) - created


class ImportRejected(Invalid):
    """An all-or-nothing import with bad rows: nothing was written. The body lists the bad rows."""

    def __init__(self, result: ImportResult) -> None:
        first = result.bad_rows[0]
        detail = _("%(count)d bad row(s); nothing was written") % {"count": result.invalid}
        errors = [msgspec.to_builtins(LineError(field=error.field, message=error.message, path=error.path, line=bad.line))
                  for bad in result.bad_rows for error in bad.errors]
        super().__init__(detail, field=first.errors[0].field, errors=errors)
        self.result = result

    @property
    def extensions(self) -> dict[str, Any]:
        return {"invalid": self.result.invalid}


async def _check_and_write(rows: AsyncIterator[SourceRow], checker: RowChecker, writer: ChunkWriter,
                           progress: Progress | None) -> None:
    seen = 0
    async for row in rows:
        seen += 1
        checked = None if row.errors else await checker.check(row)
        if checked is None:
            writer.result.reject(row)
        else:
            await writer.add(checked)
        if progress is not None and seen % CHUNK == 0:
            progress(seen)
    await writer.flush()
    if progress is not None:
        progress(seen)


async def import_records(principal: Principal, dataset_id: str, rows: AsyncIterator[SourceRow], *,
                         skip_invalid: bool = False, default_area: str | None = None, major: int | None = None,
                         progress: Progress | None = None) -> ImportResult:
    """Check and write ``rows`` in one transaction; :class:`ImportRejected` (nothing written) on a bad row
    unless ``skip_invalid``. ``default_area`` is the area of rows that name none."""
    dataset, access = await writable_dataset(principal, dataset_id)
    version = await latest_version(dataset.id, major)
    checker = RowChecker(principal, dataset, access, validator_of(version), default_area)
    result = ImportResult()
    async with in_transaction():
        await take_turn(dataset.id)
        await _check_and_write(rows, checker, ChunkWriter(dataset, version, principal.id, result, skip_invalid), progress)
        if result.invalid and not skip_invalid:
            raise ImportRejected(result)
    return result
