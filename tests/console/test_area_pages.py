"""The areas pages: the caller's part of the tree only, and the CSV import as ``tulou areas import`` does it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import DEMO_COUNTY, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.console.conftest import signed_in, staff
from tulou.areas.models import Area
from tulou.audit.models import AuditEntry

IMPORT = "/console/areas/import"
NEW_VILLAGE = "350899100203"


def csv_file(text: str) -> dict[str, Any]:
    return {"file": ("areas.csv", text.encode("utf-8-sig"), "text/csv")}


async def test_the_tree_shows_the_callers_areas_and_nothing_else(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    tree = await lin.open("/console/areas")
    assert tree.status_code == 200
    assert "云溪镇" in tree.text and "上坪村" in tree.text and f'href="/console/areas/{SHANGPING_VILLAGE}"' in tree.text
    assert "梅林" not in tree.text and "云溪县" not in tree.text and "<details" in tree.text
    assert 'href="/console/areas"' in tree.text  # in the menu
    assert IMPORT not in tree.text  # importing is the county's
    village = await lin.open(f"/console/areas/{SHANGPING_VILLAGE}")
    assert village.status_code == 200
    assert f'href="/console/areas/{YUNXI_TOWN}"' in village.text  # the breadcrumb, up to lin's own area
    assert f'href="/console/areas/{DEMO_COUNTY}"' not in village.text
    assert f"/console/people?area={SHANGPING_VILLAGE}" in village.text
    assert f"/console/households?village={SHANGPING_VILLAGE}" in village.text
    for elsewhere in (MEILIN_TOWNSHIP, DEMO_COUNTY, "350899999999", "not-a-code"):
        missing = await lin.open(f"/console/areas/{elsewhere}")
        assert missing.status_code == 404, elsewhere
        assert "梅林" not in missing.text
    assert (await lin.open(IMPORT)).status_code == 403


async def test_a_bad_line_imports_nothing_and_every_error_is_shown(console: AppClient, open_browser: Any) -> None:
    county_id = await staff(console, "county", "county_admin", DEMO_COUNTY)
    county = await signed_in(open_browser, "county")
    assert IMPORT in (await county.open("/console/areas")).text
    await county.open(IMPORT)
    text = f"code,name\n{NEW_VILLAGE},新村\n3508991002,短码\n350899300201,无乡之村\n{YUNXI_TOWN},\n"
    refused = await county.post(IMPORT, data={"_csrf": county.form_token}, files=csv_file(text))
    assert refused.status_code == 422
    for line in (3, 4, 5):
        assert f"line {line}:" in refused.text or f"第 {line} 行" in refused.text, line
    assert "3508991002" in refused.text and "350899300000" in refused.text  # the short code, the missing parent
    assert not await Area.exists(code=NEW_VILLAGE)
    assert not await AuditEntry.exists(action="area.imported", actor=f"account:{county_id}")


async def test_a_good_file_is_imported_audited_and_reported(console: AppClient, open_browser: Any) -> None:
    county_id = await staff(console, "county", "county_admin", DEMO_COUNTY)
    county = await signed_in(open_browser, "county")
    await county.open(IMPORT)
    text = f"code,name,name_en\n{NEW_VILLAGE},新村,Xin Village\n{SHANGPING_VILLAGE},上坪村,Shangping Village\n"
    done = await county.post(IMPORT, data={"_csrf": county.form_token}, files=csv_file(text))
    assert done.status_code == 303
    assert done.headers["location"] == "/console/areas?created=1&updated=0&unchanged=1"
    shown = await county.open(done.headers["location"])
    assert "新村" in shown.text and 'role="status"' in shown.text
    assert (await Area.get(code=NEW_VILLAGE)).parent_id == YUNXI_TOWN
    entry = await AuditEntry.get(action="area.imported", actor=f"account:{county_id}")
    assert entry.actor == f"account:{county_id}" and entry.detail == {"created": 1, "updated": 0, "unchanged": 1}


async def test_rows_outside_the_importers_areas_are_bad_rows(console: AppClient, open_browser: Any) -> None:
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    county = await signed_in(open_browser, "county")
    await county.open(IMPORT)
    text = f"code,name\n{NEW_VILLAGE},新村\n350800000000,邻市\n"
    refused = await county.post(IMPORT, data={"_csrf": county.form_token}, files=csv_file(text))
    assert refused.status_code == 422 and "350800000000" in refused.text
    assert not await Area.exists(code=NEW_VILLAGE) and not await Area.exists(code="350800000000")


async def test_a_form_without_a_file_or_with_a_binary_one_says_so_by_the_field(
    console: AppClient, open_browser: Any,
) -> None:
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    county = await signed_in(open_browser, "county")
    await county.open(IMPORT)
    empty = await county.submit(IMPORT)
    assert empty.status_code == 422 and 'id="file-error"' in empty.text and 'aria-invalid="true"' in empty.text
    binary = await county.post(IMPORT, data={"_csrf": county.form_token},
                               files={"file": ("areas.csv", b"\xff\xfe\x00bad", "text/csv")})
    assert binary.status_code == 422 and 'id="file-error"' in binary.text


async def test_an_import_whose_audit_entry_fails_writes_nothing(
    console: AppClient, open_browser: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    county = await signed_in(open_browser, "county")
    await county.open(IMPORT)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr("tulou.console.area_tree.record_audit", broken)
    failed = await county.post(IMPORT, data={"_csrf": county.form_token}, files=csv_file(f"code,name\n{NEW_VILLAGE},新村\n"))
    assert failed.status_code == 500
    assert not await Area.exists(code=NEW_VILLAGE)
