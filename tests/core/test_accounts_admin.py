"""Administering accounts, roles and bindings over HTTP: within scope, audited, and never a way to escalate."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import (
    ADMIN, DEMO_COUNTY, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN, builtin_plugins,
)
from tests.core.test_accounts import account, bearer, login, problem, tokens
from tulou.audit.models import AuditEntry
from tulou.identity.accounts_models import Account

ACCOUNTS, ROLES, BINDINGS, ME = "/api/v1/accounts", "/api/v1/roles", "/api/v1/role-bindings", "/api/v1/me/"
NEW_PASSWORD = "a fresh passphrase from the admin"


@pytest.fixture
async def client(serve: Any) -> Any:
    async with serve() as test_client:
        yield test_client


async def signed_in(client: Any, username: str, role: str, area: str = YUNXI_TOWN) -> dict[str, str]:
    """A new account holding ``role`` in ``area``, homed there and signed in: its bearer header."""
    await account(client, username, role, area)
    return bearer((await tokens(client, username))["access_token"])


async def action(client: Any, account_id: int, verb: str, headers: dict[str, str], **body: Any) -> Any:
    if verb == "password":
        return await client.post(f"{ACCOUNTS}/{account_id}/password", json=body, headers=headers)
    return await client.post(f"{ACCOUNTS}/{account_id}/{verb}", headers=headers)


def fields(response: Any) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


# Accounts


async def test_accounts_are_listed_within_the_callers_areas(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    wu = await account(client, "wu", area=SHANGPING_VILLAGE)
    zhao = await account(client, "zhao", area=MEILIN_TOWNSHIP)
    await Account.create(username="legacy", password_hash="x")  # made before home areas existed
    listed = await client.get(f"{ACCOUNTS}/", headers=lin)
    assert listed.status_code == 200, listed.text
    assert [a["username"] for a in listed.json()["items"]] == ["lin", "wu"] and listed.json()["total"] == 2
    item = listed.json()["items"][1]
    assert item["home_area"] == SHANGPING_VILLAGE and item["status"] == "active" and item["locked_until"] is None
    assert item["created_at"] and not any("hash" in key or "password" in key for key in item)
    assert (await client.get(f"{ACCOUNTS}/{zhao}", headers=lin)).status_code == 404
    assert (await client.get(f"{ACCOUNTS}/{wu}", headers=lin)).json()["username"] == "wu"
    everyone = (await client.get(f"{ACCOUNTS}/", params={"limit": 1000}, headers=ADMIN)).json()
    assert everyone["limit"] == 200 and [a["username"] for a in everyone["items"]] == ["test-admin", "lin", "wu", "zhao", "legacy"]


async def test_accounts_without_a_home_are_managed_from_a_root_area_only(client: Any) -> None:
    legacy = await Account.create(username="legacy", password_hash="x")
    chief = await signed_in(client, "chief", "county_admin", DEMO_COUNTY)
    yunxi = await signed_in(client, "lin", "county_admin", YUNXI_TOWN)
    assert (await client.get(f"{ACCOUNTS}/{legacy.id}", headers=chief)).status_code == 200
    assert (await client.get(f"{ACCOUNTS}/{legacy.id}", headers=yunxi)).status_code == 404


async def test_accounts_are_filtered_and_paged(client: Any) -> None:
    for name, area in (("lin", YUNXI_TOWN), ("linda", SHANGPING_VILLAGE), ("wu", SHIMEN_TOWN)):
        await account(client, name, area=area)
    await action(client, (await Account.get(username="linda")).id, "disable", ADMIN)

    async def names(**params: Any) -> list[str]:
        response = await client.get(f"{ACCOUNTS}/", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        return [a["username"] for a in response.json()["items"]]

    assert await names(username="LIN") == ["lin", "linda"]
    assert await names(status="disabled") == ["linda"]
    assert await names(area=SHIMEN_TOWN) == ["wu"]
    assert await names(limit=1, offset=2) == ["linda"]  # after test-admin and lin
    bad = await client.get(f"{ACCOUNTS}/", params={"area": "3508"}, headers=ADMIN)
    assert bad.status_code == 422 and fields(bad) == ["area"]


async def test_a_township_admin_cannot_see_or_touch_another_townships_accounts(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    zhao = await account(client, "zhao", "township_staff", area=MEILIN_TOWNSHIP)
    for verb in ("disable", "enable", "unlock"):
        assert (await action(client, zhao, verb, lin)).status_code == 404, verb
    assert (await action(client, zhao, "password", lin, generate=True)).status_code == 404
    assert (await client.get(f"{ACCOUNTS}/", params={"area": MEILIN_TOWNSHIP}, headers=lin)).status_code == 404
    assert await AuditEntry.filter(action__startswith="account.", target_id=str(zhao)).count() == 1  # created only


async def test_an_auditor_reads_accounts_but_cannot_act_on_them(client: Any) -> None:
    auditor = await signed_in(client, "lin", "auditor")
    wu = await account(client, "wu")
    assert (await client.get(f"{ACCOUNTS}/{wu}", headers=auditor)).status_code == 200
    assert (await action(client, wu, "disable", auditor)).status_code == 403


async def test_disabling_ends_the_session_at_once_and_sign_in_fails_like_a_wrong_password(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    wu = await account(client, "wu", "township_staff")
    wu_token = bearer((await tokens(client, "wu"))["access_token"])
    assert (await client.get(ME, headers=wu_token)).status_code == 200
    disabled = await action(client, wu, "disable", lin)
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    assert (await client.get(ME, headers=wu_token)).status_code == 401
    refused, wrong = await login(client, "wu"), await login(client, "lin", "not the password at all")
    assert refused.status_code == wrong.status_code == 401 and problem(refused) == problem(wrong)
    again = await action(client, wu, "disable", lin)
    assert again.status_code == 409 and fields(again) == ["status"]
    enabled = await action(client, wu, "enable", lin)
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert (await client.get(ME, headers=wu_token)).status_code == 401  # revoked tokens stay dead
    assert (await login(client, "wu")).status_code == 200
    audited = await AuditEntry.filter(action__in=["account.disabled", "account.enabled"]).order_by("id")
    assert [(e.action, e.actor, e.area_code, e.target_id) for e in audited] == [
        ("account.disabled", f"account:{await _id('lin')}", YUNXI_TOWN, str(wu)),
        ("account.enabled", f"account:{await _id('lin')}", YUNXI_TOWN, str(wu)),
    ]


async def _id(username: str) -> int:
    return (await Account.get(username=username)).id


async def test_nobody_disables_or_resets_themselves(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    myself = await _id("lin")
    disabled = await action(client, myself, "disable", lin)
    reset = await action(client, myself, "password", lin, password=NEW_PASSWORD)
    assert (disabled.status_code, reset.status_code) == (403, 403)
    assert fields(disabled) == ["account_id"] and (await Account.get(id=myself)).status.value == "active"
    assert (await client.get(ME, headers=lin)).status_code == 200


async def test_nobody_takes_over_an_account_stronger_than_they_are(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    chief = await account(client, "chief", "county_admin", area=YUNXI_TOWN)  # homed in lin's township
    steward = await account(client, "steward", "data_steward", area=SHANGPING_VILLAGE)
    clerk = await account(client, "clerk", "township_staff")
    for target in (chief, steward):
        for verb in ("disable", "password"):
            refused = await action(client, target, verb, lin, generate=True)
            assert refused.status_code == 403 and fields(refused) == ["account_id"], (target, verb)
    assert (await login(client, "chief")).status_code == 200
    assert (await action(client, clerk, "disable", lin)).status_code == 200
    assert not await AuditEntry.filter(action="account.password_reset").exists()


async def test_an_admin_sets_or_generates_a_password_and_the_old_tokens_die(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    wu = await account(client, "wu", "township_staff")
    old = bearer((await tokens(client, "wu"))["access_token"])
    weak = await action(client, wu, "password", lin, password="short")
    both = await action(client, wu, "password", lin, password=NEW_PASSWORD, generate=True)
    neither = await action(client, wu, "password", lin)
    assert [(r.status_code, fields(r)) for r in (weak, both, neither)] == [(422, ["password"])] * 3
    chosen = await action(client, wu, "password", lin, password=NEW_PASSWORD)
    assert chosen.status_code == 200 and chosen.json()["generated_password"] is None
    assert (await client.get(ME, headers=old)).status_code == 401
    assert (await login(client, "wu")).status_code == 401
    assert (await login(client, "wu", NEW_PASSWORD)).status_code == 200
    generated = await action(client, wu, "password", lin, generate=True)
    assert generated.status_code == 200 and generated.headers["cache-control"] == "no-store"
    password = generated.json()["generated_password"]
    assert len(password) >= 12 and (await login(client, "wu", password)).status_code == 200
    assert (await login(client, "wu", NEW_PASSWORD)).status_code == 401
    audited = await AuditEntry.filter(action="account.password_reset").order_by("id")
    assert [e.detail for e in audited] == [{"generated": False}, {"generated": True}]
    assert password not in str([e.detail for e in await AuditEntry.all()])


async def test_unlocking_lifts_a_lockout(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    wu = await account(client, "wu")
    for _ in range(5):
        await login(client, "wu", "not the password at all")
    locked = (await client.get(f"{ACCOUNTS}/{wu}", headers=lin)).json()
    assert locked["locked_until"] is not None and (await login(client, "wu")).status_code == 401
    unlocked = await action(client, wu, "unlock", lin)
    assert unlocked.status_code == 200 and unlocked.json()["locked_until"] is None
    assert (await login(client, "wu")).status_code == 200
    [entry] = await AuditEntry.filter(action="account.unlocked")
    assert entry.detail == {"failed_logins": 5} and entry.area_code == YUNXI_TOWN


# Roles


async def test_every_signed_in_caller_reads_the_roles(client: Any) -> None:
    staff = await signed_in(client, "lin", "township_staff")
    roles = await client.get(f"{ROLES}/", headers=staff)
    assert roles.status_code == 200
    by_name = {role["name"]: role for role in roles.json()}
    assert by_name["county_admin"] == {"name": "county_admin", "title": "县级管理员", "permissions": ["*"], "builtin": True}
    township = by_name["township_admin"]["permissions"]
    assert "role:grant" in township and "role:manage" not in township and "person:read_sensitive" not in township
    one = await client.get(f"{ROLES}/township_admin", params={"lang": "en"}, headers=staff)
    assert one.json()["title"] == "Township administrator"
    assert (await client.get(f"{ROLES}/nobody", headers=staff)).status_code == 404
    assert (await client.get(f"{ROLES}/")).status_code == 401


async def test_custom_roles_are_created_changed_and_deleted_with_audit(client: Any) -> None:
    body = {"name": "clinic_clerk", "title": "Clinic clerk", "permissions": ["person:read", "household:read", "person:read"]}
    created = await client.post(f"{ROLES}/", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "clinic_clerk", "title": "Clinic clerk",
                              "permissions": ["household:read", "person:read"], "builtin": False}
    assert (await client.post(f"{ROLES}/", json=body, headers=ADMIN)).status_code == 409
    changed = await client.patch(f"{ROLES}/clinic_clerk", json={"title": "Clinic desk", "permissions": ["person:read"]},
                                 headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["permissions"] == ["person:read"]
    assert (await client.get(f"{ROLES}/clinic_clerk", headers=ADMIN)).json()["title"] == "Clinic desk"
    assert (await client.delete(f"{ROLES}/clinic_clerk", headers=ADMIN)).status_code == 204
    assert (await client.get(f"{ROLES}/clinic_clerk", headers=ADMIN)).status_code == 404
    audited = await AuditEntry.filter(action__startswith="role.").order_by("id")
    assert [(e.action, e.target_id) for e in audited] == [
        ("role.created", "clinic_clerk"), ("role.changed", "clinic_clerk"), ("role.deleted", "clinic_clerk"),
    ]
    assert audited[1].detail["removed"] == ["household:read"]


async def test_permissions_must_be_known(serve: Any) -> None:
    async with serve(plugins=builtin_plugins()) as client:
        unknown = await client.post(f"{ROLES}/", headers=ADMIN, json={
            "name": "odd", "title": "Odd", "permissions": ["person:read", "person:fly", "*"]})
        assert unknown.status_code == 422 and fields(unknown) == ["permissions"]
        assert "person:fly" in unknown.json()["detail"] and "*" in unknown.json()["detail"]
        plugin = await client.post(f"{ROLES}/", headers=ADMIN, json={
            "name": "notice_editor", "title": "Notice editor", "permissions": ["notices:publish"]})
        assert plugin.status_code == 201, plugin.text
        patched = await client.patch(f"{ROLES}/notice_editor", json={"permissions": ["notices:fly"]}, headers=ADMIN)
        assert patched.status_code == 422 and fields(patched) == ["permissions"]


async def test_built_in_roles_cannot_be_changed_or_deleted(client: Any) -> None:
    changed = await client.patch(f"{ROLES}/township_admin", json={"permissions": ["*"]}, headers=ADMIN)
    deleted = await client.delete(f"{ROLES}/kiosk", headers=ADMIN)
    assert [(r.status_code, fields(r)) for r in (changed, deleted)] == [(409, ["name"])] * 2
    assert "township_admin" in changed.json()["detail"]
    assert "*" not in (await client.get(f"{ROLES}/township_admin", headers=ADMIN)).json()["permissions"]


async def test_a_bound_role_cannot_be_deleted(client: Any) -> None:
    await client.post(f"{ROLES}/", json={"name": "clerk", "title": "Clerk", "permissions": ["person:read"]}, headers=ADMIN)
    await account(client, "wu", "clerk")
    refused = await client.delete(f"{ROLES}/clerk", headers=ADMIN)
    assert refused.status_code == 409 and fields(refused) == ["name"]
    assert (await client.get(f"{ROLES}/clerk", headers=ADMIN)).status_code == 200


async def test_a_township_admin_cannot_make_roles(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    body = {"name": "helper", "title": "Helper", "permissions": ["person:read"]}
    assert (await client.post(f"{ROLES}/", json=body, headers=lin)).status_code == 403
    assert (await client.patch(f"{ROLES}/township_staff", json={"title": "x"}, headers=lin)).status_code == 403


async def test_nobody_makes_or_widens_a_role_beyond_what_they_hold(client: Any) -> None:
    for name, permissions in (("role_maker", ["role:manage", "person:read", "person:write"]),
                              ("clerk", ["person:read"]), ("far_clerk", ["person:read"])):
        body = {"name": name, "title": name, "permissions": permissions}
        assert (await client.post(f"{ROLES}/", json=body, headers=ADMIN)).status_code == 201
    maker = await signed_in(client, "lin", "role_maker", YUNXI_TOWN)
    await account(client, "wu", "clerk", area=SHANGPING_VILLAGE)
    await account(client, "zhao", "far_clerk", area=MEILIN_TOWNSHIP)
    stronger = {"name": "reader", "title": "Reader", "permissions": ["person:read", "person:read_sensitive"]}
    refused = await client.post(f"{ROLES}/", json=stronger, headers=maker)
    widened_far = await client.patch(f"{ROLES}/far_clerk", json={"permissions": ["person:write"]}, headers=maker)
    assert [(r.status_code, fields(r)) for r in (refused, widened_far)] == [(403, ["permissions"])] * 2
    within = await client.post(f"{ROLES}/", json={**stronger, "permissions": ["person:write"]}, headers=maker)
    assert within.status_code == 201
    widened = await client.patch(f"{ROLES}/clerk", json={"permissions": ["person:read", "person:write"]}, headers=maker)
    assert widened.status_code == 200
    assert (await client.get(f"{ROLES}/far_clerk", headers=maker)).json()["permissions"] == ["person:read"]


async def test_a_narrowed_role_applies_at_the_next_request(client: Any) -> None:
    await client.post(f"{ROLES}/", json={"name": "clerk", "title": "Clerk", "permissions": ["person:read"]}, headers=ADMIN)
    wu = await signed_in(client, "wu", "clerk")
    assert (await client.get("/api/v1/people/", headers=wu)).status_code == 200
    assert (await client.patch(f"{ROLES}/clerk", json={"permissions": []}, headers=ADMIN)).status_code == 200
    assert (await client.get("/api/v1/people/", headers=wu)).status_code == 403
    assert (await client.get(ME, headers=wu)).status_code == 200  # narrowed, not signed out


# Role bindings


async def test_nobody_binds_a_custom_role_with_permissions_they_lack(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    wu = await account(client, "wu")
    for name, permissions in (("sensitive_reader", ["person:read", "person:read_sensitive"]), ("clerk", ["person:read"])):
        body = {"name": name, "title": name, "permissions": permissions}
        assert (await client.post(f"{ROLES}/", json=body, headers=ADMIN)).status_code == 201
    refused = await client.post(f"{BINDINGS}/", json={"account": wu, "role": "sensitive_reader", "area": YUNXI_TOWN},
                                headers=lin)
    assert refused.status_code == 403 and fields(refused) == ["role"]
    granted = await client.post(f"{BINDINGS}/", json={"account": wu, "role": "clerk", "area": YUNXI_TOWN}, headers=lin)
    assert granted.status_code == 201


async def test_bindings_are_listed_within_the_callers_areas(client: Any) -> None:
    lin = await signed_in(client, "lin", "township_admin")
    wu = await account(client, "wu", "village_committee", area=SHANGPING_VILLAGE)
    await account(client, "zhao", "township_staff", area=MEILIN_TOWNSHIP)

    async def listed(headers: dict[str, str], **params: Any) -> list[tuple[str, str]]:
        response = await client.get(f"{BINDINGS}/", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [(b["role"], b["area"]) for b in response.json()["items"]]

    assert await listed(lin) == [("township_admin", YUNXI_TOWN), ("village_committee", SHANGPING_VILLAGE)]
    assert await listed(lin, account=wu) == [("village_committee", SHANGPING_VILLAGE)]
    assert await listed(lin, area=SHANGPING_VILLAGE) == [("village_committee", SHANGPING_VILLAGE)]
    assert await listed(lin, role="township_staff") == []
    assert await listed(ADMIN, role="township_staff") == [("township_staff", MEILIN_TOWNSHIP)]
    outside = await client.get(f"{BINDINGS}/", params={"area": MEILIN_TOWNSHIP}, headers=lin)
    assert outside.status_code == 404 and fields(outside) == ["area"]
    staff = await signed_in(client, "chen", "township_staff")
    assert (await client.get(f"{BINDINGS}/", headers=staff)).status_code == 403


async def test_a_new_binding_applies_at_the_next_request(client: Any) -> None:
    wu = await account(client, "wu", "kiosk")
    headers = bearer((await tokens(client, "wu"))["access_token"])
    assert (await client.get("/api/v1/people/", headers=headers)).status_code == 403
    bound = await client.post(f"{BINDINGS}/", json={"account": wu, "role": "township_staff", "area": YUNXI_TOWN},
                              headers=ADMIN)
    assert bound.status_code == 201
    assert (await client.get("/api/v1/people/", headers=headers)).status_code == 200
