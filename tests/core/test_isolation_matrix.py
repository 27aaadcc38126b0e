"""Two townships × every built-in role × every route: nothing is read or written across townships.

Township A (Yunxi Town) and township B (Meilin Township) each get an object of every
kind the routes address. For each built-in role, an account bound to it in A sends
every route of the app (built-in plugins loaded) aimed at B, as planned by
:mod:`tests.core.isolation`: it gets 404 (403 without the permission), lists show
nothing of B, and B's rows stay as they were. One app serves the whole module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from tests.conftest import (
    ADMIN, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient, builtin_plugins, cheap_passwords,
    copy_of_template, running_app, scrub_environment, settings_for,
)
from tests.core.isolation import Township, judge, plan, township_rows, unaimable, unwatched_tables
from tests.core.test_accounts import PASSWORD, bearer
from tests.core.test_people import resident_id
from tulou.identity.accounts_models import Role
from tulou.identity.roles import BUILTIN_ROLES
from tulou.security.guards import PUBLIC, signed_in
from tulou.security.principal import ALL_PERMISSIONS
from tulou.web.app import create_app

MEILIN_VILLAGE = "350899200201"
ROLES = [role.name for role in BUILTIN_ROLES]
ANONYMOUS = "anonymous"
in_module_loop = pytest.mark.asyncio(loop_scope="module")


def test_every_route_can_be_aimed(make_app: Callable[..., Litestar]) -> None:
    problems = unaimable(make_app())
    assert problems == [], "extend the tables in tests/core/isolation.py:\n" + "\n".join(problems)


def test_the_matrix_notices_a_route_it_cannot_aim(make_app: Callable[..., Litestar]) -> None:
    @post("/api/v1/forgotten/{thing_id:int}", guards=[signed_in])
    async def forgotten(
        thing_id: FromPath[int], data: JSONBody[dict[str, str]], colour: FromQuery[str | None] = None,
    ) -> None: ...

    @get("/api/v1/forgotten", opt=PUBLIC)
    async def forgotten_board() -> None: ...

    app = make_app()
    app.register(forgotten)
    app.register(forgotten_board)
    assert unaimable(app) == [
        "POST /api/v1/forgotten/{thing_id:int}: path parameter 'thing_id': add it to PATH_PARAMS",
        "POST /api/v1/forgotten/{thing_id:int}: query parameter 'colour': add it to QUERY_PARAMS",
        "POST /api/v1/forgotten/{thing_id:int}: reads a request body: add one aimed at township B to BODIES",
        "GET /api/v1/forgotten: is public: add it to PUBLIC_ROUTES",
    ]


@dataclass
class World:
    client: AppClient
    a: Township
    b: Township
    staff: dict[str, str]  # built-in role -> access token of an account bound to it in township A
    spent: bool = False  # test_the_aim_is_true has written into township B


async def as_admin(client: AppClient, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.request(method, url, json=body, headers=ADMIN)
    assert response.is_success, f"{method} {url}: {response.text}"
    return response.json() if response.content else {}


async def staff_member(client: AppClient, username: str, role: str, area: str) -> tuple[int, int, str]:
    """A new account homed in ``area`` holding ``role`` there: its id, its binding's id and a token."""
    account = await as_admin(
        client, "POST", "/api/v1/accounts/", {"username": username, "password": PASSWORD, "area": area})
    binding = await as_admin(
        client, "POST", "/api/v1/role-bindings/", {"account": account["id"], "role": role, "area": area})
    signed = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return account["id"], binding["id"], signed.json()["access_token"]


async def household_of(client: AppClient, tag: str, village: str, members: list[int]) -> dict[str, Any]:
    """A household in ``village`` with ``members``, the first its head."""
    body = {"number": f"{tag}-001", "village": village, "address": f"{tag}溪边路1号"}
    household = await as_admin(client, "POST", "/api/v1/households/", body)
    for member in members:
        await as_admin(client, "POST", f"/api/v1/households/{household['id']}/members", {"person": member})
    await as_admin(client, "PUT", f"/api/v1/households/{household['id']}/head", {"person": members[0]})
    return household


async def settle(client: AppClient, tag: str, code: str, village: str, serial: int) -> Township:
    """One object of every kind in the township, made by the county administrator."""
    await as_admin(client, "PUT", f"/api/v1/areas/{code}/modules/notices")
    names = [f"{tag}居民{n}" for n in "甲乙丙"]
    numbers = [resident_id(serial + n) for n in range(3)]
    phones = [f"139{serial + n:08d}" for n in range(3)]
    people = [
        (await as_admin(client, "POST", "/api/v1/people/", {"name": name, "resident_id": number, "home_area": village,
                                                             "phone": phone}))["id"]
        for name, number, phone in zip(names, numbers, phones)
    ]
    household = await household_of(client, tag, village, people[:2])
    organisation = await as_admin(
        client, "POST", "/api/v1/organisations/", {"name": f"{tag}茶叶合作社", "kind": "other", "area": code})
    clerk = f"{tag.lower()}-clerk"
    account, binding, token = await staff_member(client, clerk, "township_staff", code)
    board = f"/api/v1/notices/areas/{code}/notices"
    notice = await as_admin(client, "POST", board, {"title": f"{tag}村务公告", "body": "周六打扫村道"})
    withdrawn = await as_admin(client, "POST", board, {"title": f"{tag}撤回的通知", "body": "作废"})
    await as_admin(client, "DELETE", f"{board}/{withdrawn['id']}")
    personal = (*names, *numbers, *phones, clerk)
    return Township(
        code=code, village=village, head_name=names[0], member=people[1], newcomer=people[2], resident_id=numbers[0],
        household=household["id"], organisation=organisation["id"], account=account, binding=binding,
        notice=notice["id"], token=token, personal=personal,
        unpublished=(household["number"], household["address"], organisation["name"], withdrawn["title"],
                     f'"account:{account}"'),
    )


@pytest.fixture(scope="module")
def matrix_database(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("isolation")
    with copy_of_template(template_database, directory) as url:
        yield url, directory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(matrix_database: tuple[str, Path]) -> AsyncIterator[World]:
    """The demo county with townships A and B settled, and A's staff in every built-in role signed in."""
    url, directory = matrix_database
    with pytest.MonkeyPatch.context() as monkeypatch:
        scrub_environment(monkeypatch, directory)
        cheap_passwords(monkeypatch)
        async with running_app(create_app(plugins=builtin_plugins(), **settings_for(url, directory))) as client:
            a = await settle(client, "TA", YUNXI_TOWN, SHANGPING_VILLAGE, serial=100)
            b = await settle(client, "TB", MEILIN_TOWNSHIP, MEILIN_VILLAGE, serial=200)
            members = await asyncio.gather(*(
                staff_member(client, f"ta-{role.replace('_', '-')}", role, YUNXI_TOWN) for role in ROLES
            ))
            yield World(client, a, b, {role: token for role, (_, _, token) in zip(ROLES, members)})


@in_module_loop
async def test_every_table_is_watched(world: World) -> None:
    assert unwatched_tables() == [], "say in TOWNSHIP_ROWS (tests/core/isolation.py) how their rows belong to an area"


@in_module_loop
@pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
async def test_no_role_reaches_another_township(world: World, role: str) -> None:
    assert not world.spent, "test_the_aim_is_true has written into township B: it must run last"
    client, b = world.client, world.b
    permissions = None if role == ANONYMOUS else set((await Role.get(name=role)).permissions)
    headers = {} if role == ANONYMOUS else bearer(world.staff[role])
    before = await township_rows(b.code)
    breaches, own_people_listed = [], False
    for call in plan(client.app, b):
        response = await call.send(client, headers)
        if (breach := judge(call, response, permissions, b, (world.a,))) is not None:
            breaches.append(f"{call}: {breach}")
        if call.route == "GET /api/v1/people" and not call.query:
            own_people_listed = bool(world.a.gives_away(response.text, world.a.personal))
    assert breaches == [], f"{role} in township A reached township B:\n" + "\n".join(breaches)
    after = await township_rows(b.code)
    assert [table for table in before if before[table] != after[table]] == [], "township B's rows changed"
    assert (await client.get("/api/v1/me/", headers=bearer(b.token))).status_code == 200, "B's clerk was signed out"
    # The lists came back without B's data, not empty for want of any: the caller's own residents are in them.
    reads_people = permissions is not None and bool({"person:read", ALL_PERMISSIONS} & permissions)
    assert own_people_listed == reads_people


@in_module_loop
async def test_the_aim_is_true(world: World) -> None:
    """The county administrator sending the same requests reaches B's objects, so the 404s above
    are refusals, not misses. It writes into township B, so it runs last."""
    world.spent = True
    misses = []
    for call in plan(world.client.app, world.b):
        if not (call.aimed or call.query):
            continue
        response = await call.send(world.client, ADMIN)
        if not response.is_success:
            misses.append(f"{call}: {response.status_code} {response.text[:300]}")
        elif call.method == "GET" and not call.public and not world.b.gives_away(response.text):
            misses.append(f"{call}: the county administrator got nothing of township B")
    assert misses == [], "\n".join(misses)
