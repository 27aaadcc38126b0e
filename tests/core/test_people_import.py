"""Importing residents from Excel and CSV lists: the ``tulou people import`` command and the module behind it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from tortoise import connections

from tests.conftest import ADMIN, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS
from tests.core.test_people import resident_id
from tulou.audit.models import AuditEntry
from tulou.audit.service import verify_chain
from tulou.cli import cli
from tulou.cli.context import COMMAND_LINE
from tulou.errors import Invalid
from tulou.i18n import current_locale
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.models import Household, Person
from tulou.identity.people_import import PeopleImport, import_people
from tulou.security.principal import Principal

ENGLISH = ["name", "resident_id", "phone", "household_number", "village", "tags", "address"]
CHINESE = ["姓名", "身份证号", "手机", "户号", "所属村", "标签", "地址"]


def row(serial: int, village: str = SHANGPING_VILLAGE, **extra: str) -> list[Any]:
    values = {"name": f"林{serial}", "resident_id": resident_id(serial), "phone": "", "household_number": "",
              "village": village, "tags": "", "address": "", **extra}
    return [values[name] for name in ENGLISH]


def write_csv(path: Path, rows: list[list[Any]], header: list[str] = ENGLISH, bom: bool = True) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def write_xlsx(path: Path, rows: list[list[Any]], header: list[str] = CHINESE) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for values in [header, *rows]:
        sheet.append(values)
    workbook.save(path)
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


# -- the command, through its real door -------------------------------------------------------------------------

@pytest.fixture
def tulou(database_url: str, tmp_path: Path):  # noqa: ANN201 - returns a runner
    env = {
        **os.environ, "TULOU_DATABASE__URL": database_url, "TULOU_DATA_DIR": str(tmp_path / "data"),
        "TULOU_IDENTITY__ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS, "TULOU_IDENTITY__BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
    }

    def run(*args: str, locale: str = "en", demo: bool = True) -> subprocess.CompletedProcess[str]:
        if demo and not loaded:
            loaded.append(subprocess.run([sys.executable, "-m", "tulou", "demo"], env=env, check=True, timeout=120))
        return subprocess.run(
            [sys.executable, "-m", "tulou", *args],
            capture_output=True, text=True, env={**env, "TULOU_DEFAULT_LOCALE": locale}, timeout=120,
        )

    loaded: list[object] = []
    return run


def test_one_bad_row_stops_the_whole_import(tulou, tmp_path: Path) -> None:  # noqa: ANN001
    bad = write_csv(tmp_path / "people.csv", [row(1), row(2, phone="12345"), row(3)])
    failed = tulou("people", "import", str(bad))
    good = write_csv(tmp_path / "people.csv", [row(1), row(2, phone="13812345678"), row(3)])
    imported = tulou("people", "import", str(good))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.splitlines()[0].startswith("line 3: phone: Not a mainland phone number")
    assert "1 bad row(s); nothing was written" in failed.stderr
    assert not (tmp_path / "people-errors.csv").exists()
    # Had the first attempt written rows 2 and 4, they would now be duplicates.
    assert imported.returncode == 0 and "3 person(s) created" in imported.stdout, imported.stderr


def test_skip_invalid_writes_the_good_rows_and_reports_the_bad(tulou, tmp_path: Path) -> None:  # noqa: ANN001
    rows = [row(1), row(2, village="350899100000"), row(3), row(4, tags="elderly;老人")]
    imported = tulou("people", "import", "--skip-invalid", str(write_xlsx(tmp_path / "名单.xlsx", rows)), locale="zh_CN")
    report_path = tmp_path / "名单-errors.csv"
    report = read_report(report_path)
    assert imported.returncode == 0 and str(report_path) in imported.stdout
    assert [(line["行号"], line["字段"]) for line in report] == [("3", "所属村"), ("5", "标签")]
    assert report[0]["身份证号"] == resident_id(2) and "老人" in report[1]["错误"]
    # The corrected report imports as it is: its own columns are skipped.
    report[0]["所属村"], report[1]["标签"] = SHANGPING_VILLAGE, "elderly"
    with report_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(report[0]))
        writer.writeheader()
        writer.writerows(report)
    again = tulou("people", "import", str(report_path))
    assert again.returncode == 0 and "2 person(s) created" in again.stdout, again.stderr


def test_dry_run_writes_nothing_and_report_goes_where_asked(tulou, tmp_path: Path) -> None:  # noqa: ANN001
    source = write_csv(tmp_path / "people.csv", [row(1), row(1, name="重复")], bom=False)
    report = tmp_path / "out" / "bad.csv"
    report.parent.mkdir()
    dry = tulou("people", "import", "--dry-run", "--skip-invalid", "--report", str(report), str(source))
    misused = CliRunner().invoke(cli, ["people", "import", "--report", str(report), str(source)])
    assert dry.returncode == 0 and "Dry run: 0 person(s)" in dry.stdout
    assert [line["line"] for line in read_report(report)] == ["2", "3"]
    assert "also on line 3" in read_report(report)[0]["error"]
    error_line = misused.output.strip().splitlines()[-1]  # in whichever language an earlier test left active
    assert misused.exit_code == 2 and "--report" in error_line and "--skip-invalid" in error_line
    single = tulou("people", "import", str(write_csv(tmp_path / "one.csv", [row(1)])))
    assert "1 person(s) created" in single.stdout


def test_a_file_it_cannot_use_is_one_line_without_traceback(tulou, tmp_path: Path) -> None:  # noqa: ANN001
    path = tmp_path / "people.csv"
    path.write_bytes("姓名,身份证号,所属村\n".encode("gbk"))
    result = tulou("people", "import", str(path), demo=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and "CSV UTF-8" in result.stderr


# -- the module, with an app on the test database ----------------------------------------------------------------

@pytest.fixture
async def app(serve: Any) -> Any:
    async with serve() as client:
        yield client


async def run_import(app: Any, path: Path, principal: Principal = COMMAND_LINE, **options: Any) -> PeopleImport:
    cipher = PersonalDataCipher.from_settings(app.app.state.platform.settings)
    current_locale.set("en")  # a request before may have left its own
    return await import_people(path, cipher, app.app.state.platform.person_tags, principal, **options)


def problems(result: PeopleImport) -> list[tuple[int, str, str]]:
    return [(error.line, error.field, error.column) for error in result.errors]


@pytest.mark.parametrize("bom", [True, False])
async def test_chinese_and_english_headers_give_the_same_people(app: Any, tmp_path: Path, bom: bool) -> None:
    await run_import(app, write_csv(tmp_path / "zh.csv", [row(1, phone="138 1234 5678")], header=CHINESE, bom=bom))
    await run_import(app, write_csv(tmp_path / "en.csv", [row(2, tags="veteran;elderly、disabled，elderly,低保对象")], bom=bom))
    first, second = await Person.all().order_by("id")
    assert (first.name, first.home_area_id, first.sex.value) == ("林1", SHANGPING_VILLAGE, "male")
    assert second.tags == ["disabled", "elderly", "low_income", "veteran"]
    found = await app.post("/api/v1/people/lookup", json={"resident_id": resident_id(1)}, headers=ADMIN)
    assert found.json()["phone"] == "13812345678" and found.json()["id"] == first.id


async def test_numbers_are_encrypted_at_rest_and_found_by_the_api(app: Any, tmp_path: Path) -> None:
    await run_import(app, write_xlsx(tmp_path / "people.xlsx", [row(7, phone=13812345678)]))
    raw = await connections.get("default").execute_query_dict("SELECT * FROM core_person")
    stored = " ".join(str(value) for value in raw[0].values())
    assert resident_id(7) not in stored and "13812345678" not in stored
    assert raw[0]["resident_id_cipher"].startswith("v1.ktest.") and raw[0]["phone_cipher"].startswith("v1.ktest.")
    found = await app.post("/api/v1/people/lookup", json={"resident_id": resident_id(7)}, headers=ADMIN)
    assert found.status_code == 200 and found.json()["resident_id"] == resident_id(7)


async def test_an_id_excel_stored_as_a_number_is_refused(app: Any, tmp_path: Path) -> None:
    result = await run_import(app, write_xlsx(tmp_path / "people.xlsx", [row(1, resident_id=int(resident_id(1)))]))
    assert problems(result) == [(2, "resident_id", "身份证号")]
    assert "format the column as text" in result.errors[0].message and not result.written


async def test_a_repeated_id_is_bad_on_every_line_and_so_is_a_registered_one(app: Any, tmp_path: Path) -> None:
    registered = {"name": "林9", "resident_id": resident_id(9), "home_area": SHANGPING_VILLAGE}
    assert (await app.post("/api/v1/people/", json=registered, headers=ADMIN)).status_code == 201
    rows = [row(1), row(2), row(1, name="林一"), row(9)]
    result = await run_import(app, write_csv(tmp_path / "people.csv", rows), skip_invalid=True)
    assert problems(result) == [(2, "resident_id", "resident_id"), (4, "resident_id", "resident_id"),
                                (5, "resident_id", "resident_id")]
    assert "also on line 4" in result.errors[0].message and "also on line 2" in result.errors[1].message
    assert "already registered" in result.errors[2].message
    assert [p.name for p in await Person.all().order_by("id")] == ["林9", "林2"]


async def test_rows_join_their_household_which_is_created_once(app: Any, tmp_path: Path) -> None:
    existing = await app.post("/api/v1/households/", json={"number": "0002", "village": NANYANG_VILLAGE}, headers=ADMIN)
    rows = [
        row(1, household_number="0001"), row(2, household_number="0001", address="上坪村 3 号"),
        row(3, household_number="0001"), row(4, village=NANYANG_VILLAGE, household_number="0002", address="新地址"),
        row(5, village=NANYANG_VILLAGE, household_number="0001"),
    ]
    result = await run_import(app, write_csv(tmp_path / "people.csv", rows))
    households = {(h.village_id, h.number): h for h in await Household.all()}
    members = {p.name: p.household_id for p in await Person.all()}
    assert result.written and result.households_created == 2
    assert households[SHANGPING_VILLAGE, "0001"].address == "上坪村 3 号"
    assert households[NANYANG_VILLAGE, "0002"].id == existing.json()["id"]
    assert households[NANYANG_VILLAGE, "0002"].address == ""  # an existing household keeps its own
    assert members == {"林1": households[SHANGPING_VILLAGE, "0001"].id, "林2": households[SHANGPING_VILLAGE, "0001"].id,
                       "林3": households[SHANGPING_VILLAGE, "0001"].id, "林4": existing.json()["id"],
                       "林5": households[NANYANG_VILLAGE, "0001"].id}


async def test_a_new_household_with_two_addresses_is_refused(app: Any, tmp_path: Path) -> None:
    rows = [row(1, household_number="0001", address="上坪村 3 号"), row(2, household_number="0001", address="上坪村 4 号")]
    result = await run_import(app, write_csv(tmp_path / "people.csv", rows))
    assert problems(result) == [(3, "address", "address")] and "Line 2" in result.errors[0].message
    assert await Household.all().count() == 0


async def test_every_person_and_household_is_audited_as_the_cli(app: Any, tmp_path: Path) -> None:
    before = await AuditEntry.all().count()
    rows = [row(1, household_number="0001"), row(2)]
    await run_import(app, write_csv(tmp_path / "people.csv", rows))
    entries = await AuditEntry.filter(id__gt=before).order_by("id")
    person_ids = {p.name: str(p.id) for p in await Person.all()}
    household = await Household.get(number="0001")
    assert [(e.actor, e.action, e.area_code, e.target_id) for e in entries] == [
        ("cli", "household.created", SHANGPING_VILLAGE, str(household.id)),
        ("cli", "person.created", SHANGPING_VILLAGE, person_ids["林1"]),
        ("cli", "household.member_added", SHANGPING_VILLAGE, str(household.id)),
        ("cli", "person.created", SHANGPING_VILLAGE, person_ids["林2"]),
    ]
    assert entries[2].detail == {"person": int(person_ids["林1"])}
    assert (await verify_chain()).ok


async def test_a_failing_audit_write_leaves_nothing_behind(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("tulou.identity.people_import.record_audits", broken)
    with pytest.raises(RuntimeError):
        await run_import(app, write_csv(tmp_path / "people.csv", [row(1, household_number="0001"), row(2)]))
    assert await Person.all().count() == 0 and await Household.all().count() == 0


async def test_villages_outside_the_importers_areas_are_not_found(app: Any, tmp_path: Path) -> None:
    shimen_clerk = Principal(id="shimen-clerk", display_name="石门", permissions=frozenset({"person:write"}),
                             area_roots=(SHIMEN_TOWN,))
    result = await run_import(app, write_csv(tmp_path / "people.csv", [row(1), row(2, village=NANYANG_VILLAGE)]),
                              shimen_clerk)
    assert problems(result) == [(2, "village", "village")] and result.errors[0].message == "Area not found"
    assert not result.written


async def test_empty_rows_are_skipped_and_lines_are_the_files(app: Any, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(f"name,resident_id,village\n\n林1,{resident_id(1)},{SHANGPING_VILLAGE}\n,,\n林2,,{SHANGPING_VILLAGE}\n",
                    encoding="utf-8")
    result = await run_import(app, path, dry_run=True)
    assert problems(result) == [(5, "resident_id", "resident_id")] and result.errors[0].message == "A value is required"
    assert len(result.good) == 1 and await Person.all().count() == 0


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("people.csv", "姓名,身份证号,所属村,性别\n", "Unknown column(s): 性别"),
        ("people.csv", "姓名,所属村\n", "missing column(s) resident_id"),
        ("people.csv", "姓名,身份证号,所属村,手机,电话\n", "both give phone"),
        ("people.csv", "\n,,\n", "no header row"),
        ("people.xls", "", "old Excel file (.xls)"),
        ("people.ods", "", "neither an .xlsx nor a .csv"),
        ("people.xlsx", "not a zip", "cannot read"),
    ],
)
async def test_a_file_it_cannot_use_is_refused_whole(
    app: Any, tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(Invalid) as refused:
        await run_import(app, path, skip_invalid=True)
    assert expected in refused.value.detail and refused.value.field == "file"


async def test_the_template_in_the_guides_imports_on_the_demo_county(app: Any) -> None:
    template = Path(__file__).parents[2] / "docs" / "guides" / "people-import.csv"
    result = await run_import(app, template)
    assert result.errors == [] and len(result.good) == 5 and result.households_created == 2
