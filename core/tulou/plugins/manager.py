"""Finds plugins, checks them, and calls their hooks one implementation at a time.

One :class:`PluginManager` is built per app (never at import time). A plugin that
fails to import, declares an unusable manifest or raises in a hook is marked
failed with its reason and unregistered; the others carry on.
"""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from tulou import STANDARD_VERSION
from tulou.plugins import ENTRY_POINT_GROUP, PROJECT_NAME, spec
from tulou.plugins.manifest import ActivationPolicy, PluginManifest

log = logging.getLogger(__name__)


class PluginStatus(str, enum.Enum):
    LOADED = "loaded"
    STARTING = "starting"
    ACTIVE = "active"
    FAILED = "failed"


@dataclass
class PluginRecord:
    """What the core knows about one plugin, including why it failed."""

    name: str
    source: str
    status: PluginStatus = PluginStatus.LOADED
    reason: str | None = None
    manifest: PluginManifest | None = None
    module: object | None = None

    @property
    def usable(self) -> bool:
        return self.status is not PluginStatus.FAILED

    @property
    def activation(self) -> ActivationPolicy:
        return self.manifest.activation if self.manifest else ActivationPolicy.OPTIONAL


class PluginManager:
    """Loads plugins from an explicit list or the ``tulou.plugins`` entry points."""

    def __init__(
        self,
        plugins: Sequence[object] | None = None,
        *,
        allow: Sequence[str] | None = None,
        block: Sequence[str] = (),
    ) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(spec)
        self.records: dict[str, PluginRecord] = {}
        if plugins is None:
            self._load_entry_points(allow, block)
        else:
            for plugin in plugins:
                self._add(plugin, expected_name=None, source="explicit")

    # -- loading -----------------------------------------------------------------

    def _load_entry_points(self, allow: Sequence[str] | None, block: Sequence[str]) -> None:
        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if entry_point.name in block or (allow is not None and entry_point.name not in allow):
                continue
            source = f"entry point {entry_point.value}"
            if entry_point.name in self.records:
                continue
            try:
                plugin = entry_point.load()
            except BaseException as error:  # noqa: BLE001 - import of foreign code
                self._fail_record(entry_point.name, source, f"import failed: {describe_error(error)}")
                continue
            self._add(plugin, expected_name=entry_point.name, source=source)

    def _add(self, plugin: object, *, expected_name: str | None, source: str) -> None:
        manifest_hook = getattr(plugin, "plugin_manifest", None)
        fallback_name = expected_name or getattr(plugin, "__name__", repr(plugin))
        if manifest_hook is None:
            self._fail_record(fallback_name, source, "has no plugin_manifest hook")
            return
        try:
            manifest = manifest_hook()
        except Exception as error:  # noqa: BLE001
            self._fail_record(fallback_name, source, f"plugin_manifest raised {describe_error(error)}")
            return
        if not isinstance(manifest, PluginManifest):
            self._fail_record(fallback_name, source, "plugin_manifest did not return a manifest")
            return
        name = manifest.name
        record = PluginRecord(name=name, source=source, manifest=manifest, module=plugin)
        problems = manifest.problems(STANDARD_VERSION)
        if expected_name and expected_name != name:
            problems.append(f"manifest name {name!r} differs from entry point {expected_name!r}")
        if name in self.records:
            problems.append("another plugin already uses this name")
            record.name = name = f"{name} ({source})"
        self.records[name] = record
        if problems:
            self.fail(name, "; ".join(problems))
            return
        try:
            self._pm.register(plugin, name=name)
        except ValueError as error:
            self.fail(name, str(error))

    def _fail_record(self, name: str, source: str, reason: str) -> None:
        self.records[name] = PluginRecord(name=name, source=source)
        self.fail(name, reason)

    # -- status ------------------------------------------------------------------

    def fail(self, name: str, reason: str) -> None:
        """Mark a plugin failed and stop calling its hooks; the rest keep working."""
        record = self.records[name]
        record.status = PluginStatus.FAILED
        record.reason = reason
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin, name=name)
        log.error("plugin %s failed: %s", name, reason)

    def usable(self) -> list[PluginRecord]:
        """Plugins that have not failed, in name order."""
        return [record for record in self.records.values() if record.usable]

    def get(self, name: str) -> PluginRecord | None:
        return self.records.get(name)

    # -- calling hooks -------------------------------------------------------------

    def implementations(self, hook_name: str) -> Iterator[tuple[str, HookCall]]:
        """Each (plugin name, implementation) of a hook, for plugins still usable."""
        hook = getattr(self._pm.hook, hook_name)
        for impl in list(hook.get_hookimpls()):
            name = self._pm.get_name(impl.plugin)
            if name is not None and self.records[name].usable:
                yield name, HookCall(impl.function, tuple(impl.argnames))

    def collect(self, hook_name: str, make_register: Callable[[str], Callable[..., None]]) -> None:
        """Call a ``register_*`` hook on every plugin, each with its own register callback.

        ``make_register(plugin_name)`` builds the callback; anything it or the
        implementation raises marks that plugin failed.
        """
        for name, call in list(self.implementations(hook_name)):
            try:
                result = call(register=make_register(name))
                if inspect.isawaitable(result):
                    raise TypeError(f"{hook_name} must not be async")
            except Exception as error:  # noqa: BLE001 - foreign code
                self.fail(name, f"{hook_name} raised {describe_error(error)}")

    def call_one(self, plugin_name: str, hook_name: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation of a hook (``None`` if it has none)."""
        for name, call in self.implementations(hook_name):
            if name == plugin_name:
                return call(**kwargs)
        return None


@dataclass(frozen=True)
class HookCall:
    """One implementation, called with just the arguments it asks for, as pluggy allows."""

    function: Callable[..., Any]
    argnames: tuple[str, ...]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    def __call__(self, **kwargs: Any) -> Any:
        return self.function(**{name: kwargs[name] for name in self.argnames})


def describe_error(error: BaseException) -> str:
    """``ExceptionType: message``, the way plugin failures are reported."""
    return f"{type(error).__name__}: {error}"
