"""Everything usable plugins registered, gathered once at start-up and checked item by item."""

from __future__ import annotations

import importlib
import inspect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Router
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel, ValidationError
from tortoise.models import Model

from tulou.errors import Invalid
from tulou.exchange.validation import check_schema
from tulou.jobs.job import Job
from tulou.plugins.manager import PluginManager
from tulou.plugins.registrations import (
    ConsolePage,
    DatasetSchema,
    DeviceModelSpec,
    ModelsRegistration,
    Permission,
    PersonTag,
    TranslationsDirectory,
)


#: Litestar adds this handler to every path itself; it takes no area and needs none.
LITESTAR_OPTIONS_HANDLER = "HTTPRoute.create_options_handler.<locals>.options_handler"


class RegistrationError(ValueError):
    """A plugin registered something the core cannot accept."""


@dataclass
class Registry:
    """Registrations by plugin name; a failed plugin's entries are dropped with it."""

    settings_sections: dict[str, type[BaseModel]] = field(default_factory=dict)
    models: dict[str, ModelsRegistration] = field(default_factory=dict)
    routes: dict[str, list[ControllerRouterHandler]] = field(default_factory=lambda: defaultdict(list))
    jobs: dict[str, list[Job]] = field(default_factory=lambda: defaultdict(list))
    translations: dict[str, TranslationsDirectory] = field(default_factory=dict)
    permissions: dict[str, list[Permission]] = field(default_factory=lambda: defaultdict(list))
    console_pages: dict[str, list[ConsolePage]] = field(default_factory=lambda: defaultdict(list))
    console_routes: dict[str, list[ControllerRouterHandler]] = field(default_factory=lambda: defaultdict(list))
    console_templates: dict[str, Path] = field(default_factory=dict)
    datasets: dict[str, list[DatasetSchema]] = field(default_factory=lambda: defaultdict(list))
    device_models: dict[str, list[DeviceModelSpec]] = field(default_factory=lambda: defaultdict(list))
    person_tags: dict[str, list[PersonTag]] = field(default_factory=lambda: defaultdict(list))

    def forget(self, plugin: str) -> None:
        for value in vars(self).values():
            value.pop(plugin, None)


def collect_settings_sections(manager: PluginManager, registry: Registry) -> None:
    """Settings come first: the full settings class depends on them."""

    def make_register(plugin: str) -> Callable[[type[BaseModel]], None]:
        def register(model: type[BaseModel]) -> None:
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise RegistrationError("settings section must be a pydantic BaseModel class")
            try:
                model()
            except ValidationError as error:
                raise RegistrationError(f"every settings field needs a default: {error.errors()[0]['loc']}") from None
            registry.settings_sections[plugin] = model

        return register

    manager.collect("register_settings", make_register)
    _drop_failed(manager, registry)


def collect_registrations(manager: PluginManager, registry: Registry) -> Registry:
    """Run every ``register_*`` hook except settings; each item is checked as it arrives."""
    manager.collect("register_models", lambda plugin: _models_register(plugin, registry))
    manager.collect("register_translations", lambda plugin: _translations_register(plugin, registry))
    manager.collect("register_permissions", lambda plugin: _permissions_register(plugin, registry))
    manager.collect("register_routes", lambda plugin: registry.routes[plugin].append)
    manager.collect("register_jobs", lambda plugin: _jobs_register(plugin, registry))
    manager.collect("register_datasets", lambda plugin: _datasets_register(plugin, registry))
    manager.collect("register_person_tags", lambda plugin: _person_tags_register(plugin, registry))
    for hook, target in (
        ("register_console_pages", registry.console_pages),
        ("register_console_routes", registry.console_routes),
    ):
        manager.collect(hook, lambda plugin, target=target: target[plugin].append)
    manager.collect("register_console_templates", lambda plugin: _console_templates_register(plugin, registry))
    manager.collect("register_device_models", lambda plugin: _device_models_register(plugin, registry))
    _drop_failed(manager, registry)
    for plugin, handlers in list(registry.routes.items()):
        try:
            check_routes(plugin, handlers)
        except Exception as error:  # noqa: BLE001 - foreign code
            manager.fail(plugin, f"register_routes: {error}")
    _drop_failed(manager, registry)
    return registry


def _drop_failed(manager: PluginManager, registry: Registry) -> None:
    for name, record in manager.records.items():
        if not record.usable:
            registry.forget(name)


def _models_register(plugin: str, registry: Registry) -> Callable[[str, str], None]:
    def register(models: str, migrations: str) -> None:
        module = importlib.import_module(models)
        importlib.import_module(migrations)
        for model in _models_in(module):
            table = model._meta.db_table
            if not table or not table.startswith(f"{plugin}_"):
                raise RegistrationError(
                    f"model {model.__name__} must set Meta.table starting with '{plugin}_'"
                )
            if ";" in (model.__doc__ or ""):
                # Tortoise 1.1 splits SQLite DDL on ';', table comments included.
                raise RegistrationError(f"model {model.__name__}'s docstring must not contain ';'")
        registry.models[plugin] = ModelsRegistration(models=models, migrations=migrations)

    return register


def _models_in(module: Any) -> list[type[Model]]:
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Model)
        and value.__module__ == module.__name__
        and not value._meta.abstract
    ]


def _translations_register(plugin: str, registry: Registry) -> Callable[[str], None]:
    def register(directory: str | Path) -> None:
        path = Path(directory)
        if not path.is_dir():
            raise RegistrationError(f"translations directory {path} does not exist")
        registry.translations[plugin] = TranslationsDirectory(domain=plugin, directory=path)

    return register


def _console_templates_register(plugin: str, registry: Registry) -> Callable[[str], None]:
    def register(directory: str | Path) -> None:
        path = Path(directory)
        if not path.is_dir():
            raise RegistrationError(f"console templates directory {path} does not exist")
        registry.console_templates[plugin] = path

    return register


def _permissions_register(plugin: str, registry: Registry) -> Callable[[Permission], None]:
    def register(permission: Permission) -> None:
        if not permission.name.startswith(f"{plugin}:"):
            raise RegistrationError(f"permission {permission.name!r} must start with '{plugin}:'")
        registry.permissions[plugin].append(permission)

    return register


def _person_tags_register(plugin: str, registry: Registry) -> Callable[[PersonTag], None]:
    from tulou.identity.tags import CORE_TAGS  # the core's vocabulary, which plugins extend

    def register(tag: PersonTag) -> None:
        if not isinstance(tag, PersonTag):
            raise RegistrationError("register_person_tags takes tulou.api.PersonTag objects")
        taken = {core.code for core in CORE_TAGS} | {t.code for tags in registry.person_tags.values() for t in tags}
        if tag.code in taken:
            raise RegistrationError(f"tag {tag.code!r} is already defined")
        registry.person_tags[plugin].append(tag)

    return register


def _jobs_register(plugin: str, registry: Registry) -> Callable[[Job], None]:
    def register(job: Job) -> None:
        if not isinstance(job, Job):
            raise RegistrationError("register_jobs takes tulou.api.Job objects")
        if any(existing.id == job.id for existing in registry.jobs[plugin]):
            raise RegistrationError(f"job id {job.id!r} registered twice")
        registry.jobs[plugin].append(job)

    return register


def _datasets_register(plugin: str, registry: Registry) -> Callable[[DatasetSchema], None]:
    def register(dataset: DatasetSchema) -> None:
        if not isinstance(dataset, DatasetSchema):
            raise RegistrationError("register_datasets takes tulou.api.DatasetSchema objects")
        if any((d.id, d.version) == (dataset.id, dataset.version) for d in registry.datasets[plugin]):
            raise RegistrationError(f"dataset {dataset.id} {dataset.version} registered twice")
        try:
            check_schema(dataset.schema)
        except Invalid as error:
            raise RegistrationError(f"dataset {dataset.id} {dataset.version}: {error.detail}") from None
        registry.datasets[plugin].append(dataset)

    return register


def _device_models_register(plugin: str, registry: Registry) -> Callable[[DeviceModelSpec], None]:
    """Each model is checked against the device standard as it arrives; a model id is taken once."""
    from tulou.devices.catalogue import spec_fields  # the device standard builds on plugins, not the reverse

    taken = {spec.id: owner for owner, specs in registry.device_models.items() for spec in specs}

    def register(spec: DeviceModelSpec) -> None:
        if not isinstance(spec, DeviceModelSpec):
            raise RegistrationError("register_device_models takes tulou.api.DeviceModelSpec objects")
        if spec.id in taken:
            raise RegistrationError(f"device model {spec.id!r} is already registered by {taken[spec.id]}")
        try:
            spec_fields(spec)
        except ValueError as error:
            raise RegistrationError(f"device model {spec.id!r}: {error}") from None
        taken[spec.id] = plugin
        registry.device_models[plugin].append(spec)

    return register


def check_routes(plugin: str, handlers: list[ControllerRouterHandler]) -> None:
    """Every plugin route must name its area, so the module gate can check it."""
    router = Router(path=f"/{plugin}", route_handlers=handlers)
    for route in router.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.fn.__qualname__ == LITESTAR_OPTIONS_HANDLER:
                continue
            if "area" not in inspect.signature(handler.fn).parameters:
                raise RegistrationError(
                    f"route {route.path} must take an 'area' path or query parameter"
                )
