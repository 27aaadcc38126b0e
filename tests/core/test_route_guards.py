"""Every route, the core's and the built-in plugins', is guarded or explicitly public."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar

from tulou.modules.gate import module_gate
from tulou.plugins.registry import LITESTAR_OPTIONS_HANDLER

API_DOCS_PREFIX = "/schema"  # Litestar's OpenAPI pages: public by design


def unguarded_routes(app: Litestar) -> list[str]:
    """Routes with no guard but the module gate (which checks the area, not the caller) and no PUBLIC mark."""
    found = []
    for route in app.routes:
        if route.path.startswith(API_DOCS_PREFIX):
            continue
        for handler in getattr(route, "route_handlers", []):
            if handler.fn.__qualname__ == LITESTAR_OPTIONS_HANDLER:
                continue
            guards = [guard for guard in handler.resolve_guards() if guard is not module_gate]
            if not guards and not handler.opt.get("public"):
                found.append(f"{sorted(handler.http_methods)} {route.path}")
    return found


def test_no_route_is_left_unguarded(make_app: Callable[..., Litestar]) -> None:
    app = make_app()
    assert app.state.platform.registry.routes, "the built-in plugins' routes must be loaded"
    assert unguarded_routes(app) == []


def test_the_check_notices_a_route_without_guard(make_app: Callable[..., Litestar]) -> None:
    from litestar import get

    @get("/api/v1/forgotten")
    async def forgotten() -> None: ...

    app = make_app()
    app.register(forgotten)
    assert unguarded_routes(app) == ["['GET'] /api/v1/forgotten"]
