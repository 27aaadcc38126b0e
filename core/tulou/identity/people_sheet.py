"""A list of residents as county staff keep it: an Excel workbook (.xlsx) or a CSV file.

Rows stream from the file (openpyxl's read-only mode), so a large workbook never sits
in memory as a tree of cells. Headers may be Chinese or English: :data:`COLUMNS` is the
one place that says which header means which field.
"""

from __future__ import annotations

import csv
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from tulou.errors import Invalid
from tulou.i18n import gettext as _

#: Header (folded by :func:`header_key`) -> field of the import.
COLUMNS: dict[str, str] = {
    "姓名": "name", "name": "name",
    "公民身份号码": "resident_id", "身份证号": "resident_id", "身份证号码": "resident_id",
    "resident_id": "resident_id",
    "手机": "phone", "手机号": "phone", "手机号码": "phone", "电话": "phone", "联系电话": "phone", "phone": "phone",
    "户号": "household_number", "household_number": "household_number",
    "所属村": "village", "村": "village", "village": "village",
    "标签": "tags", "tags": "tags",
    "地址": "address", "住址": "address", "address": "address",
}
REQUIRED = ("name", "resident_id", "village")
#: The columns a problem report puts in front (English, Chinese). Reading skips them,
#: so a report whose rows were corrected imports as it is.
REPORT_COLUMNS = (("line", "行号"), ("field", "字段"), ("error", "错误"))
IGNORED = {header for pair in REPORT_COLUMNS for header in pair}
CSV_SUFFIXES = {".csv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}

Cell = str | int | float | bool | date | datetime | None


@dataclass(frozen=True)
class SheetRow:
    """One data row: its line (the row number Excel shows) and each field's raw cell."""

    line: int
    cells: tuple[str, ...]
    values: dict[str, Cell]


def header_key(header: Cell) -> str:
    """A header as looked up in :data:`COLUMNS`: full-width folded, outer spaces and ``*`` removed."""
    return unicodedata.normalize("NFKC", cell_text(header)).strip().strip("*").strip().lower()


def cell_text(value: Cell) -> str:
    """A cell as the text a person sees in it; a whole number stays without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def map_header(header: tuple[Cell, ...]) -> dict[int, str]:
    """Which field each column holds, by position; unknown, doubled or missing headers are one error."""
    fields: dict[int, str] = {}
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for position, cell in enumerate(header):
        key = header_key(cell)
        if not key or key in IGNORED:
            continue
        field = COLUMNS.get(key)
        if field is None:
            unknown.append(cell_text(cell))
        elif field in seen:
            raise Invalid(
                _("The columns %(first)s and %(second)s both give %(field)s: keep one")
                % {"first": seen[field], "second": cell_text(cell), "field": field},
                field="file",
            )
        else:
            fields[position], seen[field] = field, cell_text(cell)
    if unknown:
        raise Invalid(
            _("Unknown column(s): %(columns)s. Known columns: %(known)s")
            % {"columns": ", ".join(unknown), "known": ", ".join(COLUMNS)},
            field="file",
        )
    missing = [field for field in REQUIRED if field not in seen]
    if missing:
        raise Invalid(_("missing column(s) %(columns)s") % {"columns": ", ".join(missing)}, field="file")
    return fields


class PeopleSheet:
    """The header of a residents list and an iterator over its non-empty data rows."""

    def __init__(self, rows: Iterator[tuple[int, tuple[Cell, ...]]], estimated_rows: int | None) -> None:
        self.estimated_rows = estimated_rows
        self._rows = (row for row in rows if any(cell_text(cell) for cell in row[1]))
        first = next(self._rows, None)
        if first is None:
            raise Invalid(_("The file has no header row"), field="file")
        self.fields = map_header(first[1])
        # A report's own columns are left out, so its report does not repeat them.
        self._kept = [position for position, cell in enumerate(first[1]) if header_key(cell) not in IGNORED]
        self._width = len(first[1])
        self.header = tuple(cell_text(first[1][position]) for position in self._kept)
        #: The header as written in the file, per field: errors name the column the reader knows.
        self.columns = {field: cell_text(first[1][position]) for position, field in self.fields.items()}

    def __iter__(self) -> Iterator[SheetRow]:
        for line, cells in self._rows:
            cells = tuple(cells[: self._width]) + (None,) * (self._width - len(cells))
            values = {field: cells[position] for position, field in self.fields.items()}
            yield SheetRow(line=line, cells=tuple(cell_text(cells[position]) for position in self._kept), values=values)


@contextmanager
def open_people_sheet(path: Path) -> Iterator[PeopleSheet]:
    """The residents list in ``path``, by its suffix; any file it cannot read is :class:`Invalid`."""
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        with _excel_rows(path) as (rows, estimated):
            yield PeopleSheet(rows, estimated)
    elif suffix in CSV_SUFFIXES:
        with _csv_rows(path) as (rows, estimated):
            yield PeopleSheet(rows, estimated)
    elif suffix == ".xls":
        raise Invalid(_("%(path)s is an old Excel file (.xls): save it as .xlsx or as CSV UTF-8") % {"path": path},
                      field="file")
    else:
        raise Invalid(_("%(path)s is neither an .xlsx nor a .csv file") % {"path": path}, field="file")


@contextmanager
def _excel_rows(path: Path) -> Iterator[tuple[Iterator[tuple[int, tuple[Cell, ...]]], int | None]]:
    """The first sheet's rows, numbered as Excel shows them; the workbook is closed afterwards."""
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise Invalid(_("cannot read %(path)s: %(error)s") % {"path": path, "error": error}, field="file") from None
    try:
        sheet = workbook.worksheets[0]
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)  # from row 1 even if it is empty
        yield rows, (sheet.max_row - 1 if sheet.max_row else None)
    finally:
        workbook.close()


@contextmanager
def _csv_rows(path: Path) -> Iterator[tuple[Iterator[tuple[int, tuple[Cell, ...]]], int | None]]:
    """The rows of a UTF-8 CSV file (with or without Excel's BOM), each with the line it starts on."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise Invalid(_("cannot read %(path)s: %(error)s") % {"path": path, "error": error}, field="file") from None
    with handle:
        try:
            estimated = sum(1 for _line in handle) - 1  # decodes it all: a wrong encoding shows here
        except UnicodeDecodeError:
            raise Invalid(
                _("%(path)s is not UTF-8 text: in Excel, save it as “CSV UTF-8 (逗号分隔)”") % {"path": path},
                field="file",
            ) from None
        handle.seek(0)
        yield _numbered(csv.reader(handle), path), estimated


def _numbered(reader: Iterator[list[str]], path: Path) -> Iterator[tuple[int, tuple[Cell, ...]]]:
    line = 1
    try:
        for record in reader:
            yield line, tuple(record)
            line = reader.line_num + 1  # type: ignore[attr-defined]
    except csv.Error as error:
        raise Invalid(_("cannot read %(path)s: %(error)s") % {"path": path, "error": error}, field="file") from None
