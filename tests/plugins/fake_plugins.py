"""In-process plugins that each get one thing wrong, beside one that gets everything right.

Each is an object with ``@hookimpl`` methods, handed to the app factory in an explicit
plugin list. Most register a route under ``/areas/{area}/hello`` (built per
instance, so apps never share handler objects) unless its fault is the route itself.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from litestar import get
from litestar.params import FromPath, FromQuery
from pydantic import BaseModel

from tulou.api import Area, Job, Permission, PluginManifest, hookimpl


def hello_route(plugin: str) -> Any:
    @get("/areas/{area:str}/hello")
    async def hello(area: FromPath[str]) -> dict[str, str]:
        return {"plugin": plugin, "area": area}

    return hello


async def nothing_to_do(area: Area) -> None:
    """A job body; these tests never run it."""


@dataclass
class Healthy:
    """Gets everything right: its route must keep answering whatever the others do."""

    name: str = "healthy"
    requires_standard: str = ">=1.0,<2"

    @hookimpl
    def plugin_manifest(self) -> PluginManifest:
        return PluginManifest(
            name=self.name,
            version="1.0.0",
            title=f"{self.name} title",
            requires_standard=self.requires_standard,
        )

    @hookimpl
    def register_routes(self, register: Any) -> None:
        register(hello_route(self.name))


@dataclass
class RaisesInRegisterRoutes(Healthy):
    """Registers its route, then raises: nothing it registered may be mounted."""

    name: str = "exploding"

    @hookimpl
    def register_routes(self, register: Any) -> None:
        register(hello_route(self.name))
        raise RuntimeError("routes exploded")


@dataclass
class AreaInQuery(Healthy):
    """Names its area in the query string (``?area=``) instead of the path."""

    name: str = "querying"

    @hookimpl
    def register_routes(self, register: Any) -> None:
        @get("/report")
        async def report(area: FromQuery[str]) -> dict[str, str]:
            return {"plugin": self.name, "area": area}

        register(report)


@dataclass
class RouteWithoutArea(Healthy):
    """A route that names no area, so the module gate could not check it."""

    name: str = "arealess"

    @hookimpl
    def register_routes(self, register: Any) -> None:
        @get("/everywhere")
        async def everywhere() -> dict[str, str]:
            return {"plugin": self.name}

        register(hello_route(self.name))
        register(everywhere)


@dataclass
class ForeignPermission(Healthy):
    """Declares a permission in another plugin's namespace."""

    name: str = "squatter"

    @hookimpl
    def register_permissions(self, register: Any) -> None:
        register(Permission(name="squatter:read", title="Read"))
        register(Permission(name="healthy:read", title="Read someone else's"))


@dataclass
class DuplicateJob(Healthy):
    """Registers two jobs under one id."""

    name: str = "twice"

    @hookimpl
    def register_jobs(self, register: Any) -> None:
        register(Job(id="tick", func=nothing_to_do, every=timedelta(minutes=5)))
        register(Job(id="tick", func=nothing_to_do, every=timedelta(minutes=10)))


@dataclass
class HangsOnStart(Healthy):
    """An ``async def app_started`` that waits for an event nobody sets."""

    name: str = "hanging"

    @hookimpl
    async def app_started(self, app: Any) -> None:
        await asyncio.Event().wait()


@dataclass
class RaisesOnStart(Healthy):
    """An ``app_started`` that raises."""

    name: str = "stumbling"

    @hookimpl
    async def app_started(self, app: Any) -> None:
        raise ConnectionError("the weather station is offline")


@dataclass
class BlocksOnStart(Healthy):
    """A synchronous ``app_started`` that blocks in ``time.sleep`` until the test releases it."""

    name: str = "blocking"
    longest_seconds: float = 10.0
    started: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    @hookimpl
    def app_started(self, app: Any) -> None:
        self.started.set()
        deadline = time.monotonic() + self.longest_seconds
        while not self.released.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)


class ApiKeySettings(BaseModel):
    """A section with a field an operator must set: against the contract."""

    api_key: str


@dataclass
class SettingWithoutDefault(Healthy):
    """Registers a settings section whose field has no default."""

    name: str = "needy"

    @hookimpl
    def register_settings(self, register: Any) -> None:
        register(ApiKeySettings)


class SwitchSettings(BaseModel):
    switched_on: bool = True


@dataclass
class NamedLikeACoreSection(Healthy):
    """A plugin named ``jobs``, a valid name that is also a section of the core's settings."""

    name: str = "jobs"

    @hookimpl
    def register_settings(self, register: Any) -> None:
        register(SwitchSettings)


@dataclass
class FailsTwice(Healthy):
    """Registers a route without an area, then raises in a later hook."""

    name: str = "twofold"

    @hookimpl
    def register_routes(self, register: Any) -> None:
        @get("/everywhere")
        async def everywhere() -> None:
            return None

        register(everywhere)

    @hookimpl
    def register_jobs(self, register: Any) -> None:
        raise LookupError("no job table")
