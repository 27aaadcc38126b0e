"""Importing areas from CSV: every row checked first, then all written in one transaction."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from tortoise.transactions import in_transaction

from tulou.areas.codes import LEVEL_ORDER, AreaLevel, InvalidAreaCode, is_within, level_of, parent_code
from tulou.areas.models import Area
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.modules.service import activate_automatic_modules
from tulou.platform import Platform

REQUIRED_COLUMNS = ("code", "name")
ROOT_LEVELS = {AreaLevel.PROVINCE, AreaLevel.PREFECTURE, AreaLevel.COUNTY}


@dataclass
class AreaRow:
    line: int
    code: str
    name: str
    name_en: str | None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def read_rows(text: str) -> tuple[list[AreaRow], list[tuple[int, str]]]:
    """Parse the CSV and check each row on its own; each error comes with its line."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        return [], [(1, _("missing column(s) %(columns)s") % {"columns": ", ".join(missing)})]
    rows: list[AreaRow] = []
    errors: list[tuple[int, str]] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        code = (row.get("code") or "").strip()
        name = (row.get("name") or "").strip()
        name_en = (row.get("name_en") or "").strip() or None
        problem = _row_problem(code, name, name_en, seen)
        if problem:
            errors.append((line, problem))
            continue
        seen.add(code)
        rows.append(AreaRow(line=line, code=code, name=name, name_en=name_en))
    return rows, errors


def _row_problem(code: str, name: str, name_en: str | None, seen: set[str]) -> str | None:
    try:
        level_of(code)
    except InvalidAreaCode:
        return _("code %(code)r is not a 12-digit division code") % {"code": code}
    if code in seen:
        return _("code %(code)s appears twice") % {"code": code}
    if not name or len(name) > 100:
        return _("name must be 1 to 100 characters")
    if name_en and len(name_en) > 200:
        return _("name_en must be at most 200 characters")
    return None


async def import_areas(
    platform: Platform, text: str, actor: str, within: tuple[str, ...] | None = None
) -> ImportResult:
    """Import areas; with any bad row nothing is written and every error is returned.

    ``within`` (None: anywhere) are the subtrees the importer may write in: a row outside
    them is a bad row, so a console import never touches another county's areas.
    """
    rows, errors = read_rows(text)
    if within is not None:
        errors += [(row.line, _("area %(code)s is outside your areas") % {"code": row.code})
                   for row in rows if not any(is_within(row.code, root) for root in within)]
    existing = set(await Area.filter(code__in=[row.code for row in rows]).values_list("code", flat=True))
    known = existing | {row.code for row in rows}
    parents_needed = {parent_code(row.code) for row in rows if level_of(row.code) not in ROOT_LEVELS}
    known |= set(await Area.filter(code__in=list(parents_needed - known)).values_list("code", flat=True))
    for row in rows:
        parent = parent_code(row.code)
        if level_of(row.code) not in ROOT_LEVELS and parent not in known:
            problem = _("parent area %(parent)s is neither in the file nor in the database")
            errors.append((row.line, problem % {"parent": parent}))
    result = ImportResult(
        errors=[_("line %(line)d: %(problem)s") % {"line": n, "problem": p} for n, p in sorted(errors)]
    )
    if result.errors:
        return result
    await _write(platform, rows, existing, actor, result)
    return result


async def _write(platform: Platform, rows: list[AreaRow], existing: set[str], actor: str, result: ImportResult) -> None:
    known_parents = set(await Area.all().values_list("code", flat=True)) | {row.code for row in rows}
    current = {area.code: area for area in await Area.filter(code__in=list(existing))}
    async with in_transaction():
        for row in sorted(rows, key=lambda r: (LEVEL_ORDER.index(level_of(r.code)), r.code)):
            parent = parent_code(row.code)
            values = {
                "name": row.name,
                "name_en": row.name_en,
                "level": level_of(row.code),
                "parent_id": parent if parent in known_parents else None,
            }
            area = current.get(row.code)
            if area is None:
                area = await Area.create(code=row.code, **values)
                result.created += 1
                if area.level is AreaLevel.TOWNSHIP:
                    await activate_automatic_modules(platform, area, actor)
            elif any(getattr(area, name) != value for name, value in values.items()):
                await Area.filter(code=row.code).update(**values)
                result.updated += 1
            else:
                result.unchanged += 1
    platform.activations.invalidate()


async def import_areas_file(platform: Platform, path: Path, actor: str) -> ImportResult:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise Invalid(_("cannot read %(path)s: %(error)s") % {"path": path, "error": error}, field="file") from None
    return await import_areas(platform, text, actor)
