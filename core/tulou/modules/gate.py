"""The module gate: a plugin's routes answer only for areas whose township enabled it."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tulou.errors import Invalid, NotFound, Unavailable
from tulou.i18n import gettext as _
from tulou.plugins.manager import PluginStatus
from tulou.plugins.manifest import ActivationPolicy

PLUGIN_OPT = "plugin"


async def module_gate(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard every plugin route: plugin working, area named and known, module on there."""
    plugin = handler.opt[PLUGIN_OPT]
    platform = connection.app.state.platform
    record = platform.plugins.get(plugin)
    if record.status is PluginStatus.FAILED:
        raise Unavailable(_("Module %(name)s is unavailable: %(reason)s") % {"name": plugin, "reason": record.reason})
    if record.status is PluginStatus.STARTING:
        raise Unavailable(_("Module %(name)s is still starting") % {"name": plugin})
    area = connection.path_params.get("area") or connection.query_params.get("area")
    if not area:
        raise Invalid(_("This route needs an area"), field="area")
    index = await platform.activations.fresh()
    if not index.area_exists(str(area)):
        raise NotFound(_("Area %(code)s not found") % {"code": area}, field="area")
    if record.activation is not ActivationPolicy.REQUIRED and not index.is_enabled(str(area), plugin):
        raise NotFound(_("Module not enabled for this area"), field="area")
