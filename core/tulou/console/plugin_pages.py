"""Plugins' console pages: mounted inside the console behind the core's guards, rendered in its layout.

A plugin registers its page handlers (``register_console_routes``) and its templates
(``register_console_templates``); the core mounts the handlers under ``/console/<plugin>``
behind the session guard, the form-token check and the module gate, and
:func:`console_page` renders a plugin's template inside the layout, in its catalogue.
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar import Request, Router
from litestar.connection import ASGIConnection
from litestar.response import Template
from markupsafe import Markup

from tulou.areas.codes import township_code
from tulou.areas.models import Area
from tulou.console.guards import session_holding
from tulou.console.layout import CONSOLE, laid_out
from tulou.console.pickers import areas_holding
from tulou.i18n import plugin_first
from tulou.modules.gate import PLUGIN_OPT, console_module_gate, enabled_townships
from tulou.platform import Platform


def plugin_console_routers(platform: Platform) -> list[Router]:
    """Each working plugin's console handlers under ``/console/<plugin>``, behind the module gate."""
    return [
        Router(path=f"{CONSOLE}/{plugin}", route_handlers=handlers, guards=[console_module_gate],
               opt={PLUGIN_OPT: plugin}, include_in_schema=False)
        for plugin, handlers in sorted(platform.registry.console_routes.items())
    ]


def page_plugin(connection: ASGIConnection) -> str:
    """The plugin whose console page is being served (its router says so)."""
    return connection.route_handler.opt[PLUGIN_OPT]


def _template_translations(plugin: str) -> dict[str, Any]:
    """``gettext`` and ``ngettext`` as Jinja's new-style i18n calls them (``_()`` included), in the plugin's words first."""
    plugin_gettext, plugin_ngettext = plugin_first(plugin)

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> str:
        text = plugin_gettext(message)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, count: int, **variables: Any) -> str:
        text = plugin_ngettext(singular, plural, count)
        variables.setdefault("num", count)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    return {"gettext": gettext, "ngettext": ngettext}


async def console_page(request: Request, template: str, *, status: int = 200, **context: Any) -> Template:
    """The plugin's ``template`` inside the console's layout (menu, caller, form token in ``csrf``)."""
    plugin = page_plugin(request)
    return await laid_out(request, f"{plugin}/{template}", status=status,
                          **_template_translations(plugin), **context)


async def module_areas(connection: ASGIConnection, permission: str) -> list[Area]:
    """The areas where the caller holds ``permission`` within townships running the page's plugin, parents first.

    What a plugin's page may list and its pickers offer: never another township, nor one
    that has not switched the module on.
    """
    townships = await enabled_townships(connection.app.state.platform, page_plugin(connection))
    areas = await areas_holding(session_holding(connection, permission), permission)
    return [area for area in areas
            if (town := township_code(area.code)) is not None and (townships is None or town in townships)]
