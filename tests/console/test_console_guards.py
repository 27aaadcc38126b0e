"""Every console route is guarded like the API: no session, no page; a role without the permission, 403;
another township, 404. The routes are read from the app, so a new page cannot slip past unchecked.

``tests/core/test_isolation_matrix.py`` does the same for the API and leaves ``/console`` to this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.routes import HTTPRoute

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.console.conftest import SIGN_IN, Browser, staff
from tests.console.sharing_data import DATASET, YunxiSharing, yunxi_sharing
from tests.core.isolation import required_permission
from tests.core.test_people import resident_id
from tulou.devices import clock
from tulou.devices.alert_schemas import ThresholdRule
from tulou.devices.alerts import raise_alert
from tulou.devices.models import Device
from tulou.identity.roles import BUILTIN_ROLES
from tulou.plugins.registry import LITESTAR_OPTIONS_HANDLER
from tulou.security.guards import signed_in
from tulou.security.principal import ALL_PERMISSIONS

CONSOLE = "/console"
MEILIN_VILLAGE = "350899200201"
YUNXI_RESIDENT = "上坪李四"
#: Open to anybody: signing in, the language switch (before signing in too) and the static files.
PUBLIC_PAGES = {
    "GET /console/sign-in", "POST /console/sign-in", "POST /console/language",
    "GET /console/static/{file_path:path}", "HEAD /console/static/{file_path:path}",
}
#: Yunxi's data-exchange objects as the ``township_staff`` fixture makes them, first in a fresh database.
YUNXI_SHARING = YunxiSharing(government=1, cooperative=2, agreement=1, subscription=1, delivery=1)
#: Yunxi Town's device, provisioning key and alert, made by :func:`township_staff` (before: none, "0").
YUNXI_THINGS: dict[str, str] = {}
GUARD_MODEL = "guard.sensor"
#: township -> {"person_id": ..., "household_id": ...}: a resident and a household there, made by
#: ``township_staff`` (without it, any id: a page without a session is refused before looking).
RESIDENTS: dict[str, dict[str, int]] = {}
#: Yunxi's target account, its role binding, an organisation and a system client, made by ``township_staff``.
YUNXI_STAFF_THINGS: dict[str, int] = {}
#: Path parameter -> its value for a township: what a page names the township, or its objects, by.
PATH_PARAMS: dict[str, Callable[[str], str]] = {
    "area": lambda township: township,
    "plugin": lambda _township: "notices",
    "file_path": lambda _township: "console.css",
    "dataset_id": lambda _township: DATASET,
    "agreement_id": lambda _township: str(YUNXI_SHARING.agreement),
    "subscription_id": lambda _township: str(YUNXI_SHARING.subscription),
    "delivery_id": lambda _township: str(YUNXI_SHARING.delivery),
    "model_id": lambda _township: GUARD_MODEL,
    "device_id": lambda _township: YUNXI_THINGS.get("device_id", "0"),
    "key_id": lambda _township: YUNXI_THINGS.get("key_id", "0"),
    "alert_id": lambda _township: YUNXI_THINGS.get("alert_id", "0"),
    "person_id": lambda township: str(RESIDENTS.get(township, {}).get("person_id", 1)),
    "household_id": lambda township: str(RESIDENTS.get(township, {}).get("household_id", 1)),
    "account_id": lambda _township: str(YUNXI_STAFF_THINGS.get("account_id", 0)),
    "binding_id": lambda _township: str(YUNXI_STAFF_THINGS.get("binding_id", 0)),
    "organisation_id": lambda _township: str(YUNXI_STAFF_THINGS.get("organisation_id", 0)),
    "client_id": lambda _township: str(YUNXI_STAFF_THINGS.get("client_id", 0)),
    "job": lambda _township: "tulou.purge_expired_tokens",
}
#: Parameters naming something of one township: another township's staff are told it is not found.
TOWNSHIP_PARAMS = frozenset({"area", "dataset_id", "agreement_id", "subscription_id", "delivery_id", "device_id",
                             "key_id", "alert_id", "person_id", "household_id", "account_id", "binding_id",
                             "organisation_id", "client_id"})
#: What a form sent with the permission may answer: done (303), or refused for what it says (409, 422), never for who sent it.
FORM_ANSWERS = (200, 303, 409, 422)
#: What gives Yunxi away on a page: its name, a village's, its area codes, a resident, its staff's usernames, its things' names.
YUNXI_MARKERS = ("云溪镇", "上坪", YUNXI_TOWN[:9], "yunxi_", "target_", "测试")


@dataclass(frozen=True)
class Page:
    key: str  # "METHOD path"
    method: str
    path_format: str
    path_params: tuple[str, ...]
    permission: str | None  # None: any signed-in caller

    def url(self, township: str) -> str:
        return self.path_format.format(**{name: PATH_PARAMS[name](township) for name in self.path_params})

    @property
    def names_a_townships_own(self) -> bool:
        return bool(TOWNSHIP_PARAMS.intersection(self.path_params))

    @property
    def names_a_thing(self) -> bool:
        return bool((TOWNSHIP_PARAMS - {"area"}).intersection(self.path_params))


def console_handlers(app: Litestar) -> list[tuple[str, HTTPRoute, HTTPRouteHandler]]:
    return [
        (f"{method} {route.path}", route, handler)
        for route in app.routes if isinstance(route, HTTPRoute) and route.path.startswith(CONSOLE)
        for method, (handler, _kwargs) in route.route_handler_map.items()
        if handler.fn.__qualname__ != LITESTAR_OPTIONS_HANDLER
    ]


def unchecked(app: Litestar) -> list[str]:
    """Why some console route cannot be checked: each line names the route and what to add."""
    problems = []
    for key, route, handler in console_handlers(app):
        problems += [f"{key}: path parameter {name!r}: add it to PATH_PARAMS"
                     for name in route.path_parameters if name not in PATH_PARAMS]
        if bool(handler.opt.get("public")) != (key in PUBLIC_PAGES):
            problems.append(f"{key}: public or not, it must be so in PUBLIC_PAGES too")
        elif key not in PUBLIC_PAGES and required_permission(handler) is None and signed_in not in handler.resolve_guards():
            problems.append(f"{key}: takes neither requires(...) nor signed_in")
    return problems


def pages(app: Litestar) -> list[Page]:
    return [
        Page(key, key.split(" ")[0], route.path_format, tuple(route.path_parameters), required_permission(handler))
        for key, route, handler in console_handlers(app) if key not in PUBLIC_PAGES
    ]


async def send(browser: Browser, page: Page, township: str) -> Any:
    if page.method == "GET":
        return await browser.get(page.url(township))
    return await browser.request(page.method, page.url(township), data={"_csrf": browser.form_token})


def test_every_console_route_can_be_checked(make_app: Callable[..., Litestar]) -> None:
    assert unchecked(make_app()) == []


def test_the_check_notices_a_page_it_cannot_check(make_app: Callable[..., Litestar]) -> None:
    @get("/console/villages/{village:str}", guards=[signed_in])
    async def village_page(village: FromPath[str]) -> str: ...

    @get("/console/open-door")
    async def open_door() -> str: ...

    app = make_app()
    for handler in (village_page, open_door):
        app.register(handler)
    assert unchecked(app) == [
        "GET /console/villages/{village:str}: path parameter 'village': add it to PATH_PARAMS",
        "GET /console/open-door: takes neither requires(...) nor signed_in",
    ]


async def yunxi_things(console: AppClient) -> None:
    """A device in a Yunxi village, a provisioning key for it and an open alert on it, for the pages naming them."""
    model = await console.post("/api/v1/device-models/", headers=ADMIN, json={
        "id": GUARD_MODEL, "category": "sensor", "manufacturerName": "Guard", "modelName": "Sensor",
        "telemetry": {"level": {"type": "number"}}})
    assert model.status_code == 201, model.text
    device = await console.post("/api/v1/devices/", headers=ADMIN, json={
        "model": GUARD_MODEL, "serialNumber": "G-1", "name": "Guarded", "area": SHANGPING_VILLAGE})
    key = await console.post("/api/v1/provisioning-keys", headers=ADMIN, json={
        "model": GUARD_MODEL, "area": SHANGPING_VILLAGE, "uses": 1})
    assert device.status_code == key.status_code == 201, (device.text, key.text)
    stored = await Device.get(uid=device.json()["id"])
    rule = ThresholdRule(id="high", property="level", operator=">", value=1.0)
    raised = await raise_alert(stored.id, rule, clock.now(), 2.0)
    assert raised is not None
    YUNXI_THINGS.update(device_id=stored.uid, key_id=str(key.json()["id"]), alert_id=str(raised[0].id))


async def resident_and_household(console: AppClient, village: str, serial: int, name: str) -> dict[str, int]:
    """A resident of ``village`` who heads a household there, registered through the API."""
    person = await console.post("/api/v1/people/", headers=ADMIN,
                                json={"name": name, "resident_id": resident_id(serial), "home_area": village})
    household = await console.post("/api/v1/households/", headers=ADMIN, json={"number": f"9{serial}", "village": village})
    assert person.status_code == household.status_code == 201, (person.text, household.text)
    ids = {"person_id": person.json()["id"], "household_id": household.json()["id"]}
    joined = await console.post(f"/api/v1/households/{ids['household_id']}/members", headers=ADMIN,
                                json={"person": ids["person_id"]})
    assert joined.status_code == 200, joined.text
    return ids


async def staff_things(client: AppClient, township: str, village: str) -> dict[str, int]:
    """A target account, its binding, an organisation and a client in ``township``, made by the county."""
    account = await staff(client, f"target_{township}", "kiosk", township)
    binding = await client.get("/api/v1/role-bindings/", params={"account": account}, headers=ADMIN)
    organisation = await client.post("/api/v1/organisations/", headers=ADMIN,
                                      json={"name": "测试合作社", "kind": "other", "area": village})
    assert organisation.status_code == 201, organisation.text
    made = await client.post("/api/v1/clients/", headers=ADMIN, json={
        "name": "测试系统", "organisation": organisation.json()["id"], "area": township, "scopes": ["person:read"]})
    assert made.status_code == 201, made.text
    return {"account_id": account, "binding_id": binding.json()["items"][0]["id"],
            "organisation_id": organisation.json()["id"], "client_id": made.json()["id"]}


@pytest.fixture
async def township_staff(console: AppClient, open_browser: Callable[[], Browser]) -> AsyncIterator[dict[str, Browser]]:
    """A signed-in browser for every built-in role bound in Yunxi Town, and Meilin's township administrator's.

    Both townships run the notice board, whose console page is checked with the core's.
    Yunxi's township administrator works for its government, which keeps Yunxi's dataset; Yunxi
    also has the things the device pages name in their paths, and each township a resident and a household.
    """
    for township in (YUNXI_TOWN, MEILIN_TOWNSHIP):  # so the notice board's console pages are checked too
        switched = await console.put(f"/api/v1/areas/{township}/modules/notices", headers=ADMIN)
        assert switched.status_code == 201, switched.text
    RESIDENTS[YUNXI_TOWN] = await resident_and_household(console, SHANGPING_VILLAGE, 1, YUNXI_RESIDENT)
    RESIDENTS[MEILIN_TOWNSHIP] = await resident_and_household(console, MEILIN_VILLAGE, 2, "梅林王五")
    browsers, accounts = {}, {}
    for role in BUILTIN_ROLES:
        accounts[role.name] = await staff(console, f"yunxi_{role.name}", role.name)
    assert await yunxi_sharing(console, keepers=[accounts["township_admin"]]) == YUNXI_SHARING
    await yunxi_things(console)
    YUNXI_STAFF_THINGS.update(await staff_things(console, YUNXI_TOWN, SHANGPING_VILLAGE))
    for role in BUILTIN_ROLES:
        browsers[role.name] = open_browser()
        assert (await browsers[role.name].sign_in(f"yunxi_{role.name}")).status_code == 303
    await staff(console, "meilin_admin", "township_admin", MEILIN_TOWNSHIP)
    browsers["meilin"] = open_browser()
    assert (await browsers["meilin"].sign_in("meilin_admin")).status_code == 303
    yield browsers
    YUNXI_THINGS.clear()


async def test_without_a_session_every_page_sends_to_sign_in(console: AppClient, open_browser: Any) -> None:
    stranger = open_browser()
    await stranger.open(SIGN_IN)  # a form token of its own does not help
    checked = pages(console.app)
    assert {"GET /console", "POST /console/modules/{area:str}/{plugin:str}/enable",
            "GET /console/notices", "POST /console/notices"} <= {p.key for p in checked}
    for page in checked:
        response = await send(stranger, page, YUNXI_TOWN)
        assert response.status_code == 303, page.key
        assert response.headers["location"].startswith(SIGN_IN), page.key


async def test_public_pages_answer_without_a_session(console: AppClient, open_browser: Any) -> None:
    stranger = open_browser()
    assert (await stranger.open(SIGN_IN)).status_code == 200
    assert (await stranger.get(f"{CONSOLE}/static/console.css")).status_code == 200
    assert (await stranger.submit(f"{CONSOLE}/language", {"lang": "en"})).status_code == 303


async def test_a_role_without_the_permission_is_refused(console: AppClient, township_staff: dict[str, Browser]) -> None:
    permissions = {role.name: set(await role_permissions(console, role.name)) for role in BUILTIN_ROLES}
    refused: dict[str, int] = {page.key: 0 for page in pages(console.app) if page.permission}
    for page in pages(console.app):
        for role, browser in township_staff.items():
            if role == "meilin" or page.permission is None:
                continue
            held = ALL_PERMISSIONS in permissions[role] or page.permission in permissions[role]
            await browser.open(f"{CONSOLE}/password")  # a fresh form token
            response = await send(browser, page, YUNXI_TOWN)
            if held:
                # Past the guard the service answers: an empty form is incomplete (422), a second
                # "disable" finds the account disabled (409), the binding an earlier role removed is gone (404).
                answers = (200, 303) if page.method == "GET" else FORM_ANSWERS + ((404,) if page.names_a_thing else ())
                assert response.status_code in answers, (page.key, role, response.status_code, response.text[:300])
            else:
                refused[page.key] += 1
                assert response.status_code == 403, (page.key, role)
    assert min(refused.values()) >= 1, refused  # every guarded page to some role (the kiosk, at least)


async def role_permissions(console: AppClient, role: str) -> list[str]:
    from tulou.identity.accounts_models import Role

    return (await Role.get(name=role)).permissions


async def test_another_townships_pages_are_not_found(console: AppClient, township_staff: dict[str, Browser]) -> None:
    meilin = township_staff["meilin"]
    held = set(await role_permissions(console, "township_admin"))
    aimed = [page for page in pages(console.app) if page.names_a_townships_own]
    assert len(aimed) >= 15
    for page in aimed:
        await meilin.open(f"{CONSOLE}/password")
        response = await send(meilin, page, YUNXI_TOWN)
        # without the permission anywhere (a county one), refused before the object is looked for: 403
        assert response.status_code == (404 if page.permission in held | {None} else 403), page.key
        shown = response.text.replace(page.url(YUNXI_TOWN), "")  # the address asked for, echoed for the language switch
        assert "云溪" not in shown and YUNXI_TOWN not in shown and YUNXI_RESIDENT not in shown, page.key
    for page in pages(console.app):
        if page.method == "GET" and not page.path_params and page.permission in held | {None}:
            shown = await meilin.get(page.url(MEILIN_TOWNSHIP), follow_redirects=True)
            assert shown.status_code == 200, page.key
            assert [marker for marker in (*YUNXI_MARKERS, YUNXI_RESIDENT) if marker in shown.text] == [], page.key
