"""The module gate: a plugin's routes answer only for areas whose township enabled it.

The API's routes name their area; a plugin's console pages may instead list what the
caller covers, so their gate asks only that the module be on somewhere in the caller's areas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tulou.areas.codes import is_within
from tulou.errors import Invalid, NotFound, Unavailable
from tulou.i18n import gettext as _
from tulou.plugins.manager import PluginRecord, PluginStatus
from tulou.plugins.manifest import ActivationPolicy
from tulou.security.guards import current_principal

if TYPE_CHECKING:
    from tulou.platform import Platform

PLUGIN_OPT = "plugin"


def _working(platform: Platform, plugin: str) -> PluginRecord:
    """The plugin's record, or 503 while it is failed or still starting."""
    record = platform.plugins.get(plugin)
    if record.status is PluginStatus.FAILED:
        raise Unavailable(_("Module %(name)s is unavailable: %(reason)s") % {"name": plugin, "reason": record.reason})
    if record.status is PluginStatus.STARTING:
        raise Unavailable(_("Module %(name)s is still starting") % {"name": plugin})
    return record


async def _check_area(platform: Platform, record: PluginRecord, area: str) -> None:
    index = await platform.activations.fresh()
    if not index.area_exists(area):
        raise NotFound(_("Area %(code)s not found") % {"code": area}, field="area")
    if record.activation is not ActivationPolicy.REQUIRED and not index.is_enabled(area, record.name):
        raise NotFound(_("Module not enabled for this area"), field="area")


def _named_area(connection: ASGIConnection) -> str | None:
    area = connection.path_params.get("area") or connection.query_params.get("area")
    return str(area) if area else None


async def module_gate(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard every plugin API route: plugin working, area named and known, module on there."""
    platform = connection.app.state.platform
    record = _working(platform, handler.opt[PLUGIN_OPT])
    area = _named_area(connection)
    if not area:
        raise Invalid(_("This route needs an area"), field="area")
    await _check_area(platform, record, area)


async def enabled_townships(platform: Platform, plugin: str) -> frozenset[str] | None:
    """The townships running ``plugin``; ``None`` for a module every township runs."""
    record = platform.plugins.get(plugin)
    if record is not None and record.activation is ActivationPolicy.REQUIRED:
        return None
    return (await platform.activations.fresh()).enabled_townships(plugin)


async def module_on_within(platform: Platform, plugin: str, roots: tuple[str, ...] | None) -> bool:
    """Whether some township in ``roots`` (None: anywhere) runs ``plugin``."""
    townships = await enabled_townships(platform, plugin)
    if townships is None:
        return True
    return any(roots is None or any(is_within(town, root) for root in roots) for town in townships)


async def console_module_gate(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard a plugin's console pages as its API routes are: an area the page names must run the
    module; a page naming none opens only to a caller in whose areas some township runs it.

    Runs after the console's session guard, which has put the caller in the scope.
    """
    platform = connection.app.state.platform
    record = _working(platform, handler.opt[PLUGIN_OPT])
    area = _named_area(connection)
    if area:
        await _check_area(platform, record, area)
        return
    principal = await current_principal(connection)
    if principal is None or not await module_on_within(platform, record.name, principal.area_roots):
        raise NotFound(_("Module not enabled for your areas"))
