"""System clients over HTTP: registration, the client-credentials grant, scoped access and revocation."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import ADMIN, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN, builtin_plugins
from tests.core.test_accounts import account, bearer, problem, tokens
from tests.core.test_people import person
from tulou.audit.models import AuditEntry
from tulou.identity import clients as client_service
from tulou.identity.accounts_models import Client, ClientToken
from tulou.security.principal_cache import principals_changed

CLIENTS, TOKEN, PEOPLE, ME = "/api/v1/clients/", "/api/v1/oauth/token", "/api/v1/people/", "/api/v1/me/"
MEILIN_VILLAGE = "350899200201"
FORM = {"grant_type": "client_credentials"}


@pytest.fixture
async def client(serve: Any) -> Any:
    async with serve() as test_client:
        yield test_client


async def vendor(client: Any, area: str = YUNXI_TOWN) -> int:
    """A vendor organisation registered in ``area``: its id."""
    created = await client.post("/api/v1/organisations/", json={"name": "云溪智慧农业有限公司", "kind": "vendor", "area": area},
                                headers=ADMIN)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def register(client: Any, scopes: list[str], area: str = YUNXI_TOWN, headers: dict[str, str] = ADMIN,
                   organisation: int | None = None) -> Any:
    body = {"name": "灌溉监测系统", "organisation": organisation or await vendor(client, area), "area": area, "scopes": scopes}
    return await client.post(CLIENTS, json=body, headers=headers)


async def registered(client: Any, scopes: list[str], area: str = YUNXI_TOWN) -> dict[str, Any]:
    created = await register(client, scopes, area)
    assert created.status_code == 201, created.text
    return created.json()


def basic(client_id: str, secret: str) -> dict[str, str]:
    """An HTTP Basic header, id and secret form-urlencoded first as RFC 6749 2.3.1 says."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


async def token_response(client: Any, registration: dict[str, Any], **form: str) -> Any:
    return await client.post(TOKEN, data={**FORM, **form},
                             headers=basic(registration["client_id"], registration["client_secret"]))


async def access(client: Any, registration: dict[str, Any], **form: str) -> dict[str, str]:
    """A bearer header with a fresh token of the registered client."""
    issued = await token_response(client, registration, **form)
    assert issued.status_code == 200, issued.text
    return bearer(issued.json()["access_token"])


async def test_a_vendor_client_reads_only_its_township_and_masked(client: Any) -> None:
    mine = (await client.post(PEOPLE, json=person(11, village=SHANGPING_VILLAGE), headers=ADMIN)).json()
    theirs = (await client.post(PEOPLE, json=person(12, village=MEILIN_VILLAGE), headers=ADMIN)).json()
    headers = await access(client, await registered(client, ["person:read"]))
    read = await client.get(f"{PEOPLE}{mine['id']}", params={"purpose": "irrigation"}, headers=headers)
    assert read.status_code == 200 and read.json()["masked"] and "*" in read.json()["resident_id"]
    assert (await client.get(f"{PEOPLE}{theirs['id']}", headers=headers)).status_code == 404
    search = (await client.get(PEOPLE, params={"name": "林"}, headers=headers)).json()
    assert [item["id"] for item in search["items"]] == [mine["id"]] and search["items"][0]["masked"]
    assert (await client.post(PEOPLE, json=person(13), headers=headers)).status_code == 403
    assert (await client.patch(f"{PEOPLE}{mine['id']}", json={"tags": ["x"]}, headers=headers)).status_code == 403
    me = (await client.get(ME, headers=headers)).json()
    assert me["principal"].startswith("client:") and me["grants"] == [{"area": YUNXI_TOWN, "permissions": ["person:read"]}]


async def test_the_token_response_follows_rfc_6749(client: Any) -> None:
    registration = await registered(client, ["household:read", "person:read"])
    issued = await token_response(client, registration)
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "household:read person:read" and body["access_token"].startswith("tlc.")
    narrow = (await token_response(client, registration, scope="person:read")).json()
    assert narrow["scope"] == "person:read"
    me = (await client.get(ME, headers=bearer(narrow["access_token"]))).json()
    assert me["grants"][0]["permissions"] == ["person:read"]
    stored = await ClientToken.all()
    assert len(stored) == 2 and {t.token_hash for t in stored}.isdisjoint({body["access_token"], narrow["access_token"]})


async def test_the_client_may_authenticate_in_the_body_instead(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    form = {**FORM, "client_id": registration["client_id"], "client_secret": registration["client_secret"]}
    issued = await client.post(TOKEN, data=form)
    assert issued.status_code == 200, issued.text
    assert (await client.get(ME, headers=bearer(issued.json()["access_token"]))).status_code == 200


def oauth_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The problem body of a token endpoint error, after checking it carries OAuth's ``error`` code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = problem(response)
    assert body["error"] == code and body["status"] == status
    assert body["type"] == "urn:tulou:problem:oauth-" + code.replace("_", "-")
    return body


async def test_unknown_wrong_and_disabled_clients_get_the_same_answer(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    disabled = await registered(client, ["person:read"])
    assert (await client.post(f"{CLIENTS}{disabled['id']}/disable", headers=ADMIN)).status_code == 200
    answers = [
        await client.post(TOKEN, data=FORM, headers=basic("tlc_nobody", registration["client_secret"])),
        await client.post(TOKEN, data=FORM, headers=basic(registration["client_id"], "not the secret")),
        await token_response(client, disabled),
        await client.post(TOKEN, data=FORM),
        await client.post(TOKEN, data=FORM, headers={"Authorization": "Basic not-base64!"}),
        await client.post(TOKEN, data={**FORM, "client_id": registration["client_id"], "client_secret": "nope"}),
    ]
    bodies = [oauth_error(answer, 401, "invalid_client") for answer in answers]
    assert all(body == bodies[0] for body in bodies)
    assert all(answer.headers["www-authenticate"].startswith("Basic ") for answer in answers)
    failures = await AuditEntry.filter(action="auth.client_failed").order_by("id")
    assert [f.detail["reason"] for f in failures] == [
        "unknown_client", "wrong_secret", "disabled", "no_credentials", "no_credentials", "wrong_secret"]
    assert failures[0].actor == "anonymous" and "tlc_nobody" not in str(failures[0].detail)
    assert failures[1].actor == f"client:{registration['id']}"


async def test_malformed_token_requests_are_invalid_request(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    credentials = basic(registration["client_id"], registration["client_secret"])
    as_json = await client.post(TOKEN, json=FORM, headers=credentials)
    no_grant = await client.post(TOKEN, data={"scope": "person:read"}, headers=credentials)
    repeated = await client.post(TOKEN, content=b"grant_type=client_credentials&scope=a&scope=b",
                                 headers={**credentials, "Content-Type": "application/x-www-form-urlencoded"})
    both = await client.post(TOKEN, data={**FORM, "client_id": registration["client_id"],
                                          "client_secret": registration["client_secret"]}, headers=credentials)
    for answer in (as_json, no_grant, repeated, both):
        oauth_error(answer, 400, "invalid_request")
    assert [e["field"] for e in problem(repeated)["errors"]] == ["scope"]
    assert await ClientToken.all().count() == 0


async def test_other_grants_and_scopes_beyond_the_clients_are_refused(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    password = await token_response(client, registration, grant_type="password")
    oauth_error(password, 400, "unsupported_grant_type")
    for scope in ("person:write", "person:read person:write", "   "):
        oauth_error(await token_response(client, registration, scope=scope), 400, "invalid_scope")
    assert await ClientToken.all().count() == 0


async def test_the_secret_is_shown_once(client: Any) -> None:
    created = await registered(client, ["person:read"])
    secret = created["client_secret"]
    assert len(secret) >= 40 and created["client_id"].startswith("tlc_")
    later = [
        await client.get(f"{CLIENTS}{created['id']}", headers=ADMIN),
        await client.get(CLIENTS, headers=ADMIN),
        await client.patch(f"{CLIENTS}{created['id']}", json={"name": "新名字"}, headers=ADMIN),
        await client.post(f"{CLIENTS}{created['id']}/disable", headers=ADMIN),
        await client.post(f"{CLIENTS}{created['id']}/enable", headers=ADMIN),
    ]
    assert all(r.status_code == 200 and secret not in r.text and "client_secret" not in r.text for r in later)
    stored = await Client.get(id=created["id"])
    assert stored.secret_hash != secret and secret not in str(await AuditEntry.all().values_list("detail", flat=True))


async def test_rotating_the_secret_kills_the_old_secret_and_its_tokens(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    headers = await access(client, registration)
    assert (await client.get(ME, headers=headers)).status_code == 200  # now the principal is cached
    rotated = await client.post(f"{CLIENTS}{registration['id']}/rotate-secret", headers=ADMIN)
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != registration["client_secret"]
    assert (await client.get(ME, headers=headers)).status_code == 401
    oauth_error(await token_response(client, registration), 401, "invalid_client")
    assert (await client.get(ME, headers=await access(client, rotated.json()))).status_code == 200


async def test_disabling_kills_tokens_and_enabling_does_not_revive_them(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    headers = await access(client, registration)
    assert (await client.get(ME, headers=headers)).status_code == 200  # now the principal is cached
    disabled = await client.post(f"{CLIENTS}{registration['id']}/disable", headers=ADMIN)
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    assert (await client.get(ME, headers=headers)).status_code == 401
    enabled = await client.post(f"{CLIENTS}{registration['id']}/enable", headers=ADMIN)
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert (await client.get(ME, headers=headers)).status_code == 401
    assert (await client.get(ME, headers=await access(client, registration))).status_code == 200


async def test_narrowing_scopes_kills_tokens_and_widening_does_not(client: Any) -> None:
    registration = await registered(client, ["household:read", "person:read"])
    url = f"{CLIENTS}{registration['id']}"
    headers = await access(client, registration)
    widened = await client.patch(url, json={"scopes": ["household:read", "person:read", "organisation:read"]}, headers=ADMIN)
    assert widened.status_code == 200 and widened.json()["scopes"] == ["household:read", "organisation:read", "person:read"]
    assert (await client.get(ME, headers=headers)).status_code == 200
    narrowed = await client.patch(url, json={"scopes": ["household:read"]}, headers=ADMIN)
    assert narrowed.status_code == 200 and narrowed.json()["scopes"] == ["household:read"]
    assert (await client.get(ME, headers=headers)).status_code == 401
    oauth_error(await token_response(client, registration, scope="person:read"), 400, "invalid_scope")
    changed = await AuditEntry.filter(action="client.changed").order_by("id")
    assert [c.detail["scopes_removed"] for c in changed] == [[], ["organisation:read", "person:read"]]


async def test_revocation_reaches_cached_principals_after_the_commit(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``principals_changed`` runs once the revocation is committed, so no cache re-reads a live token."""
    seen: list[bool] = []

    async def principals_changed() -> None:
        seen.append(not await ClientToken.filter(revoked=False).exists())

    monkeypatch.setattr(client_service, "principals_changed", principals_changed)
    registration = await registered(client, ["household:read", "person:read"])
    url = f"{CLIENTS}{registration['id']}"
    await access(client, registration)
    await client.patch(url, json={"name": "改名不吊销"}, headers=ADMIN)
    assert seen == []
    await client.patch(url, json={"scopes": ["person:read"]}, headers=ADMIN)
    await access(client, registration)
    await client.post(f"{url}/rotate-secret", headers=ADMIN)
    rotated = (await Client.get(id=registration["id"]))
    assert rotated.token_version == 2
    await client.post(f"{url}/disable", headers=ADMIN)
    assert seen == [True, True, True]


async def test_expired_revoked_outdated_and_tampered_tokens_are_refused(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    headers = await access(client, registration)
    good = headers["Authorization"].removeprefix("Bearer ")
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert (await client.get(ME, headers=bearer(tampered))).status_code == 401
    assert (await client.get(ME, headers=headers)).status_code == 200
    # Hand edits of the tables below: the principal cache would trust what it saw before them.
    await ClientToken.all().update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    await principals_changed()
    assert (await client.get(ME, headers=headers)).status_code == 401
    revoked, outdated = await access(client, registration), await access(client, registration)
    await ClientToken.filter(id=(await ClientToken.all().order_by("id"))[1].id).update(revoked=True)
    assert [(await client.get(ME, headers=h)).status_code for h in (revoked, outdated)] == [401, 200]
    # A token issued while a revocation ran carries the old version: it dies with the others.
    await Client.filter(id=registration["id"]).update(token_version=7)
    await principals_changed()
    assert (await client.get(ME, headers=outdated)).status_code == 401


async def test_nobody_gives_a_client_more_than_they_hold(client: Any) -> None:
    await account(client, "lin", "township_admin")
    admin = bearer((await tokens(client, "lin"))["access_token"])
    sensitive = await register(client, ["person:read", "person:read_sensitive"], headers=admin)
    refused = problem(sensitive)
    assert sensitive.status_code == 403 and [e["field"] for e in refused["errors"]] == ["scopes"]
    for scopes in (["*"], ["person:fly"], []):
        unknown = await register(client, scopes, headers=admin)
        assert unknown.status_code == 422 and problem(unknown)["errors"][0]["field"] == "scopes", scopes
    assert (await register(client, ["person:read"], area=SHIMEN_TOWN, headers=admin)).status_code == 404
    elsewhere = await register(client, ["person:read"], headers=admin, organisation=await vendor(client, SHIMEN_TOWN))
    assert elsewhere.status_code == 422 and problem(elsewhere)["errors"][0]["field"] == "organisation"
    mine = await register(client, ["person:read", "client:read"], headers=admin)
    assert mine.status_code == 201, mine.text
    widen = await client.patch(f"{CLIENTS}{mine.json()['id']}", json={"scopes": ["person:read_sensitive"]}, headers=admin)
    assert widen.status_code == 403
    await account(client, "wu", "township_staff")
    staff = bearer((await tokens(client, "wu"))["access_token"])
    assert (await register(client, ["person:read"], headers=staff)).status_code == 403


async def test_whoever_could_act_as_a_client_must_hold_its_scopes(client: Any) -> None:
    """Rotating or enabling hands the caller a working client, so it follows the creation rule; disabling does not."""
    steward = await registered(client, ["person:read", "person:read_sensitive"])
    await account(client, "lin", "township_admin")
    admin = bearer((await tokens(client, "lin"))["access_token"])
    url = f"{CLIENTS}{steward['id']}"
    assert (await client.post(f"{url}/rotate-secret", headers=admin)).status_code == 403
    assert (await client.post(f"{url}/disable", headers=admin)).status_code == 200
    assert (await client.post(f"{url}/enable", headers=admin)).status_code == 403
    assert (await client.patch(url, json={"scopes": ["person:read"]}, headers=admin)).status_code == 200


async def test_clients_are_listed_and_read_only_within_the_callers_areas(client: Any) -> None:
    yunxi = await registered(client, ["person:read"])
    shimen = await registered(client, ["person:read"], area=SHIMEN_TOWN)
    await account(client, "lin", "township_admin")
    admin = bearer((await tokens(client, "lin"))["access_token"])
    listed = (await client.get(CLIENTS, headers=admin)).json()
    assert [c["id"] for c in listed["items"]] == [yunxi["id"]] and listed["total"] == 1
    assert (await client.get(f"{CLIENTS}{shimen['id']}", headers=admin)).status_code == 404
    assert (await client.post(f"{CLIENTS}{shimen['id']}/disable", headers=admin)).status_code == 404
    everything = (await client.get(CLIENTS, params={"limit": 1000}, headers=ADMIN)).json()
    assert everything["total"] == 2 and everything["limit"] == 200
    by_area = (await client.get(CLIENTS, params={"area": SHIMEN_TOWN}, headers=ADMIN)).json()
    assert [c["id"] for c in by_area["items"]] == [shimen["id"]]
    await account(client, "wu", "auditor")
    auditor = bearer((await tokens(client, "wu"))["access_token"])
    assert (await client.get(CLIENTS, headers=auditor)).status_code == 403


async def test_a_plugins_permission_is_a_scope(serve: Any) -> None:
    async with serve(plugins=builtin_plugins()) as app_client:
        created = await register(app_client, ["notices:publish"])
        assert created.status_code == 201, created.text
        me = (await app_client.get(ME, headers=await access(app_client, created.json()))).json()
        assert me["grants"][0]["permissions"] == ["notices:publish"]


async def test_every_change_and_sign_in_is_audited(client: Any) -> None:
    registration = await registered(client, ["person:read"])
    url = f"{CLIENTS}{registration['id']}"
    await access(client, registration)
    await client.patch(url, json={"name": "新名字"}, headers=ADMIN)
    await client.post(f"{url}/rotate-secret", headers=ADMIN)
    await client.post(f"{url}/disable", headers=ADMIN)
    await client.post(f"{url}/enable", headers=ADMIN)
    entries = await AuditEntry.filter(target_type="client").order_by("id")
    assert [e.action for e in entries] == [
        "client.created", "auth.client_token", "client.changed", "client.secret_rotated", "client.disabled",
        "client.enabled",
    ]
    assert {e.area_code for e in entries} == {YUNXI_TOWN} and {e.target_id for e in entries} == {str(registration["id"])}
    assert entries[0].detail["scopes"] == ["person:read"] and entries[1].actor == f"client:{registration['id']}"
