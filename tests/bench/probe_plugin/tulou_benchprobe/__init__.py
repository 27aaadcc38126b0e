"""Trivial plugin routes for the benchmarks.

``ping`` is public: what it costs beyond ``/healthz`` is the module gate's cost.
``guarded`` is ``ping`` behind ``requires(...)``: what it costs beyond ``ping`` is
the cost of authenticating a staff token and checking its permission for the area.
"""

from typing import Any

from litestar import get
from litestar.params import FromPath

from tulou.api import PUBLIC, Permission, PluginManifest, hookimpl, requires

PING = "benchprobe:ping"


@get("/areas/{area:str}/ping", opt=PUBLIC)
async def ping(area: FromPath[str]) -> dict[str, str]:
    return {"status": "ok"}


@get("/areas/{area:str}/guarded", guards=[requires(PING)])
async def guarded(area: FromPath[str]) -> dict[str, str]:
    return {"status": "ok"}


@hookimpl
def plugin_manifest() -> PluginManifest:
    return PluginManifest(name="benchprobe", version="0.1.0", title="benchmark probe")


@hookimpl
def register_permissions(register: Any) -> None:
    register(Permission(PING, title="ping the probe"))


@hookimpl
def register_routes(register: Any) -> None:
    register(ping)
    register(guarded)
