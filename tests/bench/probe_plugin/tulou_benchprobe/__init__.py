"""One trivial plugin route: whatever it costs beyond /healthz is the module gate's cost."""

from typing import Any

from litestar import get
from litestar.params import FromPath

from tulou.api import PluginManifest, hookimpl


@get("/areas/{area:str}/ping")
async def ping(area: FromPath[str]) -> dict[str, str]:
    return {"status": "ok"}


@hookimpl
def plugin_manifest() -> PluginManifest:
    return PluginManifest(name="benchprobe", version="0.1.0", title="benchmark probe")


@hookimpl
def register_routes(register: Any) -> None:
    register(ping)
