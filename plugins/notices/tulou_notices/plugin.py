"""The notice board's hook implementations: each hands the core one piece of the plugin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from litestar.types import ControllerRouterHandler
from pydantic import BaseModel

from tulou.api import ActivationPolicy, ConsolePage, Job, Permission, PluginManifest, hookimpl
from tulou_notices.console import NoticeBoardPage
from tulou_notices.i18n import LOCALE_DIR, lazy_gettext
from tulou_notices.jobs import JOBS
from tulou_notices.permissions import PERMISSIONS, PUBLISH
from tulou_notices.routes import NoticeController
from tulou_notices.settings import NoticesSettings

NAME = "notices"
TEMPLATES = Path(__file__).parent / "templates"


@hookimpl
def plugin_manifest() -> PluginManifest:
    return PluginManifest(
        name=NAME,
        version="0.1.0",
        title=lazy_gettext("Notice board"),
        description=lazy_gettext(
            "Notices published to villages and townships, open to every resident"
        ),
        requires_standard=">=1.0,<2",
        activation=ActivationPolicy.OPTIONAL,
    )


@hookimpl
def register_settings(register: Callable[[type[BaseModel]], None]) -> None:
    register(NoticesSettings)


@hookimpl
def register_models(register: Callable[[str, str], None]) -> None:
    register("tulou_notices.models", "tulou_notices.migrations")


@hookimpl
def register_translations(register: Callable[[str], None]) -> None:
    register(str(LOCALE_DIR))


@hookimpl
def register_permissions(register: Callable[[Permission], None]) -> None:
    for permission in PERMISSIONS:
        register(permission)


@hookimpl
def register_routes(register: Callable[[ControllerRouterHandler], None]) -> None:
    register(NoticeController)


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    for job in JOBS:
        register(job)


@hookimpl
def register_console_pages(register: Callable[[ConsolePage], None]) -> None:
    register(
        ConsolePage(path="/console/notices", title=lazy_gettext("Notice board"), permission=PUBLISH)
    )


@hookimpl
def register_console_routes(register: Callable[[ControllerRouterHandler], None]) -> None:
    register(NoticeBoardPage)


@hookimpl
def register_console_templates(register: Callable[[str], None]) -> None:
    register(str(TEMPLATES))
