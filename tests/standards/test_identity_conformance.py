"""Conformance of the identity standard (``standards/identity/``), over HTTP.

A vendor's implementation passes when these answers hold: every response body
validates against its JSON Schema, personal numbers are masked as the spec says,
and errors are RFC 9457 problem bodies. The schemas are checked against the
msgspec Structs they are generated from, and the examples against the schemas.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from litestar import Litestar
from tulou.identity.resident_id import check_character

from tests.conftest import (
    ADMIN,
    DEMO_COUNTY,
    NANYANG_VILLAGE,
    SHANGPING_VILLAGE,
    YUNXI_TOWN,
    AppClient,
    running_app,
)
from tests.standards.schema_check import errors
from tests.standards.standard import Standard

IDENTITY = Standard("identity")
STANDARD, SCHEMAS, EXAMPLES = IDENTITY.root, IDENTITY.schemas, IDENTITY.examples
schema, conforms, problem, load_generator = IDENTITY.schema, IDENTITY.conforms, IDENTITY.problem, IDENTITY.generator
PASSWORD = "plum blossom in the rain"
MASKED_RESIDENT_ID = re.compile(r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$")
MASKED_MOBILE = re.compile(r"^1[3-9][0-9]\*{4}[0-9]{4}$")


def resident_id(serial: int, birth: str = "19580314") -> str:
    first = f"350899{birth}{serial:03d}"
    return first + check_character(first)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AppClient]:
    async with running_app(make_app()) as test_client:
        yield test_client


async def signed_in(client: AppClient, username: str, role: str, area: str = YUNXI_TOWN) -> dict[str, str]:
    """An account holding ``role`` in ``area``'s subtree, signed in: its bearer header."""
    created = await client.post("/api/v1/accounts/", json={"username": username, "password": PASSWORD, "area": area},
                                headers=ADMIN)
    account = conforms(created, "account-out", 201)
    binding = {"account": account["id"], "role": role, "area": area}
    conforms(await client.post("/api/v1/role-bindings/", json=binding, headers=ADMIN), "binding-out", 201)
    login = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    return bearer(conforms(login, "token-out", 200)["access_token"])


# The documents of the standard


def test_committed_schemas_are_what_the_code_generates() -> None:
    generated = {name: load_generator().render(body) for name, body in load_generator().generated().items()}
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS.glob("*.schema.json")}
    assert committed.pop("problem.schema.json")
    assert committed == generated, "run standards/identity/generate_schemas.py and commit its output"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_validates_against_its_schema(example: str) -> None:
    """``<schema>.<label>.json`` is an example of ``schemas/<schema>.schema.json``."""
    document = json.loads((EXAMPLES / example).read_text(encoding="utf-8"))
    assert errors(document, schema(example.split(".")[0])) == []


def test_the_schemas_reject_what_the_spec_forbids() -> None:
    person = json.loads((EXAMPLES / "person-out.masked.json").read_text(encoding="utf-8"))
    assert errors({**person, "masked": "yes"}, schema("person-out")) == ['$.masked: "yes" is not of type "boolean"']
    assert errors({"name": "林", "resident_id": "x", "home_area": "1", "nickname": "x"}, schema("person-in")) == [
        "$: Additional properties are not allowed ('nickname' was unexpected)"
    ]
    assert errors({"type": "about:blank", "title": "x", "status": 200, "instance": "/"}, schema("problem")) == [
        '$: "detail" is a required property',
        '$.type: "about:blank" does not match "^urn:tulou:problem:[a-z][a-z0-9-]*$"',
        "$.status: 200 is less than the minimum of 400",
    ]
    assert errors({**person, "birth_date": "1958-13-40"}, schema("person-out")) != [], "formats are checked"


IDENTITY_PREFIXES = ("/api/v1/areas", "/api/v1/auth", "/api/v1/me", "/api/v1/accounts", "/api/v1/role-bindings",
                     "/api/v1/roles", "/api/v1/people", "/api/v1/organisations", "/api/v1/households",
                     "/api/v1/clients", "/api/v1/oauth", "/api/v1/person-tags")


@pytest.mark.parametrize("spec", ["spec.en.md", "spec.zh.md"])
def test_the_spec_lists_every_identity_endpoint_and_only_those(spec: str, make_app: Callable[..., Litestar]) -> None:
    """Module switches (``/api/v1/areas/{code}/modules``) belong to the plugin standard, not this one."""
    IDENTITY.check_endpoint_table(make_app(plugins=[]), spec,
                                  lambda path: path.startswith(IDENTITY_PREFIXES) and "/modules" not in path)


# Areas


async def test_areas_list_tree_and_detail_conform(client: AppClient) -> None:
    page = conforms(await client.get("/api/v1/areas/", params={"within": DEMO_COUNTY}), "area-page", 200)
    assert page["total"] > 0 and all(re.fullmatch(r"[0-9]{12}", a["code"]) for a in page["items"])
    conforms(await client.get("/api/v1/areas/", params={"format": "tree"}), "area-tree", 200)
    detail = conforms(await client.get(f"/api/v1/areas/{SHANGPING_VILLAGE}"), "area-detail", 200)
    assert detail["level"] == "village" and detail["parent"] == YUNXI_TOWN
    assert [a["code"] for a in detail["ancestors"]][-1] == YUNXI_TOWN


async def test_an_unknown_area_is_a_404_problem(client: AppClient) -> None:
    body = problem(await client.get("/api/v1/areas/350899999999"), 404)
    assert body["type"] == "urn:tulou:problem:not-found"


# Authentication


async def test_refresh_rotates_and_a_replayed_refresh_token_revokes_everything(client: AppClient) -> None:
    await signed_in(client, "lin", "township_staff")
    issued = conforms(await client.post("/api/v1/auth/token", json={"username": "lin", "password": PASSWORD}),
                      "token-out", 200)
    assert issued["token_type"] == "Bearer" and issued["expires_in"] > 0
    rotated = conforms(await client.post("/api/v1/auth/refresh", json={"refresh_token": issued["refresh_token"]}),
                       "token-out", 200)
    assert rotated["refresh_token"] != issued["refresh_token"]
    me = conforms(await client.get("/api/v1/me/", headers=bearer(rotated["access_token"])), "me-out", 200)
    assert me["account"]["username"] == "lin" and me["grants"][0]["area"] == YUNXI_TOWN
    problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": issued["refresh_token"]}), 401)
    # A replayed refresh token means one of its two holders is a thief: every token of the account dies.
    problem(await client.get("/api/v1/me/", headers=bearer(rotated["access_token"])), 401)


async def test_logout_ends_the_access_token(client: AppClient) -> None:
    headers = await signed_in(client, "lin", "township_staff")
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    refused = await client.get("/api/v1/me/", headers=headers)
    problem(refused, 401)
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_wrong_password_and_missing_token_are_401_problems(client: AppClient) -> None:
    await signed_in(client, "lin", "township_staff")
    problem(await client.post("/api/v1/auth/token", json={"username": "lin", "password": "not it at all"}), 401)
    anonymous = await client.get("/api/v1/people/")
    problem(anonymous, 401)
    assert anonymous.headers["www-authenticate"] == "Bearer"


# People


async def test_people_are_masked_unless_the_caller_may_read_sensitive_data(client: AppClient) -> None:
    staff = await signed_in(client, "lin", "township_staff")
    number = resident_id(1)
    body = {"name": "林秀英", "resident_id": number, "home_area": SHANGPING_VILLAGE, "phone": "+86 138-1234-5678"}
    created = conforms(await client.post("/api/v1/people/", json=body, headers=staff), "person-out", 201)
    assert created["masked"] is True
    assert MASKED_RESIDENT_ID.fullmatch(created["resident_id"]) and created["resident_id"] == number[:6] + "*" * 8 + number[-4:]
    assert MASKED_MOBILE.fullmatch(created["phone"]) and created["phone"] == "138****5678"
    assert created["birth_date"] is None and created["sex"] == "male"
    found = conforms(await client.get("/api/v1/people/", params={"name": "秀"}, headers=staff), "person-page", 200)
    assert [p["resident_id"] for p in found["items"]] == [created["resident_id"]]
    full = conforms(await client.get(f"/api/v1/people/{created['id']}", params={"purpose": "conformance"},
                                     headers=ADMIN), "person-out", 200)
    assert full["masked"] is False and (full["resident_id"], full["phone"]) == (number, "13812345678")
    assert full["birth_date"] == "1958-03-14"


async def test_bad_input_is_a_problem_naming_the_field(client: AppClient) -> None:
    staff = await signed_in(client, "lin", "township_staff")
    typo = resident_id(1)[:17] + ("0" if resident_id(1)[17] != "0" else "1")
    body = {"name": "林秀英", "resident_id": typo, "home_area": SHANGPING_VILLAGE}
    invalid = problem(await client.post("/api/v1/people/", json=body, headers=staff), 422)
    assert [e["field"] for e in invalid["errors"]] == ["resident_id"]
    malformed = problem(await client.post("/api/v1/people/", json={"name": "林秀英"}, headers=staff), 400)
    assert malformed["errors"] and all(e["field"] for e in malformed["errors"])


async def test_outside_the_callers_subtree_is_404_and_a_missing_permission_is_403(client: AppClient) -> None:
    staff = await signed_in(client, "lin", "township_staff")
    elsewhere = {"name": "陈", "resident_id": resident_id(2), "home_area": NANYANG_VILLAGE}
    outside = problem(await client.post("/api/v1/people/", json=elsewhere, headers=staff), 404)
    assert [e["field"] for e in outside["errors"]] == ["home_area"]
    committee = await signed_in(client, "wu", "village_committee", SHANGPING_VILLAGE)
    here = {"name": "陈", "resident_id": resident_id(3), "home_area": SHANGPING_VILLAGE}
    refused = problem(await client.post("/api/v1/people/", json=here, headers=committee), 403)
    assert "person:write" in refused["detail"]


async def test_nobody_grants_more_than_they_hold(client: AppClient) -> None:
    admin = await signed_in(client, "lin", "township_admin")
    other = conforms(await client.post("/api/v1/accounts/", json={"username": "wu", "password": PASSWORD,
                                                                   "area": YUNXI_TOWN}, headers=admin), "account-out", 201)
    for role in ("county_admin", "data_steward"):
        binding = {"account": other["id"], "role": role, "area": YUNXI_TOWN}
        refused = problem(await client.post("/api/v1/role-bindings/", json=binding, headers=admin), 403)
        assert [e["field"] for e in refused["errors"]] == ["role"]
    granted = {"account": other["id"], "role": "village_committee", "area": SHANGPING_VILLAGE}
    conforms(await client.post("/api/v1/role-bindings/", json=granted, headers=admin), "binding-out", 201)


# Administering accounts and roles


async def test_account_administration_conforms(client: AppClient) -> None:
    admin = await signed_in(client, "lin", "township_admin")
    created = await client.post("/api/v1/accounts/", json={"username": "wu", "password": PASSWORD, "area": YUNXI_TOWN},
                                headers=admin)
    wu = conforms(created, "account-out", 201)
    assert wu["home_area"] == YUNXI_TOWN and wu["status"] == "active"
    page = conforms(await client.get("/api/v1/accounts/", params={"username": "w"}, headers=admin), "account-page", 200)
    assert [a["username"] for a in page["items"]] == ["wu"]
    disabled = conforms(await client.post(f"/api/v1/accounts/{wu['id']}/disable", headers=admin), "account-out", 200)
    assert disabled["status"] == "disabled"
    problem(await client.post("/api/v1/auth/token", json={"username": "wu", "password": PASSWORD}), 401)
    conforms(await client.post(f"/api/v1/accounts/{wu['id']}/enable", headers=admin), "account-out", 200)
    reset = await client.post(f"/api/v1/accounts/{wu['id']}/password", json={"generate": True}, headers=admin)
    generated = conforms(reset, "password-reset-out", 200)["generated_password"]
    conforms(await client.post("/api/v1/auth/token", json={"username": "wu", "password": generated}), "token-out", 200)
    bindings = conforms(await client.get("/api/v1/role-bindings/", headers=admin), "binding-page", 200)
    assert [b["role"] for b in bindings["items"]] == ["township_admin"]
    myself = conforms(await client.get("/api/v1/me/", headers=admin), "me-out", 200)["account"]["id"]
    refused = problem(await client.post(f"/api/v1/accounts/{myself}/disable", headers=admin), 403)
    assert [e["field"] for e in refused["errors"]] == ["account_id"]


async def test_roles_conform(client: AppClient) -> None:
    staff = await signed_in(client, "lin", "township_staff")
    roles = conforms(await client.get("/api/v1/roles/", headers=staff), "role-list", 200)
    assert {"county_admin", "township_admin", "kiosk"} <= {r["name"] for r in roles} and all(r["builtin"] for r in roles)
    example = json.loads((EXAMPLES / "role-in.clinic-clerk.json").read_text(encoding="utf-8"))
    problem(await client.post("/api/v1/roles/", json=example, headers=staff), 403)
    created = conforms(await client.post("/api/v1/roles/", json=example, headers=ADMIN), "role-out", 201)
    assert created["builtin"] is False and created["permissions"] == sorted(example["permissions"])
    unknown = problem(await client.patch("/api/v1/roles/clinic_clerk", json={"permissions": ["person:fly"]},
                                         headers=ADMIN), 422)
    assert [e["field"] for e in unknown["errors"]] == ["permissions"]
    conforms(await client.get("/api/v1/roles/clinic_clerk", headers=staff), "role-out", 200)
    builtin = problem(await client.delete("/api/v1/roles/township_staff", headers=ADMIN), 409)
    assert [e["field"] for e in builtin["errors"]] == ["name"]
    assert (await client.delete("/api/v1/roles/clinic_clerk", headers=ADMIN)).status_code == 204


# Organisations and households


async def test_organisations_and_households_conform(client: AppClient) -> None:
    staff = await signed_in(client, "lin", "township_admin")
    organisation = {"name": "上坪村村民委员会", "kind": "village_committee", "area": SHANGPING_VILLAGE}
    conforms(await client.post("/api/v1/organisations/", json=organisation, headers=staff), "organisation-out", 201)
    conforms(await client.get("/api/v1/organisations/", headers=staff), "organisation-page", 200)
    household = conforms(await client.post("/api/v1/households/", json={"number": "001", "village": SHANGPING_VILLAGE},
                                            headers=staff), "household-out", 201)
    person = conforms(await client.post("/api/v1/people/", headers=staff, json={
        "name": "林秀英", "resident_id": resident_id(4), "home_area": SHANGPING_VILLAGE}), "person-out", 201)
    members = f"/api/v1/households/{household['id']}/members"
    joined = conforms(await client.post(members, json={"person": person["id"]}, headers=staff), "household-out", 200)
    assert [m["id"] for m in joined["members"]] == [person["id"]]
    conforms(await client.get("/api/v1/households/", params={"village": SHANGPING_VILLAGE}, headers=staff),
             "household-page", 200)


# System clients and the client-credentials grant


async def registered_client(client: AppClient, headers: dict[str, str], scopes: list[str]) -> dict[str, Any]:
    """A vendor's client in YUNXI_TOWN, registered by ``headers``: the ``client-secret-out`` answer."""
    vendor = {"name": "云溪智慧农业有限公司", "kind": "vendor", "area": YUNXI_TOWN}
    organisation = conforms(await client.post("/api/v1/organisations/", json=vendor, headers=ADMIN), "organisation-out", 201)
    body = {"name": "灌溉监测系统", "organisation": organisation["id"], "area": YUNXI_TOWN, "scopes": scopes}
    return conforms(await client.post("/api/v1/clients/", json=body, headers=headers), "client-secret-out", 201)


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 2.3.1: id and secret form-urlencoded, then HTTP Basic."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def oauth_problem(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    body = problem(response, status)
    assert body["error"] == error and body["type"] == "urn:tulou:problem:oauth-" + error.replace("_", "-")
    return body


async def test_a_client_gets_a_token_and_acts_within_its_scopes_and_area(client: AppClient) -> None:
    admin = await signed_in(client, "lin", "township_admin")
    registration = await registered_client(client, admin, ["person:read"])
    form = {"grant_type": "client_credentials", "scope": "person:read"}
    issued = await client.post("/api/v1/oauth/token", data=form,
                               headers=basic(registration["client_id"], registration["client_secret"]))
    token = conforms(issued, "client-token-out", 200)
    assert issued.headers["cache-control"] == "no-store"
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0 and token["scope"] == "person:read"
    body = {"name": "林秀英", "resident_id": resident_id(5), "home_area": SHANGPING_VILLAGE}
    created = conforms(await client.post("/api/v1/people/", json=body, headers=ADMIN), "person-out", 201)
    as_client = bearer(token["access_token"])
    read = conforms(await client.get(f"/api/v1/people/{created['id']}", headers=as_client), "person-out", 200)
    assert read["masked"] is True
    problem(await client.post("/api/v1/people/", json=body, headers=as_client), 403)
    elsewhere = {"name": "陈", "resident_id": resident_id(6), "home_area": NANYANG_VILLAGE}
    other = conforms(await client.post("/api/v1/people/", json=elsewhere, headers=ADMIN), "person-out", 201)
    problem(await client.get(f"/api/v1/people/{other['id']}", headers=as_client), 404)


async def test_client_registration_conforms_and_the_secret_is_shown_once(client: AppClient) -> None:
    admin = await signed_in(client, "lin", "township_admin")
    registration = await registered_client(client, admin, ["person:read", "household:read"])
    assert registration["scopes"] == ["household:read", "person:read"] and registration["status"] == "active"
    url = f"/api/v1/clients/{registration['id']}"
    answers = [
        conforms(await client.get("/api/v1/clients/", headers=admin), "client-page", 200),
        conforms(await client.get(url, headers=admin), "client-out", 200),
        conforms(await client.patch(url, json={"scopes": ["person:read"]}, headers=admin), "client-out", 200),
        conforms(await client.post(f"{url}/disable", headers=admin), "client-out", 200),
        conforms(await client.post(f"{url}/enable", headers=admin), "client-out", 200),
    ]
    assert all(registration["client_secret"] not in json.dumps(answer) for answer in answers)
    rotated = conforms(await client.post(f"{url}/rotate-secret", headers=admin), "client-secret-out", 200)
    assert rotated["client_secret"] != registration["client_secret"]
    refused = problem(await client.post("/api/v1/clients/", headers=admin, json={
        "name": "x", "organisation": registration["organisation"], "area": YUNXI_TOWN,
        "scopes": ["person:read_sensitive"]}), 403)
    assert [e["field"] for e in refused["errors"]] == ["scopes"]


async def test_token_endpoint_errors_are_oauth_errors_and_problems(client: AppClient) -> None:
    registration = await registered_client(client, ADMIN, ["person:read"])
    credentials = basic(registration["client_id"], registration["client_secret"])
    token = "/api/v1/oauth/token"
    wrong = await client.post(token, data={"grant_type": "client_credentials"},
                              headers=basic(registration["client_id"], "wrong"))
    unknown = await client.post(token, data={"grant_type": "client_credentials"}, headers=basic("tlc_unknown", "x"))
    same = [{k: v for k, v in oauth_problem(r, 401, "invalid_client").items() if k != "request_id"} for r in (wrong, unknown)]
    assert same[0] == same[1]
    assert wrong.headers["www-authenticate"].startswith("Basic")
    oauth_problem(await client.post(token, json={"grant_type": "client_credentials"}, headers=credentials),
                  400, "invalid_request")
    oauth_problem(await client.post(token, data={"grant_type": "password"}, headers=credentials),
                  400, "unsupported_grant_type")
    oauth_problem(await client.post(token, data={"grant_type": "client_credentials", "scope": "person:write"},
                                    headers=credentials), 400, "invalid_scope")
