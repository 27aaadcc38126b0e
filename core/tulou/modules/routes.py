"""``/api/v1/areas/{code}/modules``: which modules a township runs, and switching them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.params import FromPath

from tulou.modules import service
from tulou.security.guards import PUBLIC, current_principal, requires

MANAGE = "modules:manage"


class ModuleController(Controller):
    path = "/api/v1/areas/{code:str}/modules"
    tags = ["modules"]

    @get("/", opt=PUBLIC, summary="Modules and whether each is on for a township")
    async def list_modules(self, request: Request, code: FromPath[str]) -> list[dict[str, Any]]:
        principal = await current_principal(request)
        shown = principal is not None and principal.has_permission(MANAGE, code)
        return await service.module_states(request.app.state.platform, code, actor_shown=shown)

    @put("/{plugin:str}", guards=[requires(MANAGE)], summary="Enable a module for a township")
    async def enable(self, request: Request, code: FromPath[str], plugin: FromPath[str]) -> Response[dict[str, Any]]:
        platform = request.app.state.platform
        actor = (await current_principal(request)).id
        changed = await service.activate_module(platform, code, plugin, actor)
        state = await _state(platform, code, plugin)
        return Response(state, status_code=201 if changed else 200)

    @delete("/{plugin:str}", guards=[requires(MANAGE)], status_code=200, summary="Disable a module")
    async def disable(self, request: Request, code: FromPath[str], plugin: FromPath[str]) -> dict[str, Any]:
        platform = request.app.state.platform
        actor = (await current_principal(request)).id
        await service.deactivate_module(platform, code, plugin, actor)
        return await _state(platform, code, plugin)


async def _state(platform: Any, code: str, plugin: str) -> dict[str, Any]:
    states = await service.module_states(platform, code, actor_shown=True)
    return next(state for state in states if state["plugin"] == plugin)
