"""The accounts, roles and organisations pages: the caller's areas only, the API's rules, field errors by the field."""

from __future__ import annotations

import re

from typing import Any

from tests.conftest import ADMIN, DEMO_COUNTY, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.console.conftest import PASSWORD, Browser, staff
from tulou.audit.models import AuditEntry
from tulou.identity.accounts_models import Account, AccountStatus, RoleBinding
from tulou.identity.models import Organisation

NEW_PASSWORD = "a long enough pass phrase"


async def signed_in(open_browser: Any, username: str) -> Browser:
    browser = open_browser()
    assert (await browser.sign_in(username)).status_code == 303
    return browser


async def test_a_township_admin_lists_only_their_townships_accounts(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    await staff(console, "yunxi_clerk", "township_staff", SHANGPING_VILLAGE)
    await staff(console, "meilin_clerk", "township_staff", MEILIN_TOWNSHIP)
    lin = await signed_in(open_browser, "lin")
    page = (await lin.open("/console/accounts")).text
    assert "yunxi_clerk" in page and "lin" in page
    assert "meilin_clerk" not in page and MEILIN_TOWNSHIP not in page
    count = await Account.filter(home_area_id__startswith=YUNXI_TOWN[:9]).count()
    assert re.search(rf"\D{count} ", page.split('class="pager"')[0].split("</table>")[1])  # counted within Yunxi only
    options = page.split('id="area"')[1].split("</select>")[0]
    assert SHANGPING_VILLAGE in options and MEILIN_TOWNSHIP not in options and DEMO_COUNTY not in options
    found = (await lin.open("/console/accounts?username=clerk")).text
    assert "yunxi_clerk" in found and ">lin</a>" not in found


async def test_creating_an_account_checks_the_password_and_reports_by_the_field(
    console: AppClient, open_browser: Any,
) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    await lin.open("/console/accounts")
    short = await lin.submit("/console/accounts", {"username": "wang", "password": "short", "area": YUNXI_TOWN})
    assert short.status_code == 422 and 'id="password-error"' in short.text
    assert 'value="wang"' in short.text  # what was typed is kept
    no_area = await lin.submit("/console/accounts", {"username": "wang", "password": NEW_PASSWORD, "area": ""})
    assert no_area.status_code == 422 and 'id="area-error"' in no_area.text
    taken = await lin.submit("/console/accounts", {"username": "lin", "password": NEW_PASSWORD, "area": YUNXI_TOWN})
    assert taken.status_code == 422 and 'id="new-username-error"' in taken.text
    elsewhere = await lin.submit("/console/accounts", {"username": "wang", "password": NEW_PASSWORD,
                                                        "area": MEILIN_TOWNSHIP})
    assert elsewhere.status_code == 422 and 'id="area-error"' in elsewhere.text
    assert not await Account.exists(username="wang")
    made = await lin.submit("/console/accounts", {"username": "wang", "password": NEW_PASSWORD,
                                                   "area": SHANGPING_VILLAGE})
    assert made.status_code == 303
    wang = await Account.get(username="wang")
    assert made.headers["location"] == f"/console/accounts/{wang.id}?done=created"
    assert wang.home_area_id == SHANGPING_VILLAGE
    assert await AuditEntry.exists(action="account.created", target_id=str(wang.id))


async def test_granting_and_removing_a_role_offers_only_what_the_caller_may_grant(
    console: AppClient, open_browser: Any,
) -> None:
    await staff(console, "lin", "township_admin")
    wang = await staff(console, "wang", None)  # type: ignore[arg-type]
    lin = await signed_in(open_browser, "lin")
    page = (await lin.open(f"/console/accounts/{wang}")).text
    roles = page.split('id="role"')[1].split("</select>")[0]
    assert 'value="township_staff"' in roles and 'value="village_committee"' in roles
    assert 'value="county_admin"' not in roles and 'value="data_steward"' not in roles  # holds more than lin
    areas = page.split('id="area"')[1].split("</select>")[0]
    assert SHANGPING_VILLAGE in areas and MEILIN_TOWNSHIP not in areas
    missing = await lin.submit(f"/console/accounts/{wang}/bindings", {"role": "", "area": ""})
    assert missing.status_code == 422 and 'id="role-error"' in missing.text and 'id="area-error"' in missing.text
    stronger = await lin.submit(f"/console/accounts/{wang}/bindings", {"role": "county_admin", "area": YUNXI_TOWN})
    assert stronger.status_code == 422 and 'id="role-error"' in stronger.text
    granted = await lin.submit(f"/console/accounts/{wang}/bindings",
                               {"role": "village_committee", "area": SHANGPING_VILLAGE})
    assert granted.status_code == 303
    binding = await RoleBinding.get(account_id=wang)
    assert binding.area_id == SHANGPING_VILLAGE
    page = (await lin.open(f"/console/accounts/{wang}")).text
    assert f"/bindings/{binding.id}/remove" in page
    assert (await lin.submit(f"/console/accounts/{wang}/bindings/{binding.id}/remove")).status_code == 303
    assert not await RoleBinding.exists(account_id=wang)
    assert await AuditEntry.exists(action="role.unbound", target_id=str(wang))


async def test_disabling_and_enabling_an_account(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    wang = await staff(console, "wang", "township_staff")
    lin = await signed_in(open_browser, "lin")
    await lin.open(f"/console/accounts/{wang}")
    assert (await lin.submit(f"/console/accounts/{wang}/disable")).status_code == 303
    assert (await Account.get(id=wang)).status is AccountStatus.DISABLED
    again = await lin.submit(f"/console/accounts/{wang}/disable")
    assert again.status_code == 409 and 'role="alert"' in again.text
    assert (await open_browser().sign_in("wang")).status_code == 401
    assert (await lin.submit(f"/console/accounts/{wang}/enable")).status_code == 303
    assert (await open_browser().sign_in("wang", PASSWORD)).status_code == 303


async def test_another_townships_account_is_not_found(console: AppClient, open_browser: Any) -> None:
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    wang = await staff(console, "wang", "township_staff")
    mei = await signed_in(open_browser, "mei")
    assert (await mei.open(f"/console/accounts/{wang}")).status_code == 404
    assert (await mei.submit(f"/console/accounts/{wang}/disable")).status_code == 404
    assert (await mei.submit(f"/console/accounts/{wang}/bindings", {"role": "kiosk", "area": MEILIN_TOWNSHIP})
            ).status_code == 404
    assert (await Account.get(id=wang)).status is AccountStatus.ACTIVE
    assert await RoleBinding.filter(account_id=wang).count() == 1


async def test_the_roles_page_lists_built_in_and_custom_roles(console: AppClient, open_browser: Any) -> None:
    made = await console.post("/api/v1/roles/", headers=ADMIN, json={
        "name": "water_clerk", "title": "Water clerk", "permissions": ["device:read", "telemetry:read"]})
    assert made.status_code == 201, made.text
    await staff(console, "lin", "township_staff")
    page = (await (await signed_in(open_browser, "lin")).open("/console/roles")).text
    assert "township_admin" in page and "county_admin" in page
    custom = page.split("water_clerk")[1].split("</tr>")[0]
    assert "<code>device:read</code>" in custom and "<code>telemetry:read</code>" in custom


async def test_organisations_are_listed_created_and_changed_within_scope(console: AppClient, open_browser: Any) -> None:
    for name, area in (("云溪茶叶合作社", SHANGPING_VILLAGE), ("梅林竹业合作社", MEILIN_TOWNSHIP)):
        made = await console.post("/api/v1/organisations/", headers=ADMIN,
                                  json={"name": name, "kind": "other", "area": area})
        assert made.status_code == 201, made.text
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    page = (await lin.open("/console/organisations")).text
    assert "云溪茶叶合作社" in page and "梅林竹业合作社" not in page
    bad = await lin.submit("/console/organisations", {"name": " ", "kind": "nonsense", "area": SHANGPING_VILLAGE})
    assert bad.status_code == 422 and 'id="kind-error"' in bad.text
    blank = await lin.submit("/console/organisations", {"name": " ", "kind": "vendor", "area": SHANGPING_VILLAGE})
    assert blank.status_code == 422 and 'id="name-error"' in blank.text
    made = await lin.submit("/console/organisations", {"name": "上坪村委会", "kind": "village_committee",
                                                        "area": SHANGPING_VILLAGE, "parent": ""})
    assert made.status_code == 303
    committee = await Organisation.get(name="上坪村委会")
    changed = await lin.submit(f"/console/organisations/{committee.id}", {"name": "上坪村民委员会",
                                                                          "kind": "village_committee"})
    assert changed.status_code == 303
    assert (await Organisation.get(id=committee.id)).name == "上坪村民委员会"
    assert await AuditEntry.exists(action="organisation.changed", target_id=str(committee.id))
    meilin = await Organisation.get(name="梅林竹业合作社")
    assert (await lin.open(f"/console/organisations/{meilin.id}")).status_code == 404
    assert (await lin.submit(f"/console/organisations/{meilin.id}", {"name": "x", "kind": "other"})).status_code == 404
    assert (await Organisation.get(id=meilin.id)).name == "梅林竹业合作社"


async def test_the_menu_offers_each_new_page_to_who_may_open_it(console: AppClient, open_browser: Any) -> None:
    pages = ("accounts", "roles", "organisations", "clients", "audit", "jobs")
    expected = {
        "township_admin": {"accounts", "roles", "organisations", "clients", "audit"},
        "auditor": {"accounts", "roles", "organisations", "audit"},
        "village_committee": {"organisations"},
        "kiosk": set(),
    }
    for role, shown in expected.items():
        await staff(console, f"as_{role}", role)
        menu = (await (await signed_in(open_browser, f"as_{role}")).open("/console/")).text.split('class="menu"')[1]
        assert {name for name in pages if f'href="/console/{name}"' in menu} == shown, role
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    menu = (await (await signed_in(open_browser, "county")).open("/console/")).text.split('class="menu"')[1]
    assert all(f'href="/console/{name}"' in menu for name in pages)
