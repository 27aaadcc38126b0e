"""The identity issue's "done when", told as one story over HTTP.

A township admin signs in and sees only her township's people, masked; the county
admin makes an account a data steward, whose full read lands in the audit chain,
which verifies; a vendor's system gets a client-credentials token and reads only
what its scope and area allow.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN, DEMO_COUNTY, SHANGPING_VILLAGE, YUNXI_TOWN
from tests.core.test_accounts import PASSWORD, bearer
from tests.core.test_clients import basic
from tests.core.test_people import person
from tulou.audit.service import verify_chain

MEILIN_VILLAGE = "350899200201"
PEOPLE = "/api/v1/people/"


@pytest.fixture
async def client(serve: Any) -> Any:
    async with serve() as test_client:
        yield test_client


async def post(client: Any, path: str, body: dict[str, Any], headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def staff(client: Any, username: str, role: str, area: str) -> dict[str, str]:
    """An account made and bound by the county admin, signed in with its own password."""
    created = await post(client, "/api/v1/accounts/", {"username": username, "password": PASSWORD, "area": area})
    await post(client, "/api/v1/role-bindings/", {"account": created["id"], "role": role, "area": area})
    signed_in = await post(client, "/api/v1/auth/token", {"username": username, "password": PASSWORD}, headers={})
    return bearer(signed_in["access_token"])


async def test_identity_done_when(client: Any) -> None:
    yunxi = await post(client, PEOPLE, person(41, village=SHANGPING_VILLAGE))
    meilin = await post(client, PEOPLE, person(42, village=MEILIN_VILLAGE))

    # A township admin signs in and sees only her township's people, with masked numbers.
    township_admin = await staff(client, "chen", "township_admin", YUNXI_TOWN)
    listed = (await client.get(PEOPLE, headers=township_admin)).json()
    assert [item["id"] for item in listed["items"]] == [yunxi["id"]]
    assert listed["items"][0]["masked"] and "********" in listed["items"][0]["resident_id"]
    assert (await client.get(f"{PEOPLE}{meilin['id']}", headers=township_admin)).status_code == 404
    unmasked = await client.get(f"{PEOPLE}{yunxi['id']}", params={"purpose": "curiosity"}, headers=township_admin)
    assert unmasked.json()["masked"], "a township admin does not hold person:read_sensitive"

    # The county admin makes an account a data steward; its full read is audited with its purpose.
    steward = await staff(client, "zheng", "data_steward", DEMO_COUNTY)
    purpose = "低保资格复核"
    full = (await client.get(f"{PEOPLE}{yunxi['id']}", params={"purpose": purpose}, headers=steward)).json()
    assert not full["masked"] and "*" not in full["resident_id"]
    audit = (await client.get("/api/v1/audit/", params={"action": "person.read_sensitive"}, headers=ADMIN)).json()
    (entry,) = audit["items"]
    assert entry["target_id"] == str(yunxi["id"]) and entry["purpose"] == purpose
    assert (await verify_chain()).ok

    # A vendor's system reads only what its scope and area allow.
    vendor = await post(client, "/api/v1/organisations/", {"name": "云溪农服科技", "kind": "vendor", "area": YUNXI_TOWN})
    registered = await post(client, "/api/v1/clients/", {
        "name": "农服平台", "organisation": vendor["id"], "area": YUNXI_TOWN, "scopes": ["person:read"],
    })
    issued = await client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                               headers=basic(registered["client_id"], registered["client_secret"]))
    assert issued.status_code == 200, issued.text
    system = bearer(issued.json()["access_token"])
    seen = (await client.get(PEOPLE, headers=system)).json()
    assert [item["id"] for item in seen["items"]] == [yunxi["id"]] and seen["items"][0]["masked"]
    assert (await client.get(f"{PEOPLE}{meilin['id']}", headers=system)).status_code == 404
    assert (await client.post(PEOPLE, json=person(43), headers=system)).status_code == 403
    assert (await client.get("/api/v1/households/", params={"village": SHANGPING_VILLAGE}, headers=system)).status_code == 403
