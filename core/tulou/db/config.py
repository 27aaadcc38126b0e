"""The Tortoise configuration: one ``tulou`` app for the core and one app per plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tulou.plugins.registrations import ModelsRegistration

CORE_APP = "tulou"
CORE_MODELS = [
    "tulou.areas.models", "tulou.modules.models", "tulou.jobs.models", "tulou.audit.models", "tulou.identity.models",
    "tulou.identity.accounts_models", "tulou.exchange.models", "tulou.devices.models", "tulou.devices.alert_models",
]
CORE_MIGRATIONS = "tulou.db.migrations"


def tortoise_config(url: str, plugin_models: Mapping[str, ModelsRegistration]) -> dict[str, Any]:
    """Config for ``Tortoise.init`` and the migration executor; the core app comes first."""
    apps: dict[str, Any] = {
        CORE_APP: {"models": CORE_MODELS, "migrations": CORE_MIGRATIONS, "default_connection": "default"}
    }
    for plugin, registration in sorted(plugin_models.items()):
        apps[plugin] = {
            "models": [registration.models],
            "migrations": registration.migrations,
            "default_connection": "default",
        }
    return {
        "connections": {"default": url},
        "apps": apps,
        "use_tz": True,
        "timezone": "UTC",
    }
