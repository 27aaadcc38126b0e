"""The public plugin API: everything a plugin may import from Tulou, and nothing else.

Anything not re-exported here is private to the core and may change without notice.
Plugins use Litestar, Tortoise and pydantic directly for routes, models and settings.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from tulou import STANDARD_VERSION
from tulou.areas.codes import AreaLevel, is_within, level_of, parent_code, township_code
from tulou.areas.models import Area
from tulou.areas.service import get_area
from tulou.console.forms import Form as ConsoleForm
from tulou.console.layout import see_other
from tulou.console.plugin_pages import console_page, module_areas
from tulou.console.templating import area_label
from tulou.devices.events import DeviceEvent
from tulou.errors import Conflict, Forbidden, Invalid, NotFound, Problem, Unauthorized, Unavailable
from tulou.i18n import translator
from tulou.jobs.job import Job
from tulou.plugins import hookimpl
from tulou.plugins.manifest import ActivationPolicy, PluginManifest
from tulou.plugins.registrations import ConsolePage, DatasetSchema, DeviceModelSpec, Permission, PersonTag
from tulou.security.guards import PUBLIC, current_principal, requires
from tulou.security.principal import Principal


def plugin_settings(connection: ASGIConnection, plugin: str) -> Any:
    """A plugin's own settings section (the model it registered), from a request."""
    return connection.app.state.platform.plugin_settings(plugin)


__all__ = [
    "PUBLIC",
    "STANDARD_VERSION",
    "ActivationPolicy",
    "Area",
    "AreaLevel",
    "Conflict",
    "ConsoleForm",
    "ConsolePage",
    "DatasetSchema",
    "DeviceEvent",
    "DeviceModelSpec",
    "Forbidden",
    "Invalid",
    "Job",
    "NotFound",
    "Permission",
    "PersonTag",
    "PluginManifest",
    "Principal",
    "Problem",
    "Unauthorized",
    "Unavailable",
    "area_label",
    "console_page",
    "current_principal",
    "get_area",
    "hookimpl",
    "is_within",
    "level_of",
    "module_areas",
    "parent_code",
    "plugin_settings",
    "requires",
    "see_other",
    "township_code",
    "translator",
]
