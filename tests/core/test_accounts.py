"""Accounts over HTTP: sign-in, token life and death, scoped roles and no self-escalation."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, DEMO_COUNTY, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN
from tests.core.test_people import person
from tulou.audit.models import AuditEntry
from tulou.identity.accounts_models import AccessToken, Account
from tulou.security.principal_cache import principals_changed

TOKEN, REFRESH, LOGOUT, ME = "/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/me/"
PASSWORD = "plum blossom in the rain"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(serve: Any) -> Any:
    async with serve() as test_client:
        yield test_client


async def account(client: Any, username: str, role: str | None = None, area: str = YUNXI_TOWN) -> int:
    created = await client.post("/api/v1/accounts/", json={"username": username, "password": PASSWORD, "area": area}, headers=ADMIN)
    assert created.status_code == 201, created.text
    if role is not None:
        bound = await client.post("/api/v1/role-bindings/", json={"account": created.json()["id"], "role": role, "area": area}, headers=ADMIN)
        assert bound.status_code == 201, bound.text
    return created.json()["id"]


async def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    return await client.post(TOKEN, json={"username": username, "password": password})


async def tokens(client: Any, username: str) -> dict[str, Any]:
    response = await login(client, username)
    assert response.status_code == 200, response.text
    return response.json()


def problem(response: Any) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


async def test_login_gives_tokens_that_show_the_callers_grants(client: Any) -> None:
    await account(client, "lin", "township_admin")
    issued = await tokens(client, "lin")
    me = await client.get(ME, headers=bearer(issued["access_token"]))
    assert me.status_code == 200 and me.json()["account"]["username"] == "lin"
    assert [b["role"] for b in me.json()["bindings"]] == ["township_admin"]
    [grant] = me.json()["grants"]
    assert grant["area"] == YUNXI_TOWN and "person:read" in grant["permissions"]
    assert "person:read_sensitive" not in grant["permissions"]
    stored = await AccessToken.filter(account__username="lin")
    assert issued["access_token"] not in {t.token_hash for t in stored} and len(stored) == 2
    assert await AuditEntry.filter(action="auth.login").count() == 1


async def test_failures_all_get_the_same_answer(client: Any) -> None:
    await account(client, "lin")
    wrong = await login(client, "lin", "not the password at all")
    unknown = await login(client, "nobody", PASSWORD)
    for _ in range(4):
        await login(client, "lin", "not the password at all")
    locked = await login(client, "lin", PASSWORD)
    assert [r.status_code for r in (wrong, unknown, locked)] == [401] * 3
    assert problem(wrong) == problem(unknown) == problem(locked)
    failures = await AuditEntry.filter(action="auth.login_failed").order_by("id")
    assert failures[1].actor == "anonymous" and "nobody" not in str(failures[1].detail)
    assert failures[-1].detail["reason"] == "locked"


async def test_lockout_backs_off(client: Any) -> None:
    await account(client, "lin")
    for _ in range(5):
        await login(client, "lin", "not the password at all")
    first = await Account.get(username="lin")
    assert first.locked_until is not None
    first_lock = first.locked_until - datetime.now(timezone.utc)
    assert timedelta(seconds=50) < first_lock <= timedelta(minutes=1)
    await Account.filter(id=first.id).update(locked_until=datetime.now(timezone.utc) - timedelta(seconds=1))
    await login(client, "lin", "not the password at all")
    second = await Account.get(username="lin")
    assert second.locked_until - datetime.now(timezone.utc) > timedelta(minutes=1, seconds=50)
    await Account.filter(id=first.id).update(locked_until=datetime.now(timezone.utc) - timedelta(seconds=1))
    assert (await login(client, "lin")).status_code == 200
    assert (await Account.get(username="lin")).failed_logins == 0


async def test_bad_tokens_are_rejected(client: Any) -> None:
    await account(client, "lin", "township_admin")
    issued = await tokens(client, "lin")
    good = issued["access_token"]
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert (await client.get(ME, headers=bearer(good))).status_code == 200
    assert (await client.get(ME, headers=bearer(tampered))).status_code == 401
    assert (await client.get(ME, headers=bearer(issued["refresh_token"]))).status_code == 401
    await AccessToken.all().update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    await principals_changed()  # a hand edit of the tables: the cache would trust the old expiry
    assert (await client.get(ME, headers=bearer(good))).status_code == 401


async def test_a_retired_bootstrap_token_opens_nothing_and_is_warned_about(
    serve: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old = "a-bootstrap-token-from-before-accounts"
    monkeypatch.setenv("TULOU_ADMIN_TOKEN", old)
    with caplog.at_level(logging.WARNING, logger="tulou.web.lifespan"):
        async with serve() as client:
            refused = await client.get("/api/v1/audit", headers=bearer(old))
    assert refused.status_code == 401
    [warning] = [record.getMessage() for record in caplog.records if "TULOU_ADMIN_TOKEN" in record.getMessage()]
    assert "tulou admin create" in warning and old not in warning


async def test_logout_revokes_every_token(client: Any) -> None:
    await account(client, "lin", "township_admin")
    first, second = await tokens(client, "lin"), await tokens(client, "lin")
    assert (await client.post(LOGOUT, headers=bearer(first["access_token"]))).status_code == 204
    assert (await client.get(ME, headers=bearer(first["access_token"]))).status_code == 401
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})).status_code == 401


async def test_refresh_rotates_and_replay_kills_the_family(client: Any) -> None:
    await account(client, "lin", "township_admin")
    issued = await tokens(client, "lin")
    rotated = await client.post(REFRESH, json={"refresh_token": issued["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert (await client.get(ME, headers=bearer(new["access_token"]))).status_code == 200
    replay = await client.post(REFRESH, json={"refresh_token": issued["refresh_token"]})
    assert replay.status_code == 401
    assert (await client.get(ME, headers=bearer(new["access_token"]))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": new["refresh_token"]})).status_code == 401
    assert await AuditEntry.filter(action="auth.refresh_reused").count() == 1


async def test_password_change_and_binding_removal_kill_tokens(client: Any) -> None:
    await account(client, "lin", "township_admin")
    issued = await tokens(client, "lin")
    change = await client.post(
        ME + "password", json={"current_password": PASSWORD, "new_password": "a much newer passphrase"},
        headers=bearer(issued["access_token"]),
    )
    assert change.status_code == 204
    assert (await client.get(ME, headers=bearer(issued["access_token"]))).status_code == 401
    assert (await login(client, "lin")).status_code == 401
    fresh = (await login(client, "lin", "a much newer passphrase")).json()
    binding = (await client.get(ME, headers=bearer(fresh["access_token"]))).json()["bindings"][0]["id"]
    assert (await client.delete(f"/api/v1/role-bindings/{binding}", headers=ADMIN)).status_code == 204
    assert (await client.get(ME, headers=bearer(fresh["access_token"]))).status_code == 401
    assert await AuditEntry.filter(action="role.unbound").count() == 1


async def test_township_admin_sees_only_their_township_masked(client: Any) -> None:
    mine = (await client.post("/api/v1/people/", json=person(11, village=SHANGPING_VILLAGE), headers=ADMIN)).json()
    theirs = (await client.post("/api/v1/people/", json=person(12, village=NANYANG_VILLAGE), headers=ADMIN)).json()
    await account(client, "lin", "township_admin")
    headers = bearer((await tokens(client, "lin"))["access_token"])
    read = await client.get(f"/api/v1/people/{mine['id']}", headers=headers)
    assert read.status_code == 200 and read.json()["masked"]
    assert (await client.get(f"/api/v1/people/{theirs['id']}", headers=headers)).status_code == 404
    search = (await client.get("/api/v1/people/", params={"name": "林"}, headers=headers)).json()
    assert [item["id"] for item in search["items"]] == [mine["id"]]


async def test_a_grant_in_one_township_does_not_widen_another_role(client: Any) -> None:
    nanyang = (await client.post("/api/v1/people/", json=person(12, village=NANYANG_VILLAGE), headers=ADMIN)).json()
    lin = await account(client, "lin", "auditor", area=SHIMEN_TOWN)
    bound = await client.post("/api/v1/role-bindings/", json={"account": lin, "role": "data_steward", "area": YUNXI_TOWN}, headers=ADMIN)
    assert bound.status_code == 201
    headers = bearer((await tokens(client, "lin"))["access_token"])
    assert (await client.get(f"/api/v1/people/{nanyang['id']}", headers=headers)).status_code == 404


async def test_no_self_escalation(client: Any) -> None:
    lin = await account(client, "lin", "township_admin")
    headers = bearer((await tokens(client, "lin"))["access_token"])
    steward = await client.post("/api/v1/role-bindings/", json={"account": lin, "role": "data_steward", "area": YUNXI_TOWN}, headers=headers)
    county = await client.post("/api/v1/role-bindings/", json={"account": lin, "role": "county_admin", "area": YUNXI_TOWN}, headers=headers)
    elsewhere = await client.post("/api/v1/role-bindings/", json={"account": lin, "role": "kiosk", "area": SHIMEN_TOWN}, headers=headers)
    allowed = await client.post("/api/v1/role-bindings/", json={"account": lin, "role": "township_staff", "area": YUNXI_TOWN}, headers=headers)
    assert [r.status_code for r in (steward, county, elsewhere, allowed)] == [403, 403, 404, 201]
    assert await AuditEntry.filter(action="role.bound").count() == 2


async def test_password_policy_names_the_field(client: Any) -> None:
    for password in ("short", "123456789012", "Password1234", "lin-the-clerk-lin"):
        response = await client.post("/api/v1/accounts/", json={"username": "lin-the-clerk", "password": password, "area": DEMO_COUNTY}, headers=ADMIN)
        assert response.status_code == 422, password
        assert response.json()["errors"][0]["field"] == "password"


def run_tulou(database_url: str, tmp_path: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TULOU_DATABASE__URL": database_url, "TULOU_DATA_DIR": str(tmp_path / "data"), "TULOU_DEFAULT_LOCALE": "en"}
    return subprocess.run([sys.executable, "-m", "tulou", *args], capture_output=True, text=True, env=env, input=input, timeout=120)


def county_admin_signs_in(database_url: str, tmp_path: Path, username: str, password: str) -> None:
    """Sign in through the API and find the account bound as ``county_admin`` at the demo county."""

    async def check() -> None:
        from tests.conftest import running_app
        from tulou.web.app import create_app

        app = create_app(plugins=[], database={"url": database_url}, data_dir=tmp_path / "data", jobs={"enabled": False})
        async with running_app(app, demo=False) as client:
            issued = await client.post(TOKEN, json={"username": username, "password": password})
            assert issued.status_code == 200, issued.text
            me = (await client.get(ME, headers=bearer(issued.json()["access_token"]))).json()
            assert me["bindings"][0]["role"] == "county_admin" and me["bindings"][0]["area"] == DEMO_COUNTY

    asyncio.run(check())


def test_admin_create_generates_a_password_that_signs_in(database_url: str, tmp_path: Path) -> None:
    assert run_tulou(database_url, tmp_path, "demo").returncode == 0
    created = run_tulou(database_url, tmp_path, "admin", "create", "chief", "--generate")
    again = run_tulou(database_url, tmp_path, "admin", "create", "chief", "--generate")
    assert created.returncode == 0, created.stderr
    assert again.returncode == 0 and "already exists" in again.stdout
    county_admin_signs_in(database_url, tmp_path, "chief", created.stdout.strip().splitlines()[-1].strip())


def test_admin_create_reads_a_script_s_password_from_stdin(database_url: str, tmp_path: Path) -> None:
    assert run_tulou(database_url, tmp_path, "demo").returncode == 0
    both = run_tulou(database_url, tmp_path, "admin", "create", "chief", "--generate", "--password-stdin", input=PASSWORD)
    weak = run_tulou(database_url, tmp_path, "admin", "create", "chief", "--password-stdin", input="short\n")
    created = run_tulou(database_url, tmp_path, "admin", "create", "chief", "--password-stdin", input=f"{PASSWORD}\n")
    assert both.returncode == 2 and weak.returncode == 1 and "password" in weak.stderr
    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    county_admin_signs_in(database_url, tmp_path, "chief", PASSWORD)


async def test_token_lifetimes_and_lockout_follow_the_settings(serve: Any, settings: dict[str, Any]) -> None:
    identity = {**settings["identity"], "access_token_minutes": 5, "refresh_token_days": 1, "lockout_after_failures": 2}
    async with serve(identity=identity) as client:
        await account(client, "lin", "township_admin")
        issued = await tokens(client, "lin")
        stored = {t.kind.value: t.expires_at - t.created_at for t in await AccessToken.filter(account__username="lin")}
        assert issued["expires_in"] == 300
        assert timedelta(minutes=4) < stored["access"] <= timedelta(minutes=5)
        assert timedelta(hours=23) < stored["refresh"] <= timedelta(days=1)
        for _ in range(2):
            await login(client, "lin", "not the password at all")
        assert (await Account.get(username="lin")).locked_until is not None
