"""Exporting the records a caller may read as NDJSON, CSV or Excel, a page of rows at a time.

An export is a read like a list: the same records (agreed areas only, filters and
``area`` applied), the same cut of fields, and one audit entry for a read under
agreements, written before the first byte leaves (its ``count`` is the number of
records the export holds). NDJSON lines have the API's record shape; CSV and Excel
have a header row (``id``, ``area``, ``version``, then the schema's top-level fields
the caller may see), which ``tulou exchange import`` and ``records:import`` read back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from tulou.audit.service import record_audit
from tulou.exchange.access import View
from tulou.exchange.records import Readable, readable_records
from tulou.exchange.schemas import RecordOut
from tulou.exchange.versions import property_names
from tulou.security.principal import Principal

PAGE = 1000
FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
COLUMNS = ("id", "area", "version")
FIELDS = ("id", "key", "area_id", "version", "major", "minor", "data", "deleted", "created_at", "updated_at")


@dataclass(frozen=True)
class ExportRow:
    """A record as the caller may see it."""

    key: str
    area: str
    version: int
    dataset_version: str
    data: dict[str, Any]
    deleted: bool
    created_at: Any
    updated_at: Any


class Export:
    """One export's records, read in pages of :data:`PAGE` in id order and cut to the caller's view."""

    def __init__(self, readable: Readable) -> None:
        self.readable = readable

    @property
    def fields(self) -> list[str]:
        """The schema's top-level fields the caller may see somewhere, in the order they were declared."""
        names = property_names(self.readable.version)
        access = self.readable.access
        if access.full_roots is None or access.full_roots:
            return names
        granted = frozenset().union(*(share.fields for share in access.shares))
        return [name for name in names if name in granted]

    async def rows(self) -> AsyncIterator[ExportRow]:
        after = 0
        while True:
            page = await self.readable.rows.filter(id__gt=after).order_by("id").limit(PAGE).values_list(*FIELDS)
            for record_id, key, area, version, major, minor, data, deleted, created, updated in page:
                view: View | None = self.readable.access.view(area)
                if view is not None:
                    yield ExportRow(key, area, version, f"{major}.{minor}", view.cut(data), deleted, created, updated)
                after = record_id
            if len(page) < PAGE:
                return


async def open_export(principal: Principal, dataset_id: str, major: int | None, area: str | None,
                      params: Iterable[tuple[str, str]], path: str, fmt: str) -> Export:
    """The export the caller may have, its shared read audited before any of it is sent."""
    readable = await readable_records(principal, dataset_id, major, area, params)
    access = readable.access
    if access.shares and access.full_roots is not None:
        shares = {share.agreement_id: share.purpose for share in access.shares}
        count = await readable.rows.count()
        await record_audit(
            principal.id, "exchange.read", area_code=readable.dataset.area_id, target_type="dataset",
            target_id=readable.dataset.id, purpose="\n".join(shares[key] for key in sorted(shares)),
            detail={"dataset": readable.dataset.id, "agreements": sorted(shares), "count": count, "path": path,
                    "format": fmt},
        )
    return Export(readable)


async def ndjson_bytes(export: Export) -> AsyncIterator[bytes]:
    encoder, lines = msgspec.json.Encoder(), bytearray()
    async for row in export.rows():
        lines += encoder.encode(RecordOut(
            id=row.key, area=row.area, version=row.version, dataset_version=row.dataset_version, data=row.data,
            deleted=row.deleted, created_at=row.created_at, updated_at=row.updated_at,
        ))
        lines += b"\n"
        if len(lines) >= 1 << 16:
            yield bytes(lines)
            lines.clear()
    if lines:
        yield bytes(lines)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cells(row: ExportRow, fields: list[str]) -> list[Any]:
    return [row.key, row.area, row.version, *(row.data.get(name) for name in fields)]


async def csv_bytes(export: Export) -> AsyncIterator[bytes]:
    fields, buffer = export.fields, io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV with a byte-order mark correctly
    writer.writerow([*COLUMNS, *fields])
    async for row in export.rows():
        writer.writerow([_cell_text(value) for value in _cells(row, fields)])
        if buffer.tell() >= 1 << 16:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _xlsx_cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


async def xlsx_bytes(export: Export) -> AsyncIterator[bytes]:
    """An Excel workbook written row by row (openpyxl's write-only mode) to a temporary file, then sent."""
    from openpyxl import Workbook

    fields = export.fields
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(export.readable.dataset.id[:31])
    sheet.append([*COLUMNS, *fields])
    async for row in export.rows():
        sheet.append([_xlsx_cell(value) for value in _cells(row, fields)])
    handle, name = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook.save(name)
        with open(name, "rb") as stream:
            while chunk := stream.read(1 << 16):
                yield chunk
    finally:
        os.unlink(name)


WRITERS = {"ndjson": ndjson_bytes, "csv": csv_bytes, "xlsx": xlsx_bytes}
