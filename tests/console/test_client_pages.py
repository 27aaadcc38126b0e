"""The system clients page: the secret is shown once, in the answer to the form, and never again."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, AppClient
from tests.console.conftest import Browser, staff
from tulou.audit.models import AuditEntry
from tulou.identity.accounts_models import Client, ClientStatus
from tulou.identity.auth import token_hash

SECRET = re.compile(r'<code class="secret" id="client-secret">([^<]+)</code>')


async def signed_in(open_browser: Any, username: str) -> Browser:
    browser = open_browser()
    assert (await browser.sign_in(username)).status_code == 303
    return browser


async def organisation(console: AppClient, name: str, area: str) -> int:
    made = await console.post("/api/v1/organisations/", headers=ADMIN, json={"name": name, "kind": "vendor", "area": area})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def test_a_new_clients_secret_is_shown_once_and_works(
    console: AppClient, open_browser: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor = await organisation(console, "云溪物联", SHANGPING_VILLAGE)
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    form = (await lin.open("/console/clients")).text
    assert 'value="person:read"' in form and 'value="role:manage"' not in form  # only what lin holds
    made = await lin.submit("/console/clients", {"name": "灌溉平台", "organisation": str(vendor),
                                                  "area": SHANGPING_VILLAGE, "scopes": ["device:read", "telemetry:read"]})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    secret = SECRET.search(made.text).group(1)  # type: ignore[union-attr]
    client = await Client.get(name="灌溉平台")
    assert client.secret_hash == token_hash(secret) and secret not in client.secret_hash
    assert sorted(client.scopes) == ["device:read", "telemetry:read"]
    token = await console.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client.client_id, secret))
    assert token.status_code == 200, token.text
    for page in ("/console/clients", f"/console/clients/{client.id}"):
        assert secret not in (await lin.open(page)).text
    assert secret not in caplog.text
    assert all(secret not in str(entry.detail) for entry in await AuditEntry.filter(target_type="client"))


async def test_rotating_the_secret_shows_the_new_one_once_and_kills_the_old(console: AppClient, open_browser: Any) -> None:
    vendor = await organisation(console, "云溪物联", SHANGPING_VILLAGE)
    made = await console.post("/api/v1/clients/", headers=ADMIN, json={
        "name": "灌溉平台", "organisation": vendor, "area": SHANGPING_VILLAGE, "scopes": ["device:read"]})
    old = made.json()["client_secret"]
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    page = (await lin.open(f"/console/clients/{made.json()['id']}")).text
    assert old not in page and "rotate-secret" in page
    rotated = await lin.submit(f"/console/clients/{made.json()['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = SECRET.search(rotated.text).group(1)  # type: ignore[union-attr]
    assert new != old
    client_id = made.json()["client_id"]
    grant = {"grant_type": "client_credentials"}
    assert (await console.post("/api/v1/oauth/token", data=grant, auth=(client_id, old))).status_code == 401
    assert (await console.post("/api/v1/oauth/token", data=grant, auth=(client_id, new))).status_code == 200
    assert await AuditEntry.exists(action="client.secret_rotated", target_id=str(made.json()["id"]))


async def test_creating_a_client_reports_each_field_and_disabling_stops_it(console: AppClient, open_browser: Any) -> None:
    vendor = await organisation(console, "云溪物联", SHANGPING_VILLAGE)
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    await lin.open("/console/clients")
    empty = await lin.submit("/console/clients", {"name": "", "organisation": "", "area": ""})
    assert empty.status_code == 422 and 'id="organisation-error"' in empty.text and 'id="area-error"' in empty.text
    no_scope = await lin.submit("/console/clients", {"name": "灌溉平台", "organisation": str(vendor),
                                                      "area": SHANGPING_VILLAGE})
    assert no_scope.status_code == 422 and 'id="scopes-error"' in no_scope.text and 'value="灌溉平台"' in no_scope.text
    too_much = await lin.submit("/console/clients", {"name": "灌溉平台", "organisation": str(vendor),
                                                      "area": SHANGPING_VILLAGE, "scopes": "person:read_sensitive"})
    assert too_much.status_code == 422 and 'id="scopes-error"' in too_much.text
    assert not await Client.exists(name="灌溉平台")
    made = await lin.submit("/console/clients", {"name": "灌溉平台", "organisation": str(vendor),
                                                  "area": SHANGPING_VILLAGE, "scopes": "device:read"})
    client = await Client.get(name="灌溉平台")
    assert made.status_code == 200
    assert (await lin.submit(f"/console/clients/{client.id}/disable")).status_code == 303
    assert (await Client.get(id=client.id)).status is ClientStatus.DISABLED


async def test_another_townships_clients_are_not_shown_nor_found(console: AppClient, open_browser: Any) -> None:
    vendor = await organisation(console, "梅林物联", MEILIN_TOWNSHIP)
    made = await console.post("/api/v1/clients/", headers=ADMIN, json={
        "name": "梅林平台", "organisation": vendor, "area": MEILIN_TOWNSHIP, "scopes": ["device:read"]})
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    page = (await lin.open("/console/clients")).text
    assert "梅林平台" not in page and "梅林物联" not in page
    client = made.json()["id"]
    assert (await lin.open(f"/console/clients/{client}")).status_code == 404
    assert (await lin.submit(f"/console/clients/{client}/rotate-secret")).status_code == 404
    assert (await lin.submit(f"/console/clients/{client}/disable")).status_code == 404
    assert (await Client.get(id=client)).status is ClientStatus.ACTIVE
