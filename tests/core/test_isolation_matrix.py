"""Two townships × every built-in role × every route: nothing is read or written across townships.

Township A (Yunxi Town) and township B (Meilin Township) each get an object of every
kind the routes address. For each built-in role, an account bound to it in A sends
every route of the app (built-in plugins loaded) aimed at B, as planned by
:mod:`tests.core.isolation`: it gets 404 (403 without the permission), lists show
nothing of B, and B's rows stay as they were. One app serves the whole module.

Each township's government keeps a dataset of the township, and A's staff are all its
members, so the keepers' rules are in play; sharing agreements stay inside each
township, as one between the two would rightly show B's data to A.
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
from tests.core.isolation import (
    A_YEAR_ON, DRY_RULE, MOISTURE, REPORTS_ONLY, Call, Township, dry_rule, holds, judge, plan, township_rows, unaimable,
    unwatched_tables,
)
from tests.core.test_accounts import PASSWORD, bearer
from tests.core.test_people import resident_id
from tests.exchange.conftest import PLOTS_SCHEMA, plot
from tests.exchange.receiver import deliver_round, receiver_running
from tulou.identity.accounts_models import Role
from tulou.identity.roles import BUILTIN_ROLES
from tulou.security.guards import PUBLIC, signed_in
from tulou.web.app import create_app

MEILIN_VILLAGE = "350899200201"
#: A township's clerk: a custom role, bound only there, with a township's staff's everyday work.
CLERK_PERMISSIONS = ["household:read", "household:write", "modules:manage", "notices:publish", "organisation:read",
                     "person:read", "person:write"]
ROLES = [role.name for role in BUILTIN_ROLES]
ANONYMOUS = "anonymous"
#: Lists that show the caller's own township to holders of a permission: "METHOD path" -> (what of A, permission).
OWN_LISTINGS: dict[str, tuple[Callable[[Township], tuple[str, ...]], str]] = {
    "GET /api/v1/people": (lambda a: a.personal, "person:read"),
    "GET /api/v1/datasets": (lambda a: (a.dataset,), "dataset:read"),
}
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

    async def badge(_connection: object, _handler: object) -> None: ...

    @get("/api/v1/forgotten-door", guards=[badge])
    async def forgotten_door() -> None: ...

    app = make_app()
    for handler in (forgotten, forgotten_board, forgotten_door):
        app.register(handler)
    assert unaimable(app) == [
        "POST /api/v1/forgotten/{thing_id:int}: path parameter 'thing_id': add it to PATH_PARAMS",
        "POST /api/v1/forgotten/{thing_id:int}: query parameter 'colour': add it to QUERY_PARAMS",
        "POST /api/v1/forgotten/{thing_id:int}: reads a request body: add one aimed at township B to BODIES",
        "GET /api/v1/forgotten: is public: add it to PUBLIC_ROUTES",
        "GET /api/v1/forgotten-door: takes no staff token: add the township's own credential to OWN_CREDENTIALS",
    ]


@dataclass
class World:
    client: AppClient
    a: Township
    b: Township
    staff: dict[str, str]  # built-in role -> access token of an account bound to it in township A
    spent: bool = False  # test_the_aim_is_true has written into township B


async def succeeds(
    client: AppClient, method: str, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] = ADMIN,
) -> dict[str, Any]:
    """The answer to a request that must succeed, sent by the county administrator unless ``headers`` name another."""
    response = await client.request(method, url, json=body, headers=headers)
    assert response.is_success, f"{method} {url}: {response.text}"
    return response.json() if response.content else {}


async def staff_member(client: AppClient, username: str, role: str, area: str) -> tuple[int, int, str]:
    """A new account homed in ``area`` holding ``role`` there: its id, its binding's id and a token."""
    account = await succeeds(
        client, "POST", "/api/v1/accounts/", {"username": username, "password": PASSWORD, "area": area})
    binding = await succeeds(
        client, "POST", "/api/v1/role-bindings/", {"account": account["id"], "role": role, "area": area})
    signed = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return account["id"], binding["id"], signed.json()["access_token"]


async def household_of(client: AppClient, tag: str, village: str, members: list[int]) -> dict[str, Any]:
    """A household in ``village`` with ``members``, the first its head."""
    body = {"number": f"{tag}-001", "village": village, "address": f"{tag}溪边路1号"}
    household = await succeeds(client, "POST", "/api/v1/households/", body)
    for member in members:
        await succeeds(client, "POST", f"/api/v1/households/{household['id']}/members", {"person": member})
    await succeeds(client, "PUT", f"/api/v1/households/{household['id']}/head", {"person": members[0]})
    return household


async def join(client: AppClient, account: int, organisation: int) -> None:
    await succeeds(client, "POST", f"/api/v1/accounts/{account}/organisations/", {"organisation": organisation})


async def keep_plots(client: AppClient, tag: str, code: str, village: str, clerk: int, cooperative: int) -> dict[str, Any]:
    """The township government keeps an internal plots dataset of the township, with a live record
    and a deleted one in ``village``; the cooperative asks three times to read it, and is granted once.

    The county administrator acts for the government and the cooperative: it writes the
    records and asks for the cooperative. Nothing is shared outside the township.
    Returns the :class:`Township` fields, and the markers of it all under ``unpublished``.
    """
    name = f"{tag}镇人民政府"
    government = (await succeeds(client, "POST", "/api/v1/organisations/",
                                 {"name": name, "kind": "township_government", "area": code}))["id"]
    admin = (await succeeds(client, "GET", "/api/v1/me/"))["account"]["id"]
    for account, organisation in ((clerk, government), (admin, government), (admin, cooperative)):
        await join(client, account, organisation)
    dataset, title = f"matrix.{tag.lower()}_plots", f"{tag}茶园地块"
    await succeeds(client, "POST", "/api/v1/datasets/", {
        "id": dataset, "title": {"zh_CN": title}, "classification": "internal", "schema": PLOTS_SCHEMA,
        "owner": government, "manager": government, "area": code})
    records = f"/api/v1/datasets/{dataset}/records/"
    keys, plots = [f"{tag}-plot-{n}" for n in (0, 1)], [f"{tag}茶园{n}号" for n in "一二"]
    for key, plot_name in zip(keys, plots):
        await succeeds(client, "POST", records, {"id": key, "area": village, "data": plot(plot_name, "茶叶")})
    await succeeds(client, "DELETE", f"{records}{keys[0]}")
    purpose = f"{tag}合作社收购评估"
    asked = {"dataset": dataset, "organisation": cooperative, "fields": ["name", "crop"], "areas": [village],
             "purpose": purpose, "expires_at": A_YEAR_ON}
    agreement, rejectable, granted = [(await succeeds(client, "POST", "/api/v1/agreements/", asked))["id"]
                                      for _ in range(3)]
    await succeeds(client, "POST", f"/api/v1/agreements/{granted}/approve", {"fields": ["name"]})
    return {"government": government, "dataset": dataset, "record": keys[1], "agreement": agreement,
            "rejectable": rejectable, "unpublished": (name, dataset, title, *keys, *plots, purpose)}


async def watch_plots(client: AppClient, dataset: str, record: str, government: int, webhook: str) -> dict[str, Any]:
    """The government subscribes to its dataset, and the delivery of one change fails for good:
    the receiver answers 500, and the matrix's settings allow one attempt.

    Returns the :class:`Township` fields, and the delivery's event id under ``unpublished``.
    """
    subscriptions = f"/api/v1/datasets/{dataset}/subscriptions/"
    subscription = await succeeds(client, "POST", subscriptions, {"url": webhook, "organisation": government})
    await succeeds(client, "PATCH", f"/api/v1/datasets/{dataset}/records/{record}", {"data": {"crop": "红茶"}})
    await deliver_round(client.app)
    deliveries = await client.get(f"{subscriptions}{subscription['id']}/deliveries", headers=ADMIN)
    [delivery] = deliveries.json()
    assert delivery["status"] == "dead", delivery
    return {"webhook": webhook, "subscription": subscription["id"], "delivery": delivery["id"],
            "unpublished": (delivery["event_id"],)}


async def install_sensor(client: AppClient, tag: str, village: str, owner: int) -> dict[str, Any]:
    """A county model of soil sensor; one of them in ``village``, owned by ``owner``, which has
    reported once (so it is online, with a connection event and a latest value, and an open alert
    of its own version of the model's rule); a key to claim more.

    Returns the :class:`Township` fields, and the sensor's and the key's markers under ``unpublished``.
    """
    model = f"{tag.lower()}.soil"
    await succeeds(client, "POST", "/api/v1/device-models/", {
        "id": model, "category": "sensor", "manufacturerName": "矩阵仪器", "modelName": f"{tag}-Soil",
        "telemetry": MOISTURE, "alertRules": [dry_rule()]})
    name, serial_number, label, warning = f"{tag}土壤墒情仪", f"{tag}-SOIL-001", f"{tag}安装钥匙", f"{tag}茶园缺水"
    sensor = await succeeds(client, "POST", "/api/v1/devices/", {
        "model": model, "serialNumber": serial_number, "name": name, "area": village, "owner": owner})
    await succeeds(client, "PUT", f"/api/v1/devices/{sensor['id']}/alert-rules/{DRY_RULE}", dry_rule(warning))
    await succeeds(client, "POST", "/api/v1/telemetry", {"values": {"moisture": 31.5}}, bearer(sensor["token"]))
    await client.app.state.devices.writer.settled()
    [alert] = (await succeeds(client, "GET", f"/api/v1/alerts/?device={sensor['id']}"))["items"]
    key = await succeeds(client, "POST", "/api/v1/provisioning-keys/",
                         {"model": model, "area": village, "uses": 5, "label": label})
    return {"device_model": model, "device": sensor["id"], "device_token": sensor["token"],
            "provisioning_key": key["id"], "provisioning_secret": key["key"], "alert": alert["id"],
            "unpublished": (sensor["id"], name, serial_number, label, warning)}


async def settle(client: AppClient, tag: str, code: str, village: str, serial: int, webhook: str) -> Township:
    """One object of every kind in the township, made by the county administrator, but for what
    its clerk does: switch the notice board on and publish to it."""
    role = await succeeds(client, "POST", "/api/v1/roles/", {
        "name": f"{tag.lower()}_clerk", "title": f"{tag}文书", "permissions": CLERK_PERMISSIONS})
    clerk = f"{tag.lower()}-clerk"
    account, binding, token = await staff_member(client, clerk, role["name"], code)
    await succeeds(client, "PUT", f"/api/v1/areas/{code}/modules/notices", headers=bearer(token))
    names = [f"{tag}居民{n}" for n in "甲乙丙"]
    numbers = [resident_id(serial + n) for n in range(3)]
    phones = [f"139{serial + n:08d}" for n in range(3)]
    people = [
        (await succeeds(client, "POST", "/api/v1/people/", {"name": name, "resident_id": number, "home_area": village,
                                                             "phone": phone}))["id"]
        for name, number, phone in zip(names, numbers, phones)
    ]
    household = await household_of(client, tag, village, people[:2])
    organisation = await succeeds(
        client, "POST", "/api/v1/organisations/", {"name": f"{tag}茶叶合作社", "kind": "other", "area": code})
    system = await succeeds(client, "POST", "/api/v1/clients/", {
        "name": f"{tag}茶园监测系统", "organisation": organisation["id"], "area": code, "scopes": ["organisation:read"]})
    board = f"/api/v1/notices/areas/{code}/notices"
    notice = await succeeds(client, "POST", board, {"title": f"{tag}村务公告", "body": "周六打扫村道"}, bearer(token))
    withdrawn = await succeeds(client, "POST", board, {"title": f"{tag}撤回的通知", "body": "作废"})
    await succeeds(client, "DELETE", f"{board}/{withdrawn['id']}")
    plots = await keep_plots(client, tag, code, village, account, organisation["id"])
    watched = await watch_plots(client, plots["dataset"], plots["record"], plots["government"], webhook)
    sensors = await install_sensor(client, tag, village, organisation["id"])
    kept_data = (*plots.pop("unpublished"), *watched.pop("unpublished"), *sensors.pop("unpublished"))
    personal = (*names, *numbers, *phones, clerk)
    return Township(
        code=code, village=village, head_name=names[0], member=people[1], newcomer=people[2], resident_id=numbers[0],
        household=household["id"], organisation=organisation["id"], account=account, username=clerk,
        binding=binding, role=role["name"], client=system["id"], notice=notice["id"], token=token, personal=personal,
        unpublished=(household["number"], household["address"], organisation["name"], withdrawn["title"],
                     f'"account:{account}"', system["name"], system["client_id"], *kept_data),
        **plots, **watched, **sensors,
    )


@pytest.fixture(scope="module")
def matrix_database(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("isolation")
    with copy_of_template(template_database, directory) as url:
        yield url, directory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(matrix_database: tuple[str, Path]) -> AsyncIterator[World]:
    """The demo county with townships A and B settled, and A's staff in every built-in role signed in.

    Subscriptions may send to the receiver on 127.0.0.1, which fails every delivery.
    """
    url, directory = matrix_database
    exchange = {"webhook_allow": "127.0.0.1", "max_attempts": 1}
    with pytest.MonkeyPatch.context() as monkeypatch, receiver_running() as receiver:
        receiver.failures = 1_000_000
        scrub_environment(monkeypatch, directory)
        cheap_passwords(monkeypatch)
        app = create_app(plugins=builtin_plugins(), **settings_for(url, directory), exchange=exchange)
        async with running_app(app) as client:
            a = await settle(client, "TA", YUNXI_TOWN, SHANGPING_VILLAGE, serial=100, webhook=receiver.url)
            b = await settle(client, "TB", MEILIN_TOWNSHIP, MEILIN_VILLAGE, serial=200, webhook=receiver.url)
            members = await asyncio.gather(*(
                staff_member(client, f"ta-{role.replace('_', '-')}", role, YUNXI_TOWN) for role in ROLES
            ))
            for account, _binding, _token in members:
                await join(client, account, a.government)  # A's staff keep A's dataset
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
    breaches, own_listed = [], {}
    for call in plan(client.app, b, world.a):
        response = await call.send(client, headers)
        if (breach := judge(call, response, permissions, b, (world.a,))) is not None:
            breaches.append(f"{call}: {breach}")
        if call.route in OWN_LISTINGS and not call.query:
            own_listed[call.route] = bool(world.a.gives_away(response.text, OWN_LISTINGS[call.route][0](world.a)))
    assert breaches == [], f"{role} in township A reached township B:\n" + "\n".join(breaches)
    after = await township_rows(b.code)
    assert [table for table in before if before[table] != after[table]] == [], "township B's rows changed"
    assert (await client.get("/api/v1/me/", headers=bearer(b.token))).status_code == 200, "B's clerk was signed out"
    # The lists came back without B's data, not empty for want of any: the caller's own township is in them.
    assert own_listed == {
        route: permissions is not None and holds(permissions, permission)
        for route, (_markers, permission) in OWN_LISTINGS.items()
    }


def answers_with_b(call: Call) -> bool:
    """Whether the answer to the county administrator must show B's data: every read, and every write
    but those naming B only by an id or by the area in the path (acting at home, changing a role).
    A request with B's own credential reaches B alone, and an import answers with counts only:
    that they succeed is enough."""
    if call.credential is not None or call.route in REPORTS_ONLY:
        return False
    return call.method == "GET" or not (call.across or call.county_wide or call.area_in_path)


@in_module_loop
async def test_the_aim_is_true(world: World) -> None:
    """The county administrator sending the same requests reaches B's objects, so the 404s above
    are refusals, not misses; B's own sensor and key do where staff tokens are refused.
    It writes into township B, so it runs last."""
    world.spent = True
    misses = []
    for call in plan(world.client.app, world.b, world.a):
        if not (call.aimed or call.query):
            continue
        response = await call.send(world.client, ADMIN if call.credential is None else bearer(call.credential))
        if not response.is_success:
            misses.append(f"{call}: {response.status_code} {response.text[:300]}")
        elif response.content and not call.public and answers_with_b(call) and not world.b.gives_away(response.text):
            misses.append(f"{call}: the county administrator got nothing of township B")
    assert misses == [], "\n".join(misses)
