"""Mounting the console on the app: its pages, static files, templates, guards and error pages."""

from __future__ import annotations

import logging

from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.plugins import InitPlugin
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from tulou.console.account_pages import AccountsController, RolesController
from tulou.console.account_routes import SessionController
from tulou.console.area_pages import AreasController
from tulou.console.audit_pages import AuditController
from tulou.console.client_pages import ClientsController
from tulou.console.csrf import csrf_protected
from tulou.console.dataset_pages import DatasetPagesController, SubscriptionPagesController
from tulou.console.device_pages import AlertsController, DevicesController
from tulou.console.errors import EXCEPTION_HANDLERS
from tulou.console.guards import console_session
from tulou.console.job_pages import JobsController
from tulou.console.layout import STATIC_DIR, STATIC_PATH
from tulou.console.menu import served_paths, unserved_pages
from tulou.console.middleware import ConsoleMiddleware
from tulou.console.model_pages import DeviceModelsController
from tulou.console.organisation_pages import OrganisationsController
from tulou.console.page_routes import ModulesController, OverviewController
from tulou.console.people_imports import PeopleImports
from tulou.console.plugin_pages import plugin_console_routers
from tulou.console.people_pages import HouseholdsController, PeopleController, PeopleImportController
from tulou.console.sharing_pages import AgreementPagesController, SharingRequestsController
from tulou.console.templating import template_engine
from tulou.platform import Platform
from tulou.security.guards import PUBLIC

log = logging.getLogger("tulou.console")
#: Static files are named by content (``?v=<digest>``), so browsers may keep them a day.
STATIC_CACHE = CacheControlHeader(max_age=24 * 3600, public=True)


#: The core's pages, a controller each (or a few for one subject), in menu order.
PAGE_CONTROLLERS = (
    SessionController,
    OverviewController,
    ModulesController,
    AreasController,
    PeopleController,
    PeopleImportController,
    HouseholdsController,
    DatasetPagesController,
    SharingRequestsController,
    AgreementPagesController,
    SubscriptionPagesController,
    DevicesController,
    AlertsController,
    DeviceModelsController,
    AccountsController,
    RolesController,
    OrganisationsController,
    ClientsController,
    AuditController,
    JobsController,
)


def console_router(platform: Platform) -> Router:
    """Every console route, the plugins' pages too, behind the session guard (public pages excepted), then the form-token check."""
    static = create_static_files_router(
        path=STATIC_PATH, directories=[STATIC_DIR], name="console-static", opt={**PUBLIC, "static": True},
        cache_control=STATIC_CACHE,
    )
    return Router(
        path="/",
        route_handlers=[*PAGE_CONTROLLERS, *plugin_console_routers(platform), static],
        guards=[console_session, csrf_protected],
        middleware=[ConsoleMiddleware],
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
    )


class ConsolePlugin(InitPlugin):
    """Adds the console at ``/console/`` and the template engine its pages render with."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        engine = template_engine(self.platform.settings, self.platform.registry.console_templates)
        app_config.template_config = TemplateConfig(instance=engine)
        app_config.route_handlers.append(console_router(self.platform))
        app_config.on_startup.append(self.warn_of_unserved_pages)
        people_imports = PeopleImports()
        app_config.state["people_imports"] = people_imports
        app_config.on_shutdown.append(people_imports.close)
        return app_config

    def warn_of_unserved_pages(self, app: Litestar) -> None:
        """A plugin's menu entry that no route serves is left out of the menu, and said so once."""
        for page in unserved_pages(self.platform, served_paths(app)):
            log.warning("console page %s has no route: left out of the menu", page)
