"""The people and households pages: the API's search, masking, reveal and scope, and the residents import."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, AppClient
from tests.console.conftest import Browser, signed_in, staff
from tests.core.test_people import resident_id
from tests.core.test_people_import import row, write_csv, write_xlsx
from tulou.audit.models import AuditEntry
from tulou.identity.models import Household, Person

MEILIN_VILLAGE = "350899200201"
IMPORT = "/console/people/import"


async def resident(client: AppClient, serial: int, name: str, village: str = SHANGPING_VILLAGE, **extra: Any) -> int:
    body = {"name": name, "resident_id": resident_id(serial), "home_area": village, **extra}
    created = await client.post("/api/v1/people/", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture
async def residents(console: AppClient) -> dict[str, int]:
    """Two residents of Shangping in household 0101 (林一 its head), one of Meilin."""
    ids = {"lin1": await resident(console, 1, "林一", phone="13812345678"),
           "lin2": await resident(console, 2, "林二", tags=["elderly"]),
           "mei": await resident(console, 3, "林梅", MEILIN_VILLAGE)}
    household = await console.post("/api/v1/households/", headers=ADMIN,
                                   json={"number": "0101", "village": SHANGPING_VILLAGE, "address": "上坪 1 号"})
    assert household.status_code == 201, household.text
    ids["household"] = household.json()["id"]
    for person in ("lin1", "lin2"):
        added = await console.post(f"/api/v1/households/{ids['household']}/members", headers=ADMIN,
                                   json={"person": ids[person]})
        assert added.status_code == 200, added.text
    head = await console.put(f"/api/v1/households/{ids['household']}/head", headers=ADMIN, json={"person": ids["lin1"]})
    assert head.status_code == 200, head.text
    return ids


async def test_a_search_lists_the_callers_people_masked(console: AppClient, open_browser: Any,
                                                       residents: dict[str, int]) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    everyone = await lin.open("/console/people")
    assert everyone.status_code == 200
    assert "林一" in everyone.text and "林二" in everyone.text and "林梅" not in everyone.text
    assert resident_id(1) not in everyone.text and resident_id(1)[:6] in everyone.text  # masked, as the API masks
    assert "13812345678" not in everyone.text and "138" in everyone.text
    assert "2 " in everyone.text.split('role="status"')[1][:80]  # counted within scope: Meilin's resident is not
    by_name = await lin.open("/console/people?name=二")
    assert "林二" in by_name.text and "林一" not in by_name.text
    assert "林梅" not in (await lin.open("/console/people?name=梅")).text
    assert "林梅" not in (await lin.open(f"/console/people?area={MEILIN_VILLAGE}")).text  # 404, not her area
    wrong_area = await lin.open("/console/people?area=abc")
    assert wrong_area.status_code == 422 and 'role="alert"' in wrong_area.text


async def test_a_search_by_resident_id_is_exact_and_audited(console: AppClient, open_browser: Any,
                                                            residents: dict[str, int]) -> None:
    lin_id = await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    await lin.open("/console/people")
    found = await lin.submit("/console/people", {"resident_id": resident_id(2)})
    assert found.status_code == 200 and "林二" in found.text and "林一" not in found.text
    assert resident_id(2) not in found.text and "no-store" in found.headers["cache-control"]
    outside = await lin.submit("/console/people", {"resident_id": resident_id(3)})
    assert outside.status_code == 200 and "林梅" not in outside.text
    lookups = await AuditEntry.filter(action="person.lookup", actor=f"account:{lin_id}").order_by("id")
    assert [entry.detail["found"] for entry in lookups] == [True, False]
    assert all(resident_id(2) not in str(entry.detail) for entry in lookups)
    bad = await lin.submit("/console/people", {"resident_id": "12345"})
    assert bad.status_code == 422 and 'id="resident_id-error"' in bad.text and 'aria-invalid="true"' in bad.text


async def test_a_person_page_shows_their_household_and_another_township_gets_404(
    console: AppClient, open_browser: Any, residents: dict[str, int],
) -> None:
    await staff(console, "lin", "township_admin")
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    lin = await signed_in(open_browser, "lin")
    person = await lin.open(f"/console/people/{residents['lin2']}")
    assert person.status_code == 200
    assert "林二" in person.text and "林一" in person.text and "0101" in person.text
    assert f'href="/console/households/{residents["household"]}"' in person.text
    assert resident_id(2) not in person.text and "/reveal" not in person.text  # no person:read_sensitive
    assert "老年人（60 岁及以上）" in person.text  # the tag's title, not its code
    mei = await signed_in(open_browser, "mei")
    for url in (f"/console/people/{residents['lin2']}", f"/console/households/{residents['household']}",
                f"/console/households?village={SHANGPING_VILLAGE}"):
        missing = await mei.open(url)
        assert missing.status_code == 404, url
        assert "林二" not in missing.text and "上坪" not in missing.text, url
    assert "林梅" in (await mei.open(f"/console/people/{residents['mei']}")).text


async def test_a_data_steward_reveals_full_numbers_with_a_purpose_and_it_is_audited(
    console: AppClient, open_browser: Any, residents: dict[str, int],
) -> None:
    steward_id = await staff(console, "steward", "data_steward")
    await staff(console, "lin", "township_admin")
    steward = await signed_in(open_browser, "steward")
    url = f"/console/people/{residents['lin1']}"
    masked = await steward.open(url)
    assert f"{url}/reveal" in masked.text and resident_id(1) not in masked.text
    assert not await AuditEntry.exists(action="person.read_sensitive")
    unexplained = await steward.submit(f"{url}/reveal", {"purpose": " "})
    assert unexplained.status_code == 422 and 'id="purpose-error"' in unexplained.text
    assert resident_id(1) not in unexplained.text
    shown = await steward.submit(f"{url}/reveal", {"purpose": "低保核对"})
    assert shown.status_code == 200 and resident_id(1) in shown.text and "13812345678" in shown.text
    assert "no-store" in shown.headers["cache-control"]
    entry = await AuditEntry.get(action="person.read_sensitive")
    assert (entry.actor, entry.purpose, entry.target_id) == (f"account:{steward_id}", "低保核对", str(residents["lin1"]))
    lin = await signed_in(open_browser, "lin")
    await lin.open(url)
    assert (await lin.submit(f"{url}/reveal", {"purpose": "好奇"})).status_code == 403
    await staff(console, "mei_steward", "data_steward", MEILIN_TOWNSHIP)
    elsewhere = await signed_in(open_browser, "mei_steward")
    await elsewhere.open("/console/people")
    refused = await elsewhere.submit(f"{url}/reveal", {"purpose": "好奇"})
    assert refused.status_code == 404 and resident_id(1) not in refused.text
    assert await AuditEntry.filter(action="person.read_sensitive").count() == 1


async def test_households_are_listed_by_village_with_their_members(
    console: AppClient, open_browser: Any, residents: dict[str, int],
) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    picker = await lin.open("/console/households")
    assert picker.status_code == 200 and f'value="{SHANGPING_VILLAGE}"' in picker.text
    assert MEILIN_VILLAGE not in picker.text
    listed = await lin.open(f"/console/households?village={SHANGPING_VILLAGE}")
    assert "0101" in listed.text and "林一、林二" in listed.text
    page = await lin.open(f"/console/households/{residents['household']}")
    assert page.status_code == 200 and "上坪 1 号" in page.text
    assert f'href="/console/people/{residents["lin2"]}"' in page.text


async def finished(browser: Browser, location: str) -> str:
    """The import page once its job has ended, polled as htmx polls it."""
    for _ in range(200):
        status = await browser.get(location, headers={"HX-Request": "true"})
        assert status.status_code == 200, status.text
        if "hx-trigger" not in status.text:
            return (await browser.open(location)).text
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


async def upload(browser: Browser, path: Path, **fields: str) -> Any:
    await browser.open(IMPORT)
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return await browser.post(IMPORT, data={"_csrf": browser.form_token, **fields},
                              files={"file": (path.name, path.read_bytes(), kind)})


async def test_an_xlsx_list_is_imported_in_the_background_and_audited(
    console: AppClient, open_browser: Any, tmp_path: Path,
) -> None:
    lin_id = await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    rows = [row(11, household_number="0201", address="上坪 2 号"), row(12, household_number="0201")]
    started = await upload(lin, write_xlsx(tmp_path / "名单.xlsx", rows))
    assert started.status_code == 303 and started.headers["location"].startswith(f"{IMPORT}?job=")
    page = await finished(lin, started.headers["location"])
    assert "名单.xlsx" in page and 'class="notice"' in page
    assert await Person.filter(name__in=["林11", "林12"]).count() == 2
    assert await Household.filter(number="0201", village_id=SHANGPING_VILLAGE).count() == 1
    assert await AuditEntry.filter(actor=f"account:{lin_id}", action="person.created").count() == 2
    mei_id = await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    assert mei_id
    mei = await signed_in(open_browser, "mei")
    assert (await mei.open(started.headers["location"])).status_code == 404  # lin's import, not mei's


async def test_wrong_rows_are_reported_by_line_and_nothing_is_written(
    console: AppClient, open_browser: Any, tmp_path: Path,
) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    rows = [row(21), row(22, village=MEILIN_VILLAGE), row(23, resident_id="350899195803140000")]
    started = await upload(lin, write_xlsx(tmp_path / "people.xlsx", rows))
    page = await finished(lin, started.headers["location"])
    assert 'role="alert"' in page
    report = page.split("<tbody>")[1].split("</tbody>")[0]
    assert "<td>3</td>" in report and "<td>4</td>" in report and "<td>2</td>" not in report
    assert "所属村" in report and "身份证号" in report  # the columns as the file names them
    assert not await Person.filter(name__in=["林21", "林22", "林23"]).exists()
    skipped = await upload(lin, write_csv(tmp_path / "people.csv", rows), skip_invalid="on")
    page = await finished(lin, skipped.headers["location"])
    assert 'class="notice"' in page and "<td>3</td>" in page
    assert await Person.filter(name="林21").exists() and not await Person.filter(name="林22").exists()


async def test_an_upload_that_is_not_a_list_is_refused_by_the_field(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    await lin.open(IMPORT)
    nothing = await lin.submit(IMPORT)
    assert nothing.status_code == 422 and 'id="file-error"' in nothing.text
    document = await lin.post(IMPORT, data={"_csrf": lin.form_token},
                              files={"file": ("people.docx", b"PK\x03\x04", "application/octet-stream")})
    assert document.status_code == 422 and 'id="file-error"' in document.text
    assert (await lin.open(f"{IMPORT}?job=nonsense")).status_code == 404


async def test_the_import_page_shows_the_rows_checked_while_the_check_runs(
    console: AppClient, open_browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slow check, held half-way: the page polls and shows how far it got, then the result."""
    from tulou.console import people_imports

    halfway, release = asyncio.Event(), asyncio.Event()
    real_import = people_imports.import_people

    async def slow_import(path: Path, *args: Any, progress: Any = None, **kwargs: Any) -> Any:
        progress(100, 400)
        halfway.set()
        await release.wait()
        return await real_import(path, *args, progress=progress, **kwargs)

    monkeypatch.setattr(people_imports, "import_people", slow_import)
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    started = await upload(lin, write_xlsx(tmp_path / "people.xlsx", [row(31)]))
    await halfway.wait()
    checking = await lin.open(started.headers["location"])
    assert 'hx-trigger="every 1s"' in checking.text and 'value="25"' in checking.text
    polled = await lin.get(started.headers["location"], headers={"HX-Request": "true"})
    assert polled.text.lstrip().startswith("<section") and "<html" not in polled.text  # a fragment to swap in
    release.set()
    assert 'class="notice"' in await finished(lin, started.headers["location"])
    assert await Person.filter(name="林31").exists()
