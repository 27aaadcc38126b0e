"""Hook specifications: everything a plugin can tell the core or be told by it.

Registration hooks receive a ``register`` callback instead of returning lists, so
the core can check each item at once and name the plugin that got it wrong. Every
implementation is called on its own: an exception marks only its own plugin failed.

Lifecycle hooks (``module_enabled``, ``module_disabled``, ``app_started``,
``app_stopping``) and ``device_event`` may be ``async def``; the core awaits them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel

from tulou.plugins import PROJECT_NAME

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ControllerRouterHandler

    from tulou.areas.models import Area
    from tulou.devices.events import DeviceEvent
    from tulou.jobs.job import Job
    from tulou.plugins.manifest import PluginManifest
    from tulou.plugins.registrations import (
        ConsolePage,
        DatasetSchema,
        DeviceModelSpec,
        Permission,
        PersonTag,
    )

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def plugin_manifest() -> PluginManifest:
    """Return the plugin's :class:`~tulou.api.PluginManifest`.

    Called once at start-up, before any other hook. The manifest's ``name`` must equal
    the entry-point name; its ``requires_standard`` must admit the core's standard
    version, or the plugin is marked failed.

    .. versionadded:: 0.1
    """


@hookspec
def register_settings(register: Callable[[type[BaseModel]], None]) -> None:
    """Register the pydantic model of the plugin's settings section.

    The section is named after the plugin and read from ``TULOU_<NAME>__<FIELD>``;
    every field needs a default. Read it at run time with
    ``tulou.api.plugin_settings(connection, "<name>")``.

    :param register: call once with a ``pydantic.BaseModel`` subclass.

    .. versionadded:: 0.1
    """


@hookspec
def register_models(register: Callable[[str, str], None]) -> None:
    """Register the plugin's Tortoise models module and its migrations package.

    Table names must start with the plugin's name (``Meta.table = "notices_notice"``).
    ``tulou migrate`` applies the plugin's migrations after the core's.

    :param register: call as ``register("pkg.models", "pkg.migrations")``.

    .. versionadded:: 0.1
    """


@hookspec
def register_routes(register: Callable[[ControllerRouterHandler], None]) -> None:
    """Register Litestar route handlers, controllers or routers.

    They are mounted under ``/api/v1/<plugin>/`` behind the module gate: every handler
    must take its area as a path or query parameter named ``area``, and answers 404
    for areas whose township has not enabled the module.

    :param register: call once per handler, controller or router.

    .. versionadded:: 0.1
    """


@hookspec
def register_jobs(register: Callable[[Job], None]) -> None:
    """Register scheduled jobs (:class:`~tulou.api.Job`), run only by the leader process.

    A per-area job runs once per township where the module is enabled.

    :param register: call once per job.

    .. versionadded:: 0.1
    """


@hookspec
def register_translations(register: Callable[[str], None]) -> None:
    """Register the directory holding the plugin's compiled message catalogues.

    The directory holds ``<locale>/LC_MESSAGES/<plugin>.mo`` for ``zh_CN`` and ``en``;
    the catalogue's domain is the plugin's name.

    :param register: call with the path of the ``locale`` directory.

    .. versionadded:: 0.1
    """


@hookspec
def register_permissions(register: Callable[[Permission], None]) -> None:
    """Declare the permissions the plugin's routes check (:class:`~tulou.api.Permission`).

    Names are ``<plugin>:<action>``; roles in the identity standard grant them.

    :param register: call once per permission.

    .. versionadded:: 0.1
    """


@hookspec
def register_person_tags(register: Callable[[PersonTag], None]) -> None:
    """Add tags residents may carry (:class:`~tulou.api.PersonTag`), beyond the core's.

    :param register: call once per tag. A code the core or another plugin already
        uses fails the plugin.

    .. versionadded:: 0.1
    """


@hookspec
def register_console_pages(register: Callable[[ConsolePage], None]) -> None:
    """Add menu entries to the admin console (:class:`~tulou.api.ConsolePage`).

    :param register: call once per page.

    .. versionadded:: 0.1
    """


@hookspec
def register_console_routes(register: Callable[[ControllerRouterHandler], None]) -> None:
    """Register Litestar handlers, controllers or routers that serve the plugin's console pages.

    They are mounted under ``/console/<plugin>/`` (a :class:`~tulou.api.ConsolePage` at
    ``/console/<plugin>`` puts the first in the menu) behind the same guards as the core's
    pages: a signed-in session, the form token on every POST, and the module gate. A page
    naming an ``area`` answers 404 where its township has not enabled the module; a page
    naming none opens only if some township in the caller's areas runs it. Every handler
    must also take ``guards=[requires("<plugin>:<action>")]`` (or ``signed_in``).
    Render pages with :func:`tulou.api.console_page`.

    :param register: call once per handler, controller or router.

    .. versionadded:: 0.2
    """


@hookspec
def register_console_templates(register: Callable[[str], None]) -> None:
    """Register the directory of the plugin's console page templates (Jinja).

    A template ``board.html`` in it is rendered by ``console_page(request, "board.html")``;
    it may ``{% extends "console/base.html" %}`` and import the core's form macros from
    ``"console/forms.html"``. ``_()`` in it translates in the plugin's catalogue first,
    then the core's.

    :param register: call once with the path of the directory.

    .. versionadded:: 0.2
    """


@hookspec
def register_datasets(register: Callable[[DatasetSchema], None]) -> None:
    """Publish datasets in the data-exchange catalogue (:class:`~tulou.api.DatasetSchema`).

    :param register: call once per dataset version.

    .. versionadded:: 0.1
    """


@hookspec
def register_device_models(register: Callable[[DeviceModelSpec], None]) -> None:
    """Add device models to the device registry (:class:`~tulou.api.DeviceModelSpec`).

    :param register: call once per device model.

    .. versionadded:: 0.1
    """


@hookspec
def device_event(event: DeviceEvent) -> Awaitable[None] | None:
    """Hear of something that happened to a device: that it went online or offline, or that an alert of it
    was raised, cleared or acknowledged.

    Called after the change has been recorded and committed, once per event, for
    devices in townships where the module is on. May be ``async def``; raising is
    logged and does not undo the event or fail the plugin.

    :param event: a :class:`~tulou.api.DeviceEvent`.

    .. versionadded:: 0.1
    """


@hookspec
def module_enabled(area: Area, actor: str) -> Awaitable[None] | None:
    """Provision the module for a township that has just enabled it.

    Runs inside the activation's database transaction: raising rolls the activation
    (and anything the hook wrote) back, and the caller is told why.

    :param area: the township.
    :param actor: who enabled it.

    .. versionadded:: 0.1
    """


@hookspec
def module_disabled(area: Area, actor: str) -> Awaitable[None] | None:
    """Suspend the module for a township that has just disabled it.

    Keep the township's data: it may enable the module again. Raising rolls the
    deactivation back.

    :param area: the township.
    :param actor: who disabled it.

    .. versionadded:: 0.1
    """


@hookspec
def app_started(app: Litestar) -> Awaitable[None] | None:
    """Called when the app has started and the database is open.

    Runs concurrently with other plugins' start-up; the core warns after
    ``TULOU_PLUGIN_RUNTIME__STARTUP_WARN_SECONDS`` and marks the plugin failed after
    ``TULOU_PLUGIN_RUNTIME__STARTUP_TIMEOUT_SECONDS``.

    :param app: the running Litestar app.

    .. versionadded:: 0.1
    """


@hookspec
def app_stopping(app: Litestar) -> Awaitable[None] | None:
    """Called before the app shuts down and the database closes.

    :param app: the running Litestar app.

    .. versionadded:: 0.1
    """


HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, value in dict(globals()).items() if hasattr(value, "tulou_spec")
)
__all__: list[Any] = ["hookspec", "HOOK_NAMES"]
