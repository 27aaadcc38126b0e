"""Bulk import and export: streamed NDJSON and CSV, bad rows with their lines, all or nothing, agreements obeyed."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from tests.conftest import NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS
from tests.exchange.conftest import PLOTS, County, plot
from tests.exchange.test_agreements import GAOLING_VILLAGE, YANGBEI_VILLAGE, granted, shimen_plots
from tulou.audit.models import AuditEntry
from tulou.exchange.models import Change, Dataset, Record

IMPORT = f"/api/v1/datasets/{PLOTS}/records:import"
EXPORT = f"/api/v1/datasets/{PLOTS}/records:export"
NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def ndjson(*rows: dict[str, Any]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def row(key: str, name: str, area: str = SHANGPING_VILLAGE, **data: Any) -> dict[str, Any]:
    return {"id": key, "area": area, "data": plot(name, **data)}


async def keys() -> list[str]:
    return await Record.all().order_by("key").values_list("key", flat=True)


async def test_an_ndjson_import_writes_every_row_and_numbers_their_changes(county: County) -> None:
    body = ndjson(*(row(f"p{n}", f"field {n}") for n in range(5)))
    imported = await county.client.post(IMPORT, content=body, headers={**county.keeper, **NDJSON})
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"created": 5, "updated": 0, "invalid": 0, "bad_rows": []}
    assert await keys() == ["p0", "p1", "p2", "p3", "p4"]
    assert await Change.all().order_by("seq").values_list("seq", "record_key") == [(n + 1, f"p{n}") for n in range(5)]
    assert (await Dataset.get(id=PLOTS)).feed_seq == 5
    listed = await county.client.get(f"/api/v1/datasets/{PLOTS}/records/p3", headers=county.keeper)
    assert listed.json()["data"] == plot("field 3") and listed.headers["etag"] == '"1"'


async def test_one_bad_row_writes_nothing_and_every_bad_row_is_reported_with_its_line(county: County) -> None:
    lines = [row("p1", "ok"), row("p2", "", area_mu=-1), row("p3", "ok"), {"id": "p4", "data": plot("x")},
             row("bad id", "x"), row("p6", "x", area=SHIMEN_TOWN[:-1] + "9")]
    body = ndjson(*lines[:3]) + "\n" + ndjson(*lines[3:]) + "{not json\n"
    failed = await county.client.post(IMPORT, content=body, headers={**county.keeper, **NDJSON})
    assert failed.status_code == 422, failed.text
    problem = failed.json()
    assert problem["invalid"] == 5
    assert {(e["line"], e["field"], e.get("path")) for e in problem["errors"]} == {
        (2, "$.area_mu", "$.area_mu"), (2, "$.name", "$.name"), (5, "area", None), (6, "id", None), (7, "area", None),
        (8, None, None),  # not a record at all
    }
    assert await keys() == [] and await Change.all().count() == 0 and (await Dataset.get(id=PLOTS)).feed_seq == 0


async def test_skip_invalid_writes_the_good_rows_and_returns_the_bad(county: County) -> None:
    body = ndjson(row("p1", "ok"), row("p2", "ok", crop=7), row("p3", "ok"))
    imported = await county.client.post(IMPORT, params={"skip_invalid": "true"}, content=body,
                                        headers={**county.keeper, **NDJSON})
    assert imported.status_code == 200
    assert imported.json()["created"] == 2 and imported.json()["invalid"] == 1
    assert imported.json()["bad_rows"] == [
        {"line": 2, "errors": [{"field": "$.crop", "message": '7 is not of type "string"', "path": "$.crop"}]}]
    assert await keys() == ["p1", "p3"]


async def test_a_reimport_updates_existing_records_and_cannot_move_them(county: County) -> None:
    await county.write("p1", SHANGPING_VILLAGE, plot("old"))
    await county.client.delete(f"/api/v1/datasets/{PLOTS}/records/p1", headers=county.keeper)
    await county.write("p2", SHANGPING_VILLAGE, plot("old"))
    body = ndjson(row("p1", "revived", area=NANYANG_VILLAGE), row("p2", "new"), row("p2", "newer"), row("p3", "made"))
    imported = await county.client.post(IMPORT, content=body, headers={**county.keeper, **NDJSON})
    assert imported.json() == {"created": 2, "updated": 2, "invalid": 0, "bad_rows": []}, imported.text  # p1 revived
    p1, p2 = await Record.get(key="p1"), await Record.get(key="p2")
    assert (p1.version, p1.area_id, p1.deleted, p1.data["name"]) == (3, NANYANG_VILLAGE, False, "revived")
    assert (p2.version, p2.data["name"]) == (3, "newer")
    ops = await Change.filter(seq__gt=3).order_by("seq").values_list("op", "record_key", "record_version")
    assert [(op.value, key, version) for op, key, version in ops] == [
        ("create", "p1", 3), ("update", "p2", 2), ("update", "p2", 3), ("create", "p3", 1)]
    moved = await county.client.post(IMPORT, content=ndjson(row("p3", "moved", area=NANYANG_VILLAGE)),
                                     headers={**county.keeper, **NDJSON})
    [error] = moved.json()["errors"]
    assert moved.status_code == 422 and error["field"] == "area" and "path" not in error  # not inside data


async def test_csv_cells_are_typed_by_the_schema(county: County) -> None:
    body = ('\ufeffid,area,name,crop,area_mu,irrigated,soil\r\n'
            f'p1,{SHANGPING_VILLAGE},"east, by the river",rice,2.5,true,"{{""ph"": 6.5}}"\r\n'
            f'p2,{SHANGPING_VILLAGE},"two\nlines",tea,3,FALSE,\r\n'
            f'p3,{SHANGPING_VILLAGE},west,maize,lots,yes,\r\n'
            f'p4,{SHANGPING_VILLAGE},south,maize,inf,,\r\n')  # JSON has no infinity
    imported = await county.client.post(IMPORT, params={"skip_invalid": "true"}, content=body.encode(),
                                        headers={**county.keeper, **CSV})
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["created"], result["invalid"]) == (2, 2)
    assert result["bad_rows"][0]["line"] == 5  # the quoted cell of p2 spans lines 3 and 4
    assert sorted(e["path"] for e in result["bad_rows"][0]["errors"]) == ["$.area_mu", "$.irrigated"]
    [infinite] = result["bad_rows"][1]["errors"]
    assert result["bad_rows"][1]["line"] == 6 and infinite["path"] == "$.area_mu"
    assert infinite["message"].startswith("inf "), "the cell is named, not a null the validator made of it"
    p1, p2 = await Record.get(key="p1"), await Record.get(key="p2")
    assert p1.data == {"name": "east, by the river", "crop": "rice", "area_mu": 2.5, "irrigated": True, "soil": {"ph": 6.5}}
    assert p2.data == {"name": "two\nlines", "crop": "tea", "area_mu": 3, "irrigated": False}


async def test_lines_are_utf8_split_only_at_line_feeds_and_a_bad_one_is_a_bad_row(county: County) -> None:
    """A sheet saved as GBK is refused line by line, not read as replacement characters."""
    gbk = f"id,area,name,crop,area_mu\r\np1,{SHANGPING_VILLAGE},east,rice,2\r\np2,{SHANGPING_VILLAGE},水口垄,rice,2\r\n"
    refused = await county.client.post(IMPORT, content=gbk.encode("gbk"), headers={**county.keeper, **CSV})
    assert refused.status_code == 422, refused.text
    assert [(e["line"], e["field"]) for e in refused.json()["errors"]] == [(3, None)] and await keys() == []
    old_mac = f"id,area,name,crop,area_mu\r\np1,{SHANGPING_VILLAGE},east\rwest,rice,2\r\n"  # a lone CR
    unreadable = await county.client.post(IMPORT, content=old_mac.encode(), headers={**county.keeper, **CSV})
    assert unreadable.status_code == 422 and [e["line"] for e in unreadable.json()["errors"]] == [2], unreadable.text
    separated = ndjson(row("p1", "上坪\u2028水口垄"))  # a line break to str.splitlines, raw inside a JSON string
    imported = await county.client.post(IMPORT, content=separated.encode(), headers={**county.keeper, **NDJSON})
    assert imported.json()["created"] == 1, imported.text
    assert (await Record.get(key="p1")).data["name"] == "上坪\u2028水口垄"


async def test_imports_need_a_known_media_type_and_the_right_to_write(county: County) -> None:
    body = ndjson(row("p1", "ok"))
    assert (await county.client.post(IMPORT, content=body, headers={**county.keeper, "Content-Type": "text/plain"})).status_code == 415
    other_town = await county.client.post(IMPORT, content=body, headers={**county.shimen_clerk, **NDJSON})
    assert other_town.status_code in (403, 422) and await keys() == []


async def test_an_import_replays_under_its_idempotency_key(county: County) -> None:
    body = ndjson({"area": SHANGPING_VILLAGE, "data": plot("no id")})
    headers = {**county.keeper, **NDJSON, "Idempotency-Key": "import-1"}
    first = await county.client.post(IMPORT, content=body, headers=headers)
    second = await county.client.post(IMPORT, content=body, headers=headers)
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert await Record.all().count() == 1
    other = await county.client.post(IMPORT, content=body + body, headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"


async def grantee_export(county: County) -> dict[str, Any]:
    """The Shimen clerk granted crop and area_mu in Yangbei only: every format shows exactly that."""
    await shimen_plots(county)
    await granted(county, county.shimen_clerk, county.shimen, ["crop", "area_mu"], [YANGBEI_VILLAGE])
    found: dict[str, Any] = {}
    for fmt in ("ndjson", "csv", "xlsx"):
        response = await county.client.get(EXPORT, params={"format": fmt}, headers=county.shimen_clerk)
        assert response.status_code == 200, response.text
        found[fmt] = response.content
    return found


async def test_every_export_format_shows_a_grantee_only_the_agreed_fields_and_areas(county: County) -> None:
    found = await grantee_export(county)
    [line] = [json.loads(text) for text in found["ndjson"].decode().splitlines()]
    assert (line["id"], line["area"], line["data"]) == ("yangbei-1", YANGBEI_VILLAGE, {"crop": "rice", "area_mu": 3})
    rows = list(csv.reader(io.StringIO(found["csv"].decode("utf-8-sig"))))
    assert rows == [["id", "area", "version", "crop", "area_mu"], ["yangbei-1", YANGBEI_VILLAGE, "1", "rice", "3"]]
    sheet = load_workbook(io.BytesIO(found["xlsx"]), read_only=True).worksheets[0]
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [
        ["id", "area", "version", "crop", "area_mu"], ["yangbei-1", YANGBEI_VILLAGE, 1, "rice", 3]]
    audited = await AuditEntry.filter(action="exchange.read").order_by("id")
    assert len(audited) == 3 and all(entry.detail["count"] == 1 and entry.purpose for entry in audited)
    assert [entry.detail["format"] for entry in audited] == ["ndjson", "csv", "xlsx"]


async def test_the_keeper_exports_everything_and_csv_reads_back(county: County) -> None:
    await shimen_plots(county)
    exported = await county.client.get(EXPORT, params={"format": "csv", "area": SHIMEN_TOWN}, headers=county.keeper)
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert sorted(r["id"] for r in rows) == ["gaoling-1", "nanyang-1", "yangbei-1"]
    assert exported.headers["content-disposition"] == f'attachment; filename="{PLOTS}.csv"'
    assert await AuditEntry.filter(action="exchange.read").count() == 0  # the keeper reads under no agreement
    again = await county.client.post(IMPORT, content=exported.content, headers={**county.keeper, **CSV})
    assert again.json()["updated"] == 3 and again.json()["invalid"] == 0, again.text
    assert (await Record.get(key="gaoling-1")).data == plot("north", "maize", 4, household="H4")
    assert GAOLING_VILLAGE in {r["area"] for r in rows}


def test_the_command_imports_an_excel_sheet(county: County, database_url: str, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "name", "crop", "area_mu", "irrigated"])
    sheet.append(["p1", "east", "rice", 2.5, True])
    sheet.append([101, "west", "tea", 3, "false"])  # Excel turned the id into a number
    sheet.append(["p3", "", "tea", "much", None])
    workbook.save(tmp_path / "plots.xlsx")
    env = {**os.environ, "TULOU_DATABASE__URL": database_url, "TULOU_DATA_DIR": str(tmp_path / "data"),
           "TULOU_IDENTITY__ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS, "TULOU_IDENTITY__BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
           "TULOU_DEFAULT_LOCALE": "en"}

    def tulou(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tulou", "exchange", "import", *args], capture_output=True,
                              text=True, env=env, timeout=120)

    failed = tulou(PLOTS, str(tmp_path / "plots.xlsx"), "--area", SHANGPING_VILLAGE)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "line 4: $.area_mu" in failed.stderr and "1 bad row(s); nothing was written" in failed.stderr
    skipped = tulou(PLOTS, str(tmp_path / "plots.xlsx"), "--area", SHANGPING_VILLAGE, "--skip-invalid")
    assert skipped.returncode == 0, skipped.stderr
    assert "2 record(s) created, 0 updated, 1 bad row(s) skipped" in skipped.stdout
    unknown = tulou("no.such", str(tmp_path / "plots.xlsx"))
    assert unknown.returncode == 1 and unknown.stderr.startswith("Error: Dataset not found")
