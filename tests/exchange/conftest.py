"""A small county for exchange tests: a bureau that keeps a plots dataset, two township governments, their staff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar

from tests.conftest import ADMIN, DEMO_COUNTY, SHIMEN_TOWN, YUNXI_TOWN, AppClient, running_app

PASSWORD = "plum blossom in the rain"
PLOTS = "agriculture.plots"
PLOTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "crop": {"type": "string"},
        "area_mu": {"type": "number", "minimum": 0},
        "irrigated": {"type": "boolean"},
        "household": {"type": "string"},
        "soil": {"type": "object", "properties": {"ph": {"type": "number"}}},
    },
    "required": ["name", "crop", "area_mu"],
    "additionalProperties": False,
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def organisation(client: AppClient, name: str, kind: str, area: str) -> int:
    made = await client.post("/api/v1/organisations/", json={"name": name, "kind": kind, "area": area}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def staff(client: AppClient, username: str, role: str, area: str, organisation: int | None = None) -> dict[str, str]:
    """A signed-in account holding ``role`` in ``area``'s subtree, member of ``organisation``: its auth header."""
    made = await client.post("/api/v1/accounts/", json={"username": username, "password": PASSWORD, "area": area}, headers=ADMIN)
    assert made.status_code == 201, made.text
    account = made.json()["id"]
    bound = await client.post("/api/v1/role-bindings/", json={"account": account, "role": role, "area": area}, headers=ADMIN)
    assert bound.status_code == 201, bound.text
    if organisation is not None:
        joined = await client.post(f"/api/v1/accounts/{account}/organisations/", json={"organisation": organisation}, headers=ADMIN)
        assert joined.status_code == 201, joined.text
    token = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return bearer(token.json()["access_token"])


async def declare(client: AppClient, dataset: str = PLOTS, schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"id": dataset, "title": {"zh_CN": "地块", "en": "Plots"}, "classification": "internal",
            "schema": schema or PLOTS_SCHEMA, **extra}
    made = await client.post("/api/v1/datasets/", json=body, headers=ADMIN)
    assert made.status_code == 201, made.text
    return made.json()


def plot(name: str, crop: str = "rice", area_mu: float = 2.5, **more: Any) -> dict[str, Any]:
    return {"name": name, "crop": crop, "area_mu": area_mu, **more}


@dataclass
class County:
    """Who is who: organisation ids and the auth headers of their staff."""

    client: AppClient
    bureau: int
    yunxi: int
    shimen: int
    keeper: dict[str, str]  # the bureau's data officer, county-wide
    yunxi_clerk: dict[str, str]
    shimen_clerk: dict[str, str]

    async def write(self, key: str, area: str, data: dict[str, Any], dataset: str = PLOTS) -> dict[str, Any]:
        made = await self.client.post(f"/api/v1/datasets/{dataset}/records/", json={"id": key, "area": area, "data": data},
                                      headers=self.keeper)
        assert made.status_code == 201, made.text
        return made.json()


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AppClient]:
    async with running_app(make_app(plugins=[])) as test_client:
        yield test_client


@pytest.fixture
async def county(client: AppClient) -> County:
    """The county agriculture bureau keeps ``agriculture.plots`` county-wide; two townships' governments and clerks."""
    bureau = await organisation(client, "县农业农村局", "department", DEMO_COUNTY)
    yunxi = await organisation(client, "云溪镇人民政府", "township_government", YUNXI_TOWN)
    shimen = await organisation(client, "石门镇人民政府", "township_government", SHIMEN_TOWN)
    await declare(client, owner=bureau, manager=bureau, area=DEMO_COUNTY)
    return County(
        client=client, bureau=bureau, yunxi=yunxi, shimen=shimen,
        keeper=await staff(client, "keeper", "township_admin", DEMO_COUNTY, bureau),
        yunxi_clerk=await staff(client, "yunxi_clerk", "township_staff", YUNXI_TOWN, yunxi),
        shimen_clerk=await staff(client, "shimen_clerk", "township_staff", SHIMEN_TOWN, shimen),
    )
