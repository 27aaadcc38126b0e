"""``/healthz`` (the process answers) and ``/readyz`` (database, migrations, plugins)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from tulou.db.lifecycle import pending_migrations, ping
from tulou.plugins.manager import describe_error
from tulou.security.guards import PUBLIC


@get("/healthz", tags=["health"], opt=PUBLIC, summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["health"], opt=PUBLIC, summary="Database reachable, migrations applied, plugin statuses")
async def readyz(request: Request) -> Response[dict[str, Any]]:
    platform = request.app.state.platform
    checks: dict[str, Any] = {}
    try:
        await ping()
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - reported, not raised
        checks["database"] = describe_error(error)
    if checks["database"] == "ok" and not platform.migrations_applied:
        pending = await pending_migrations(platform.db_config)
        platform.migrations_applied = not pending
        checks["migrations"] = "ok" if not pending else {"pending": pending}
    else:
        checks["migrations"] = "ok" if platform.migrations_applied else "unknown"
    checks["plugins"] = {r.name: {"status": r.status.value, "reason": r.reason} for r in platform.plugins.records.values()}
    mqtt = request.app.state.devices.mqtt
    if mqtt is not None:  # reported, not required: HTTP ingest goes on without the broker
        checks["mqtt"] = "ok" if mqtt.connected.is_set() else "not connected"
    ready = checks["database"] == "ok" and checks["migrations"] == "ok"
    return Response({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)
