"""Reading records from NDJSON, CSV and Excel files a row at a time, each row with its line number.

NDJSON lines are ``{"id": ..., "area": ..., "data": {...}}``, the shape the API
takes. CSV and Excel sheets have a header row naming ``id``, ``area`` and the
dataset's top-level fields (an export's ``version`` column is ignored); each cell
is read as its field's schema type says (an integer, a number, ``true``/``false``,
JSON for objects and arrays, text otherwise) and an empty cell leaves the field
out. Input arrives in byte chunks and leaves row
by row, so a file of any size is never held in memory. Text is UTF-8, with or
without a byte-order mark: a line that is not (a sheet saved as GBK) is a bad row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from tulou.exchange.schemas import RowError
from tulou.exchange.validation import json_path
from tulou.i18n import gettext as _

ENVELOPE = ("id", "area")
#: Columns an export writes that an import does not read back: the server keeps them.
SERVER_COLUMNS = frozenset({"version", "dataset_version", "deleted", "created_at", "updated_at"})
FILE_CHUNK = 1 << 16


@dataclass
class SourceRow:
    """One record as read, or what kept it from being read."""

    line: int
    key: str | None = None
    area: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


def not_utf8() -> RowError:
    return RowError(field=None, message=_("This line is not UTF-8 text: in Excel, save the file as “CSV UTF-8 (逗号分隔)”"))


class HashingStream:
    """A request body's chunks, hashed as they pass: the import's body digest for ``Idempotency-Key``."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._hash = hashlib.sha256()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._hash.update(chunk)
            yield chunk

    async def digest(self) -> str:
        """The SHA-256 of the whole body, reading whatever is left of it."""
        async for _chunk in self:
            pass
        return self._hash.hexdigest()


def _decoded(raw: bytes, first: bool) -> tuple[str, bool]:
    if first and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), False


async def text_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, bool]]:
    """Each line (its end kept, a leading BOM dropped) of byte chunks split anywhere, and whether it is UTF-8.

    Lines end at ``\\n`` bytes only, found before decoding: no UTF-8 character holds that
    byte, while the other breaks ``str.splitlines`` knows (U+2028, form feed) may stand
    inside a JSON string or a CSV cell. A file saved in GBK is thus found out line by
    line instead of being read as replacement characters.
    """
    buffer, first = b"", True
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            yield _decoded(raw + b"\n", first)
            first = False
    if buffer:
        yield _decoded(buffer, first)


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(FILE_CHUNK):
            yield chunk


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    area: str | None = None
    data: dict[str, Any] = {}
    id: str | None = None


_line_decoder = msgspec.json.Decoder(_Line)


async def ndjson_rows(chunks: AsyncIterator[bytes]) -> AsyncIterator[SourceRow]:
    """One row per non-blank line of ``{"id", "area", "data"}``."""
    number = 0
    async for line, utf8 in text_lines(chunks):
        number += 1
        if not line.strip():
            continue
        if not utf8:
            yield SourceRow(number, errors=[not_utf8()])
            continue
        try:
            parsed = _line_decoder.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            yield SourceRow(number, errors=[RowError(field=None, message=str(error))])
            continue
        yield SourceRow(number, parsed.id, parsed.area, parsed.data)


def _types(rule: Any) -> list[str]:
    declared = rule.get("type") if isinstance(rule, dict) else None
    return [declared] if isinstance(declared, str) else [kind for kind in declared or [] if isinstance(kind, str)]


def _number(text: str) -> int | float:
    """An integer or a finite number: JSON has no NaN or infinity."""
    try:
        return int(text)
    except ValueError:
        number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def typed_cell(rule: Any, value: Any) -> Any:
    """A cell as its schema type reads it; ``ValueError`` when it cannot be. Cells Excel already typed pass through."""
    kinds = _types(rule)
    if not isinstance(value, str):
        if "string" in kinds and not isinstance(value, bool):
            return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        return int(value) if "integer" in kinds and isinstance(value, float) and value.is_integer() else value
    text = value.strip()
    for kind in kinds:
        if kind == "integer" and text.lstrip("-").isdigit():
            return int(text)
        if kind == "number":
            try:
                return _number(text)
            except ValueError:
                continue
        if kind == "boolean" and text.lower() in ("true", "false", "1", "0"):
            return text.lower() in ("true", "1")
        if kind in ("object", "array"):
            return json.loads(text)
        if kind == "string":
            return value
    if kinds:
        raise ValueError(_("%(value)s is not of type %(type)s") % {"value": text, "type": " or ".join(kinds)})
    return value


class Columns:
    """A sheet's header row, and how its cells become a record."""

    def __init__(self, header: list[str], schema: dict[str, Any]) -> None:
        self.names = [name.strip() for name in header]
        self.properties: dict[str, Any] = schema.get("properties", {})

    def row(self, line: int, cells: list[Any]) -> SourceRow:
        row = SourceRow(line)
        for name, value in zip(self.names, cells):
            if value is None or value == "" or not name or name in SERVER_COLUMNS:
                continue
            if name in ENVELOPE:
                setattr(row, "key" if name == "id" else "area", typed_cell({"type": "string"}, value))
                continue
            try:
                row.data[name] = typed_cell(self.properties.get(name), value)
            except ValueError as error:
                row.errors.append(RowError.in_data(json_path([name]), str(error)))
        return row


def _complete(record: str) -> bool:
    """Whether a CSV record's text ends outside quotes (a quoted cell may span lines)."""
    return record.count('"') % 2 == 0


async def _csv_records(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, str | None, bool]]:
    """Each CSV record's first line, text and whether it is UTF-8; ``None`` text for a quote never closed."""
    number, start, pending, utf8 = 0, 0, "", True
    async for line, line_utf8 in text_lines(chunks):
        number += 1
        if not pending:
            start, utf8 = number, True
        pending, utf8 = pending + line, utf8 and line_utf8
        if _complete(pending):
            yield start, pending, utf8
            pending = ""
    if pending:
        yield start, None, utf8


def _cells(text: str | None, utf8: bool) -> list[str] | RowError:
    if text is None:
        return RowError(field=None, message=_("A quoted cell is never closed"))
    if not utf8:
        return not_utf8()
    try:
        return next(csv.reader([text]), [])
    except csv.Error as error:  # a carriage return outside quotes, a cell past the size limit
        return RowError(field=None, message=_("This row cannot be read as CSV: %(reason)s") % {"reason": error})


async def csv_rows(chunks: AsyncIterator[bytes], schema: dict[str, Any]) -> AsyncIterator[SourceRow]:
    """One row per CSV record after the header; the line is where the record starts.

    A header that cannot be read is the only bad row: no row after it could be read either.
    """
    columns: Columns | None = None
    async for start, text, utf8 in _csv_records(chunks):
        cells = _cells(text, utf8)
        if isinstance(cells, RowError):
            yield SourceRow(start, errors=[cells])
            if columns is None:
                return
        elif not any(cell.strip() for cell in cells):
            continue
        elif columns is None:
            columns = Columns(cells, schema)
        else:
            yield columns.row(start, cells)


def xlsx_rows(path: Path, schema: dict[str, Any]) -> Iterator[SourceRow]:
    """The first sheet's rows after its header row, read without loading the workbook."""
    from openpyxl import load_workbook  # only the command line reads Excel

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        columns: Columns | None = None
        for number, cells in enumerate(rows, start=1):
            if not any(cell not in (None, "") for cell in cells):
                continue
            if columns is None:
                columns = Columns([str(cell or "") for cell in cells], schema)
            else:
                yield columns.row(number, list(cells))
    finally:
        workbook.close()
