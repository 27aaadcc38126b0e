"""Small in-process plugins for testing the core's contract without the built-in ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody

from datetime import timedelta

from tulou.api import ActivationPolicy, Area, Job, PluginManifest, hookimpl


@dataclass
class SamplePlugin:
    """A plugin whose behaviour each test chooses; it remembers what the core told it."""

    name: str = "sample"
    activation: ActivationPolicy = ActivationPolicy.OPTIONAL
    fail_on_enable: bool = False
    fail_job_for: set[str] = field(default_factory=set)
    enabled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    job_areas: list[str] = field(default_factory=list)

    @hookimpl
    def plugin_manifest(self) -> PluginManifest:
        return PluginManifest(name=self.name, version="1.0.0", title=f"{self.name} title", activation=self.activation)

    @hookimpl
    def register_routes(self, register: Any) -> None:
        plugin = self.name

        @get("/areas/{area:str}/hello", operation_id=f"{plugin}_hello")
        async def hello(area: FromPath[str]) -> dict[str, str]:
            return {"plugin": plugin, "area": area}

        @get("/crash", operation_id=f"{plugin}_crash")
        async def crash(area: FromQuery[str]) -> None:
            raise RuntimeError("secret internal detail")

        @post("/areas/{area:str}/echo", operation_id=f"{plugin}_echo")
        async def echo(area: FromPath[str], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
            return data

        register(hello)
        register(crash)
        register(echo)

    @hookimpl
    def register_jobs(self, register: Any) -> None:
        register(Job(id="tick", func=self.tick, every=timedelta(minutes=1)))

    async def tick(self, area: Area) -> None:
        if area.code in self.fail_job_for:
            raise ValueError("job failed on purpose")
        self.job_areas.append(area.code)

    @hookimpl
    async def module_enabled(self, area: Area, actor: str) -> None:
        if self.fail_on_enable:
            raise RuntimeError("cannot provision today")
        self.enabled.append(area.code)

    @hookimpl
    def module_disabled(self, area: Area, actor: str) -> None:
        self.disabled.append(area.code)


class Reading(msgspec.Struct):
    title: str
    count: int


@post("/areas/{area:str}/readings", operation_id="bodies_reading")
async def reading(area: FromPath[str], data: JSONBody[Reading]) -> dict[str, int]:
    return {"count": data.count}


class BodyPlugin:
    """A required plugin with one route taking a typed JSON body."""

    @hookimpl
    def plugin_manifest(self) -> PluginManifest:
        return PluginManifest(name="bodies", version="1.0.0", title="bodies", activation=ActivationPolicy.REQUIRED)

    @hookimpl
    def register_routes(self, register: Any) -> None:
        register(reading)
