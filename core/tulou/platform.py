"""The platform: settings, plugins and what they registered, assembled once per app or CLI run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tulou.db.config import tortoise_config
from tulou.i18n import Catalogs, MissingCatalogError, core_catalogs
from tulou.identity.tags import TagVocabulary
from tulou.modules.index import ActivationIndex
from tulou.plugins.manager import PluginManager, PluginRecord, describe_error
from tulou.plugins.manifest import ActivationPolicy
from tulou.plugins.registry import Registry, collect_registrations, collect_settings_sections
from tulou.security.authenticators import AccountTokenAuthenticator, Authenticator, ClientTokenAuthenticator
from tulou.security.principal_cache import PrincipalCache, ProcessSignal, signal_for
from tulou.settings import CoreSettings, build_settings


@dataclass
class Platform:
    """Everything the web app, the CLI and the job runner share."""

    settings: CoreSettings
    plugins: PluginManager
    registry: Registry
    catalogs: Catalogs
    activations: ActivationIndex
    authenticators: list[Authenticator] = field(default_factory=list)
    principal_cache: PrincipalCache = field(default_factory=lambda: PrincipalCache(ProcessSignal()))
    person_tags: TagVocabulary = field(default_factory=TagVocabulary)
    migrations_applied: bool = False

    @property
    def db_config(self) -> dict[str, Any]:
        return tortoise_config(self.settings.database_url, self.registry.models)

    def plugin_settings(self, plugin: str) -> Any:
        return getattr(self.settings, plugin, None)

    def modules_with_policy(self, policy: ActivationPolicy) -> list[PluginRecord]:
        return [record for record in self.plugins.usable() if record.activation is policy]


def build_platform(plugins: list[object] | None = None, **setting_overrides: Any) -> Platform:
    """Discover plugins (or take ``plugins``), read settings, and collect registrations.

    Raises :class:`tulou.settings.SettingsError` for a bad setting.
    """
    core = build_settings(**setting_overrides)
    manager = PluginManager(plugins, allow=core.plugins, block=core.disable_plugins or ())
    registry = Registry()
    collect_settings_sections(manager, registry)
    settings = build_settings(registry.settings_sections, **setting_overrides)
    collect_registrations(manager, registry)
    catalogs = core_catalogs()
    for plugin, translations in list(registry.translations.items()):
        try:
            catalogs.add_domain(translations.domain, translations.directory)
        except (MissingCatalogError, OSError) as error:
            manager.fail(plugin, f"register_translations: {describe_error(error)}")
            registry.forget(plugin)
    return Platform(
        settings=settings,
        plugins=manager,
        registry=registry,
        catalogs=catalogs,
        activations=ActivationIndex(settings.web.module_cache_seconds),
        # Client tokens go before account tokens: they are told apart by their prefix, without a lookup.
        authenticators=[ClientTokenAuthenticator(), AccountTokenAuthenticator()],
        principal_cache=PrincipalCache(signal_for(settings.database_url)),
        person_tags=TagVocabulary(registry.person_tags),
    )
