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
from tests.core.isolation import required_permission
from tulou.identity.roles import BUILTIN_ROLES
from tulou.plugins.registry import LITESTAR_OPTIONS_HANDLER
from tulou.security.guards import signed_in
from tulou.security.principal import ALL_PERMISSIONS

CONSOLE = "/console"
#: Open to anybody: signing in, the language switch (before signing in too) and the static files.
PUBLIC_PAGES = {
    "GET /console/sign-in", "POST /console/sign-in", "POST /console/language",
    "GET /console/static/{file_path:path}", "HEAD /console/static/{file_path:path}",
}


@dataclass(frozen=True)
class Things:
    """One township's objects that console pages name in their path."""

    account: int  # homed in the township, holding the kiosk role in one of its villages
    binding: int  # that role binding
    organisation: int
    client: int  # a system client of the organisation, acting in the township


#: Path parameter -> its value for a township (and its things, once made): what a page names it by.
PATH_PARAMS: dict[str, Callable[[str, Things | None], object]] = {
    "area": lambda township, _things: township,
    "plugin": lambda _township, _things: "notices",
    "file_path": lambda _township, _things: "console.css",
    "account_id": lambda _township, things: things.account if things else 0,
    "binding_id": lambda _township, things: things.binding if things else 0,
    "organisation_id": lambda _township, things: things.organisation if things else 0,
    "client_id": lambda _township, things: things.client if things else 0,
    "job": lambda _township, _things: "tulou.purge_expired_tokens",
}
#: What gives Yunxi away on a page: its name, its area codes, its staff's usernames, its things' names.
YUNXI_MARKERS = ("云溪镇", YUNXI_TOWN[:9], "yunxi_", "target_", "测试")
#: Parameters naming the township or something of it: another township's staff must find nothing there.
TOWNSHIP_PARAMS = {"area", "account_id", "binding_id", "organisation_id", "client_id"}


@dataclass(frozen=True)
class Page:
    key: str  # "METHOD path"
    method: str
    path_format: str
    path_params: tuple[str, ...]
    permission: str | None  # None: any signed-in caller

    def url(self, township: str, things: Things | None = None) -> str:
        return self.path_format.format(**{name: PATH_PARAMS[name](township, things) for name in self.path_params})

    @property
    def names_an_area(self) -> bool:
        return bool(TOWNSHIP_PARAMS.intersection(self.path_params))

    @property
    def names_a_thing(self) -> bool:
        return bool((TOWNSHIP_PARAMS - {"area"}).intersection(self.path_params))


async def things_of(client: AppClient, township: str, village: str) -> Things:
    """A target account, its binding, an organisation and a client in ``township``, made by the county."""
    account = await staff(client, f"target_{township}", "kiosk", township)
    binding = await client.get("/api/v1/role-bindings/", params={"account": account}, headers=ADMIN)
    organisation = await client.post("/api/v1/organisations/", headers=ADMIN,
                                      json={"name": "测试合作社", "kind": "other", "area": village})
    assert organisation.status_code == 201, organisation.text
    made = await client.post("/api/v1/clients/", headers=ADMIN, json={
        "name": "测试系统", "organisation": organisation.json()["id"], "area": township, "scopes": ["person:read"]})
    assert made.status_code == 201, made.text
    return Things(account, binding.json()["items"][0]["id"], organisation.json()["id"], made.json()["id"])


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


async def send(browser: Browser, page: Page, township: str, things: Things | None = None) -> Any:
    if page.method == "GET":
        return await browser.get(page.url(township, things))
    return await browser.request(page.method, page.url(township, things), data={"_csrf": browser.form_token})


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


@pytest.fixture
async def township_staff(console: AppClient, open_browser: Callable[[], Browser]) -> AsyncIterator[dict[str, Browser]]:
    """A signed-in browser for every built-in role bound in Yunxi Town, and Meilin's township administrator's."""
    browsers = {}
    for role in BUILTIN_ROLES:
        await staff(console, f"yunxi_{role.name}", role.name)
        browsers[role.name] = open_browser()
        assert (await browsers[role.name].sign_in(f"yunxi_{role.name}")).status_code == 303
    await staff(console, "meilin_admin", "township_admin", MEILIN_TOWNSHIP)
    browsers["meilin"] = open_browser()
    assert (await browsers["meilin"].sign_in("meilin_admin")).status_code == 303
    yield browsers


@pytest.fixture
async def yunxi_things(console: AppClient) -> Things:
    return await things_of(console, YUNXI_TOWN, SHANGPING_VILLAGE)


async def test_without_a_session_every_page_sends_to_sign_in(console: AppClient, open_browser: Any) -> None:
    stranger = open_browser()
    await stranger.open(SIGN_IN)  # a form token of its own does not help
    checked = pages(console.app)
    assert {"GET /console", "POST /console/modules/{area:str}/{plugin:str}/enable"} <= {p.key for p in checked}
    for page in checked:
        response = await send(stranger, page, YUNXI_TOWN)
        assert response.status_code == 303, page.key
        assert response.headers["location"].startswith(SIGN_IN), page.key


async def test_public_pages_answer_without_a_session(console: AppClient, open_browser: Any) -> None:
    stranger = open_browser()
    assert (await stranger.open(SIGN_IN)).status_code == 200
    assert (await stranger.get(f"{CONSOLE}/static/console.css")).status_code == 200
    assert (await stranger.submit(f"{CONSOLE}/language", {"lang": "en"})).status_code == 303


async def test_a_role_without_the_permission_is_refused(
    console: AppClient, township_staff: dict[str, Browser], yunxi_things: Things,
) -> None:
    permissions = {role.name: set(await role_permissions(console, role.name)) for role in BUILTIN_ROLES}
    refused = 0
    for page in pages(console.app):
        for role, browser in township_staff.items():
            if role == "meilin" or page.permission is None:
                continue
            held = ALL_PERMISSIONS in permissions[role] or page.permission in permissions[role]
            await browser.open(f"{CONSOLE}/password")  # a fresh form token
            response = await send(browser, page, YUNXI_TOWN, yunxi_things)
            if held:
                # Past the guard the service answers: an empty form is incomplete (422), a second
                # "disable" finds the account disabled (409), the binding an earlier role removed is gone (404).
                allowed = (200, 303, 404, 409, 422) if page.names_a_thing else (200, 303, 422)
                assert response.status_code in allowed, (page.key, role, response.text[:300])
            else:
                refused += 1
                assert response.status_code == 403, (page.key, role)
    assert refused >= 2 * len([p for p in pages(console.app) if p.permission])  # the kiosk and data steward at least


async def role_permissions(console: AppClient, role: str) -> list[str]:
    from tulou.identity.accounts_models import Role

    return (await Role.get(name=role)).permissions


async def test_another_townships_pages_are_not_found(
    console: AppClient, township_staff: dict[str, Browser], yunxi_things: Things,
) -> None:
    meilin = township_staff["meilin"]
    aimed = [page for page in pages(console.app) if page.names_an_area]
    assert len(aimed) >= 15
    for page in aimed:
        await meilin.open(f"{CONSOLE}/password")
        response = await send(meilin, page, YUNXI_TOWN, yunxi_things)
        assert response.status_code == 404, page.key
        shown = response.text.replace(page.url(YUNXI_TOWN, yunxi_things), "")  # the address, echoed for the language switch
        assert "云溪" not in shown and YUNXI_TOWN not in shown, page.key
    held = set(await role_permissions(console, "township_admin"))
    for page in pages(console.app):
        if page.method == "GET" and not page.names_an_area and (page.permission is None or page.permission in held):
            shown = await meilin.get(page.url(MEILIN_TOWNSHIP), follow_redirects=True)
            assert shown.status_code == 200, page.key
            assert [marker for marker in YUNXI_MARKERS if marker in shown.text] == [], page.key
