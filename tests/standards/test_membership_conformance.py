"""Conformance of the identity standard's account memberships (section 3 and 5.1), over HTTP."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN, DEMO_COUNTY, YUNXI_TOWN
from tests.standards.test_identity_conformance import client, conforms, problem, signed_in  # noqa: F401 - fixture

ORGANISATIONS = "/api/v1/organisations/"


async def test_memberships_conform(client: Any) -> None:  # noqa: F811 - the fixture
    yunxi = conforms(await client.post(ORGANISATIONS, json={"name": "云溪镇人民政府", "kind": "township_government",
                                                             "area": YUNXI_TOWN}, headers=ADMIN), "organisation-out", 201)
    bureau = conforms(await client.post(ORGANISATIONS, json={"name": "县农业农村局", "kind": "department",
                                                              "area": DEMO_COUNTY}, headers=ADMIN), "organisation-out", 201)
    admin = await signed_in(client, "yunxi_admin", "township_admin")
    clerk = conforms(await client.post("/api/v1/accounts/", json={"username": "clerk", "password": "plum blossom in the rain",
                                                                    "area": YUNXI_TOWN}, headers=admin), "account-out", 201)
    members = f"/api/v1/accounts/{clerk['id']}/organisations"
    added = conforms(await client.post(members, json={"organisation": yunxi["id"]}, headers=admin), "membership-out", 201)
    assert added["organisation"]["id"] == yunxi["id"]
    conforms(await client.get(members, headers=admin), "membership-list", 200)
    refused = problem(await client.post(members, json={"organisation": bureau["id"]}, headers=admin), 422)
    assert refused["errors"][0]["field"] == "organisation"
    assert (await client.delete(f"{members}/{yunxi['id']}", headers=admin)).status_code == 204
    assert conforms(await client.get(members, headers=admin), "membership-list", 200) == []
