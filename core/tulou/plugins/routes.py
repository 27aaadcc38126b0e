"""``/api/v1/plugins``: every plugin the core found, working or not, and why."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from tulou.platform import Platform
from tulou.plugins.manager import PluginRecord
from tulou.security.guards import PUBLIC


def describe_plugin(platform: Platform, record: PluginRecord) -> dict[str, Any]:
    """A plugin as listings show it, with translatable texts in the caller's language."""
    manifest = record.manifest
    registry = platform.registry
    return {
        "name": record.name,
        "status": record.status.value,
        "reason": record.reason,
        "source": record.source,
        "version": manifest.version if manifest else None,
        "title": str(manifest.title) if manifest else record.name,
        "description": str(manifest.description) if manifest else "",
        "requires_standard": manifest.requires_standard if manifest else None,
        "activation": record.activation.value,
        "permissions": [
            {"name": p.name, "title": str(p.title)} for p in registry.permissions.get(record.name, [])
        ],
        "jobs": [f"{record.name}.{job.id}" for job in registry.jobs.get(record.name, [])],
        "console_pages": [
            {"path": page.path, "title": str(page.title)} for page in registry.console_pages.get(record.name, [])
        ],
    }


class PluginController(Controller):
    path = "/api/v1/plugins"
    tags = ["plugins"]
    opt = PUBLIC

    @get("/", summary="Installed plugins with status and reason")
    async def list_plugins(self, request: Request) -> list[dict[str, Any]]:
        platform: Platform = request.app.state.platform
        return [describe_plugin(platform, record) for record in sorted(platform.plugins.records.values(), key=lambda r: r.name)]
