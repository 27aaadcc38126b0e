"""Importing residents from a county's Excel or CSV list: every row checked as the API checks it, then written at once.

While any row is bad nothing is written, unless the caller chooses to skip bad rows:
then the good ones are written and the bad ones reported with their line, column and
reason. The write is one transaction of bulk inserts (households, people, their audit
entries), so a list of ten thousand residents takes seconds, not an API call per row.
"""

from __future__ import annotations

import asyncio
import csv
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.areas.models import Area
from tulou.audit.service import AuditEvent, record_audits
from tulou.errors import Conflict, Invalid, Problem
from tulou.i18n import current_locale
from tulou.i18n import gettext as _
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.models import Household, Person
from tulou.identity.people import RESIDENT_ID, already_registered, person_fields
from tulou.identity.people_sheet import REPORT_COLUMNS, REQUIRED, PeopleSheet, SheetRow, cell_text, open_people_sheet
from tulou.identity.resident_id import ResidentId, parse_phone, parse_resident_id
from tulou.identity.schemas import HouseholdIn, Name, PersonIn
from tulou.identity.tags import TagVocabulary
from tulou.identity.scope import area_in_scope
from tulou.security.principal import Principal

T = TypeVar("T")
BATCH = 500
TAG_SEPARATORS = re.compile(r"[;；、,，]")
MSGSPEC_PATH = re.compile(r"at `\$\.(\w+)")
PROGRESS_EVERY = 100
HouseholdKey = tuple[str, str]  # (village code, household number)
#: Told (rows checked so far, rows the file seems to hold or ``None``) as checking goes on.
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RowError:
    """What is wrong with one field of one row; ``column`` is the header as the file spells it."""

    line: int
    field: str
    column: str
    message: str

    def __str__(self) -> str:
        return _("line %(line)d: %(problem)s") % {"line": self.line, "problem": f"{self.column}: {self.message}"}


@dataclass
class CheckedRow:
    """A row after checking: its errors, or the columns of the person it becomes."""

    line: int
    cells: tuple[str, ...]
    errors: list[RowError] = field(default_factory=list)
    index: str | None = None  # blind index of the resident ID, whenever it parses
    person: dict[str, Any] | None = None
    household: HouseholdKey | None = None
    address: str = ""


@dataclass
class PeopleImport:
    """The outcome: every row as checked, and what was (or in a dry run would be) written."""

    header: tuple[str, ...]
    rows: list[CheckedRow]
    households_created: int = 0
    written: bool = False

    @property
    def good(self) -> list[CheckedRow]:
        return [row for row in self.rows if not row.errors]

    @property
    def bad(self) -> list[CheckedRow]:
        return [row for row in self.rows if row.errors]

    @property
    def errors(self) -> list[RowError]:
        return sorted((error for row in self.rows for error in row.errors), key=lambda error: error.line)


class RowChecker:
    """Checks rows with the API's own rules; remembers each village it looked up, as a list names few."""

    def __init__(self, sheet: PeopleSheet, cipher: PersonalDataCipher, tags: TagVocabulary, principal: Principal) -> None:
        self.columns = sheet.columns
        self.cipher = cipher
        self.tags = tags
        self.principal = principal
        self._areas: dict[str, Area | Problem] = {}

    def fail(self, row: CheckedRow, field: str, message: str) -> None:
        row.errors.append(RowError(row.line, field, self.columns.get(field, field), message))

    def attempt(self, row: CheckedRow, field: str, check: Callable[[], T], message: str | None = None) -> T | None:
        """``check()``, or ``None`` with the error recorded; ``message`` replaces msgspec's English one."""
        try:
            return check()
        except Problem as problem:
            self.fail(row, field, problem.detail)
        except msgspec.ValidationError as error:
            self.fail(row, field, message or str(error))
        return None

    async def check(self, sheet_row: SheetRow) -> CheckedRow:
        """One row on its own: every field's error, or the columns of the person it becomes."""
        row = CheckedRow(sheet_row.line, sheet_row.cells)
        text = {name: cell_text(value) for name, value in sheet_row.values.items()}
        for name in REQUIRED:
            if not text[name]:
                self.fail(row, name, _("A value is required"))
        if text["name"]:
            self.attempt(row, "name", lambda: msgspec.convert(text["name"], Name), _("A name has at most 100 characters"))
        resident = self._resident_id(row, sheet_row.values["resident_id"], text["resident_id"])
        if text.get("phone"):
            self.attempt(row, "phone", lambda: parse_phone(text["phone"]))
        tags = self._tags(row, text.get("tags", ""))
        area = await self._village(row, text["village"]) if text["village"] else None
        if resident is not None:
            row.index = self.cipher.blind_index(resident.number, RESIDENT_ID)
        if area is not None and text.get("household_number"):
            self._household(row, area, text["household_number"], text.get("address", ""))
        if not row.errors:
            data = {"name": text["name"], "resident_id": text["resident_id"], "home_area": text["village"],
                    "phone": text.get("phone") or None, "tags": tags}
            person_in = msgspec.convert(data, PersonIn)  # the API's own gate; every field passed above
            row.person = {**person_fields(self.cipher, self.tags, person_in), "home_area_id": text["village"]}
        return row

    def _resident_id(self, row: CheckedRow, cell: object, text: str) -> ResidentId | None:
        if not text:
            return None
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            message = _("The resident ID is stored as a number, which Excel rounds to 15 digits: "
                        "format the column as text and enter the numbers again")
            self.fail(row, "resident_id", message)
            return None
        return self.attempt(row, "resident_id", lambda: parse_resident_id(text))

    def _tags(self, row: CheckedRow, text: str) -> list[str]:
        """Codes or titles (独居老人, elderly_alone), separated as Excel users do; each unknown one named."""
        codes: list[str] = []
        for given in (part.strip() for part in TAG_SEPARATORS.split(text)):
            if not given:
                continue
            code = self.tags.code_for(given)
            if code is None:
                self.fail(row, "tags", _("Unknown tags: %(tags)s") % {"tags": given})
            else:
                codes.append(code)
        return codes

    async def _village(self, row: CheckedRow, code: str) -> Area | None:
        if code not in self._areas:
            try:
                self._areas[code] = await area_in_scope(self.principal, code, "village", village=True)
            except Problem as problem:
                self._areas[code] = problem
        found = self._areas[code]
        if isinstance(found, Problem):
            self.fail(row, "village", found.detail)
            return None
        return found

    def _household(self, row: CheckedRow, village: Area, number: str, address: str) -> None:
        data = {"number": number, "village": village.code, "address": address}
        try:
            msgspec.convert(data, HouseholdIn)
        except msgspec.ValidationError as error:
            path = MSGSPEC_PATH.search(str(error))
            if path and path.group(1) == "address":
                self.fail(row, "address", _("An address has at most 300 characters"))
            else:
                self.fail(row, "household_number", _("A household number has at most 32 characters"))
            return
        row.household, row.address = (village.code, number), address


async def check_people(
    sheet: PeopleSheet, cipher: PersonalDataCipher, tags: TagVocabulary, principal: Principal,
    progress: Progress | None = None,
) -> PeopleImport:
    """Check every row on its own, then across rows and against the database; write nothing."""
    checker = RowChecker(sheet, cipher, tags, principal)
    rows: list[CheckedRow] = []
    for sheet_row in sheet:
        rows.append(await checker.check(sheet_row))
        if len(rows) % PROGRESS_EVERY == 0:
            await asyncio.sleep(0)  # checking is mostly CPU: let a web process serve others meanwhile
            if progress is not None:
                progress(len(rows), sheet.estimated_rows)
    if progress is not None:
        progress(len(rows), sheet.estimated_rows)
    _mark_repeated(checker, rows)
    await _mark_registered(checker, rows)
    existing = await existing_households({row.household for row in rows if row.household})
    _mark_other_addresses(checker, rows, existing)
    result = PeopleImport(header=sheet.header, rows=rows)
    result.households_created = len({row.household for row in result.good if row.household} - existing.keys())
    return result


def _mark_repeated(checker: RowChecker, rows: list[CheckedRow]) -> None:
    """Every row whose resident ID another row repeats is bad: which of them is right is for a person to say."""
    by_index: dict[str, list[CheckedRow]] = defaultdict(list)
    for row in rows:
        if row.index is not None:
            by_index[row.index].append(row)
    for group in by_index.values():
        for row in group if len(group) > 1 else ():
            lines = ", ".join(str(other.line) for other in group if other is not row)
            checker.fail(row, "resident_id", _("The same resident ID number is also on line %(lines)s") % {"lines": lines})


async def _mark_registered(checker: RowChecker, rows: list[CheckedRow]) -> None:
    registered: set[str] = set()
    for chunk in _chunks([row.index for row in rows if row.index is not None]):
        registered.update(await Person.filter(resident_id_index__in=chunk).values_list("resident_id_index", flat=True))
    for row in rows:
        if row.index in registered:
            checker.fail(row, "resident_id", already_registered().detail)


def _mark_other_addresses(checker: RowChecker, rows: list[CheckedRow], existing: dict[HouseholdKey, int]) -> None:
    """A new household gets one address: a row that gives it another is bad (existing ones keep theirs)."""
    first: dict[HouseholdKey, CheckedRow] = {}
    for row in rows:
        if row.household is None or row.household in existing or not row.address:
            continue
        earlier = first.setdefault(row.household, row)
        if earlier.address != row.address:
            message = _("Line %(line)d gives this household another address") % {"line": earlier.line}
            checker.fail(row, "address", message)


async def existing_households(keys: Iterable[HouseholdKey]) -> dict[HouseholdKey, int]:
    """The ids of those households that exist, a query per village and batch of numbers."""
    by_village: dict[str, list[str]] = defaultdict(list)
    for village, number in keys:
        by_village[village].append(number)
    found: dict[HouseholdKey, int] = {}
    for village, numbers in by_village.items():
        for chunk in _chunks(numbers):
            rows = await Household.filter(village_id=village, number__in=chunk).values_list("number", "id")
            found.update({(village, number): household_id for number, household_id in rows})
    return found


async def write_people(rows: Sequence[CheckedRow], actor: str) -> int:
    """Write checked rows, their new households and every audit entry in one transaction; the households created."""
    try:
        async with in_transaction():
            households, created = await _households_for(rows)
            people = [Person(**row.person, household_id=households.get(row.household)) for row in rows if row.person]
            await Person.bulk_create(people, batch_size=BATCH)
            ids = await _person_ids([person.resident_id_index for person in people])
            events = [_household_created(key, households[key]) for key in created]
            for person in people:
                events.extend(_person_events(ids[person.resident_id_index], person))
            await record_audits(actor, events)
    except IntegrityError:  # someone registered one of them between the check and the write
        raise Conflict(
            _("Some of these people or households were registered while the file was checked; "
              "nothing was written. Run the import again."),
            field="file",
        ) from None
    return len(created)


async def _households_for(rows: Sequence[CheckedRow]) -> tuple[dict[HouseholdKey, int], list[HouseholdKey]]:
    addresses: dict[HouseholdKey, str] = {}
    for row in rows:
        if row.household is not None and not addresses.get(row.household):
            addresses[row.household] = row.address  # the first address given, if any
    existing = await existing_households(addresses)
    missing = sorted(addresses.keys() - existing.keys())
    await Household.bulk_create(
        [Household(village_id=village, number=number, address=addresses[village, number]) for village, number in missing],
        batch_size=BATCH,
    )
    return existing | await existing_households(missing), missing


async def _person_ids(indexes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(indexes):
        found.update(await Person.filter(resident_id_index__in=chunk).values_list("resident_id_index", "id"))
    return found


def _household_created(key: HouseholdKey, household_id: int) -> AuditEvent:
    return AuditEvent("household.created", area_code=key[0], target_type="household", target_id=str(household_id))


def _person_events(person_id: int, person: Person) -> list[AuditEvent]:
    """What the API records when this person is registered and then added to their household."""
    events = [AuditEvent("person.created", area_code=person.home_area_id, target_type="person", target_id=str(person_id))]
    if person.household_id is not None:
        events.append(AuditEvent("household.member_added", area_code=person.home_area_id, target_type="household",
                                 target_id=str(person.household_id), detail={"person": person_id}))
    return events


async def import_people(
    path: Path,
    cipher: PersonalDataCipher,
    tags: TagVocabulary,
    principal: Principal,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PeopleImport:
    """Check the list in ``path`` and write it: all rows, or with ``skip_invalid`` the good ones only.

    ``principal`` is who imports: its areas bound the villages, its id is the audit actor.
    """
    with open_people_sheet(path) as sheet:
        result = await check_people(sheet, cipher, tags, principal, progress)
    if dry_run or (result.bad and not skip_invalid):
        return result
    result.households_created = await write_people(result.good, principal.id)
    result.written = True
    return result


def default_report_path(source: Path) -> Path:
    return source.with_name(f"{source.stem}-errors.csv")


def write_report(result: PeopleImport, path: Path) -> Path:
    """The bad rows as CSV (UTF-8 with BOM, so Excel shows Chinese): line, columns at fault, errors, the row.

    Reading skips the three leading columns, so the corrected report imports as it is.
    """
    chinese = current_locale.get().startswith("zh")
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([zh if chinese else en for en, zh in REPORT_COLUMNS] + list(result.header))
            for row in result.bad:
                columns = ", ".join(dict.fromkeys(error.column for error in row.errors))
                messages = "; ".join(error.message for error in row.errors)
                writer.writerow([row.line, columns, messages, *row.cells])
    except OSError as error:
        raise Invalid(_("cannot write %(path)s: %(error)s") % {"path": path, "error": error}, field="report") from None
    return path


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]
