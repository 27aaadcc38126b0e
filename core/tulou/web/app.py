"""The app factory: one Litestar app per :class:`~tulou.platform.Platform`."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.plugins import InitPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from tulou import __version__
from tulou.areas.routes import AreaController
from tulou.console.plugin import ConsolePlugin
from tulou.audit.routes import AuditController
from tulou.devices.alert_routes import AlertController, DeviceAlertRuleController
from tulou.devices.model_routes import DeviceModelController
from tulou.devices.routes import DeviceController, ProvisioningController
from tulou.devices.runtime import DeviceRuntime
from tulou.i18n import install
from tulou.exchange.agreement_routes import AgreementController
from tulou.exchange.bulk_routes import BulkController
from tulou.exchange.record_routes import RecordController
from tulou.exchange.routes import DatasetController
from tulou.exchange.subscription_routes import SubscriptionController
from tulou.identity.account_routes import AccountController, AuthController, MeController, RoleBindingController
from tulou.identity.client_routes import ClientController, OAuthController
from tulou.identity.membership_routes import MembershipController
from tulou.identity.role_routes import RoleController
from tulou.identity.routes import HouseholdController, OrganisationController, PersonController, PersonTagController
from tulou.logs import configure_logging
from tulou.modules.gate import PLUGIN_OPT, module_gate
from tulou.modules.routes import ModuleController
from tulou.platform import Platform, build_platform
from tulou.security.guards import PUBLIC
from tulou.plugins.routes import PluginController
from tulou.web.health import healthz, readyz
from tulou.web.lifespan import lifespan_for
from tulou.web.middleware import RequestContextMiddleware
from tulou.web.problems import EXCEPTION_HANDLERS

API_PREFIX = "/api/v1"


class MetricsController(PrometheusController):
    """``/metrics`` for the county's monitoring; nginx limits who reaches it (deploy/nginx)."""

    opt = PUBLIC


class PluginRoutes(InitPlugin):
    """Mounts each working plugin's routes under ``/api/v1/<plugin>/`` behind the module gate."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        for plugin, handlers in sorted(self.platform.registry.routes.items()):
            app_config.route_handlers.append(
                Router(
                    path=f"{API_PREFIX}/{plugin}",
                    route_handlers=handlers,
                    guards=[module_gate],
                    opt={PLUGIN_OPT: plugin},
                    tags=[f"plugin: {plugin}"],
                )
            )
        return app_config


def create_app(plugins: list[object] | None = None, platform: Platform | None = None, **settings: Any) -> Litestar:
    """Build the app; tests pass ``plugins`` explicitly instead of relying on entry points."""
    platform = platform or build_platform(plugins, **settings)
    install(platform.catalogs)
    prometheus = PrometheusConfig(app_name="tulou", group_path=True)
    app = Litestar(
        route_handlers=[
            healthz, readyz, MetricsController, AreaController, ModuleController, PluginController, AuditController,
            PersonController, PersonTagController, OrganisationController, HouseholdController,
            AuthController, MeController, AccountController, RoleBindingController, MembershipController,
            ClientController, OAuthController,
            RoleController,
            DatasetController, RecordController, BulkController, AgreementController, SubscriptionController,
            DeviceModelController, DeviceController, ProvisioningController, AlertController, DeviceAlertRuleController,
        ],
        plugins=[PluginRoutes(platform), ConsolePlugin(platform)],
        lifespan=[lifespan_for(platform)],
        middleware=[prometheus.middleware],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=platform.settings.web.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Tulou", version=__version__, path="/schema"),
        state=State({"platform": platform, "devices": DeviceRuntime(platform)}),
        logging_config=None,  # logs go through tulou.logs, set up by the server process
        debug=False,
    )
    # Outside the router, so unmatched paths (404, 405) get a request id, a log line
    # and a translated problem body too; Litestar middleware only wraps matched routes.
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler, default_locale=platform.settings.default_locale)
    return app


def app_from_environment() -> Litestar:
    """Factory for the ASGI server: settings and plugins come from the environment."""
    platform = build_platform()
    configure_logging(platform.settings.log_level)
    return create_app(platform=platform)
