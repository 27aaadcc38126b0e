"""The overview and the modules pages: thin handlers over :mod:`tulou.console.overview` and :mod:`tulou.console.modules`.

Each takes the guard its API route takes (``requires("modules:manage")`` with the
township in the path), so a page answers 404 for a township outside the caller's areas.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from tulou.console import modules
from tulou.console.layout import CONSOLE, fragment, page, see_other
from tulou.console.overview import overview
from tulou.errors import Problem
from tulou.identity.routes import caller
from tulou.modules import service
from tulou.security.guards import requires, signed_in

MANAGE = requires(modules.MANAGE)
DONE = {"enable": "enabled", "disable": "disabled"}


def from_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


class OverviewController(Controller):
    path = CONSOLE
    include_in_schema = False

    @get("/", guards=[signed_in])
    async def overview_page(self, request: Request) -> Any:
        summary = await overview(request.app.state.platform, await caller(request))
        return await page(request, "overview.html", overview=summary)


class ModulesController(Controller):
    path = f"{CONSOLE}/modules"
    include_in_schema = False

    @get("/", guards=[MANAGE])
    async def townships_page(self, request: Request) -> Any:
        townships = await modules.managed_townships(await caller(request))
        if len(townships) == 1:
            return see_other(f"{self.path}/{townships[0].code}")
        return await page(request, "townships.html", townships=townships)

    @get("/{area:str}", guards=[MANAGE])
    async def modules_page(self, request: Request, area: FromPath[str], done: FromQuery[str | None] = None,
                           plugin: FromQuery[str | None] = None) -> Any:
        township, cards = await modules.module_cards(request.app.state.platform, area)
        changed = next((card for card in cards if card.name == plugin), None) if done in DONE.values() else None
        return await page(request, "modules.html", township=township, cards=cards, changed=changed, done=done,
                          policy_label=modules.policy_label)

    @get("/{area:str}/{plugin:str}/enable", guards=[MANAGE])
    async def confirm_enable(self, request: Request, area: FromPath[str], plugin: FromPath[str]) -> Any:
        return await self._confirmation(request, area, plugin, "enable")

    @get("/{area:str}/{plugin:str}/disable", guards=[MANAGE])
    async def confirm_disable(self, request: Request, area: FromPath[str], plugin: FromPath[str]) -> Any:
        return await self._confirmation(request, area, plugin, "disable")

    @post("/{area:str}/{plugin:str}/enable", guards=[MANAGE])
    async def enable(self, request: Request, area: FromPath[str], plugin: FromPath[str]) -> Any:
        return await self._switch(request, area, plugin, "enable")

    @post("/{area:str}/{plugin:str}/disable", guards=[MANAGE])
    async def disable(self, request: Request, area: FromPath[str], plugin: FromPath[str]) -> Any:
        return await self._switch(request, area, plugin, "disable")

    async def _confirmation(self, request: Request, area: str, plugin: str, action: str,
                            error: str | None = None, status: int = 200) -> Any:
        township, card = await modules.module_card(request.app.state.platform, area, plugin)
        context = {"township": township, "card": card, "action": action, "error": error}
        if from_htmx(request) and error is None:
            return fragment(request, "module_confirm_panel.html", **context)
        return await page(request, "module_confirm.html", status=status, **context)

    async def _switch(self, request: Request, area: str, plugin: str, action: str) -> Any:
        platform = request.app.state.platform
        actor = (await caller(request)).id
        switch = service.activate_module if action == "enable" else service.deactivate_module
        try:
            await switch(platform, area, plugin, actor)
        except Problem as refused:
            return await self._confirmation(request, area, plugin, action, refused.detail, refused.status)
        return see_other(f"{self.path}/{area}?done={DONE[action]}&plugin={plugin}")
