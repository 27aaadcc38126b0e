"""The console's menu: the core's pages and the plugins' (``register_console_pages``), as far as the caller may see them."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar
from litestar.routes import HTTPRoute

from tulou.i18n import lazy_gettext
from tulou.platform import Platform
from tulou.modules.gate import module_on_within
from tulou.security.principal import Principal

CONSOLE = "/console"


@dataclass(frozen=True)
class MenuEntry:
    """A page in the menu; ``permission`` held somewhere in the caller's areas shows it."""

    path: str
    title: object
    permission: str | None = None
    order: int = 100
    plugin: str | None = None


#: The core's pages. A later page is one more line here (and its route).
CORE_PAGES = (
    MenuEntry(f"{CONSOLE}/", lazy_gettext("Overview"), None, 0),
    MenuEntry(f"{CONSOLE}/modules", lazy_gettext("Modules"), "modules:manage", 10),
    MenuEntry(f"{CONSOLE}/areas", lazy_gettext("Areas"), None, 20),
    MenuEntry(f"{CONSOLE}/people", lazy_gettext("People"), "person:read", 21),
    MenuEntry(f"{CONSOLE}/households", lazy_gettext("Households"), "household:read", 22),
    MenuEntry(f"{CONSOLE}/devices", lazy_gettext("Devices"), "device:read", 30),
    MenuEntry(f"{CONSOLE}/alerts", lazy_gettext("Alerts"), "device:read", 31),
    MenuEntry(f"{CONSOLE}/device-models", lazy_gettext("Device models"), "device:read", 32),
    MenuEntry(f"{CONSOLE}/datasets", lazy_gettext("Data catalogue"), "dataset:read", 40),
    MenuEntry(f"{CONSOLE}/sharing", lazy_gettext("Sharing requests"), "agreement:decide", 41),
    MenuEntry(f"{CONSOLE}/agreements", lazy_gettext("Sharing agreements"), "dataset:read", 42),
    MenuEntry(f"{CONSOLE}/subscriptions", lazy_gettext("Subscriptions"), "subscription:manage", 43),
    MenuEntry(f"{CONSOLE}/accounts", lazy_gettext("Accounts"), "account:read", 50),
    MenuEntry(f"{CONSOLE}/roles", lazy_gettext("Roles"), "account:read", 51),
    MenuEntry(f"{CONSOLE}/organisations", lazy_gettext("Organisations"), "organisation:read", 52),
    MenuEntry(f"{CONSOLE}/clients", lazy_gettext("System clients"), "client:read", 53),
    MenuEntry(f"{CONSOLE}/audit", lazy_gettext("Audit log"), "audit:read", 60),
    MenuEntry(f"{CONSOLE}/jobs", lazy_gettext("Scheduled jobs"), "jobs:manage", 61),
)


def served_paths(app: Litestar) -> frozenset[str]:
    """The paths the app answers GET on, so the menu never links to a page nobody serves."""
    return frozenset(
        route.path for route in app.routes if isinstance(route, HTTPRoute) and "GET" in route.route_handler_map
    )


def plugin_pages(platform: Platform, served: frozenset[str]) -> list[MenuEntry]:
    """Every working plugin's console page that some route serves (a plugin may fail after start-up)."""
    working = {record.name for record in platform.plugins.usable()}
    return [
        MenuEntry(page.path, page.title, page.permission, page.order, plugin)
        for plugin, pages in platform.registry.console_pages.items() if plugin in working
        for page in pages if page.path.rstrip("/") in served
    ]


def unserved_pages(platform: Platform, served: frozenset[str]) -> list[str]:
    """``plugin: path`` of console pages no route serves, left out of the menu (a start-up warning)."""
    return sorted(
        f"{plugin}: {page.path}"
        for plugin, pages in platform.registry.console_pages.items()
        for page in pages
        if page.path.rstrip("/") not in served
    )


async def visible_menu(platform: Platform, app: Litestar, principal: Principal) -> list[MenuEntry]:
    """The pages the caller may open: a plugin's only where its module is on and the caller holds its permission."""
    entries = [entry for entry in CORE_PAGES if entry.permission is None or principal.has_permission(entry.permission)]
    for entry in plugin_pages(platform, served_paths(app)):
        roots = principal.area_roots if entry.permission is None else principal.roots_holding(entry.permission)
        if roots != () and await module_on_within(platform, entry.plugin or "", roots):
            entries.append(entry)
    return sorted(entries, key=lambda entry: (entry.order, str(entry.title)))


def current_entry(entries: list[MenuEntry], path: str) -> MenuEntry | None:
    """The entry the page at ``path`` belongs to: the longest path that is ``path`` or a parent of it."""
    path = path.rstrip("/") or "/"
    matching = [
        entry for entry in entries
        if path == entry.path.rstrip("/")
        or (entry.path.rstrip("/") != CONSOLE and path.startswith(entry.path.rstrip("/") + "/"))
    ]
    return max(matching, key=lambda entry: len(entry.path.rstrip("/")), default=None)
