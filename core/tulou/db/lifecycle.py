"""Opening and closing the database, and checking migrations are applied."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate
from tortoise.migrations.executor import MigrationExecutor


async def open_database(config: dict[str, Any]) -> None:
    """Initialise Tortoise for the whole process.

    Requests run in other tasks than the lifespan that opens the database, so the
    context must be the process-wide fallback (Tortoise's private flag, used only here).
    """
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def close_database() -> None:
    await Tortoise.close_connections()


async def pending_migrations(config: dict[str, Any]) -> list[str]:
    """Names (``app.migration``) of migrations not yet applied on the open database."""
    executor = MigrationExecutor(connections.get("default"), config["apps"])
    try:
        steps = await executor.plan()
    except Exception:  # noqa: BLE001 - no migrations table yet: nothing is applied
        return ["(database not migrated)"]
    return [f"{step.migration.app_label}.{step.migration.name}" for step in steps if not step.backward]


async def ping() -> None:
    """Raise if the database does not answer."""
    await connections.get("default").execute_query("SELECT 1")


async def apply_migrations(config: dict[str, Any]) -> list[str]:
    """Apply every pending migration, core first, in dependency order; safe to repeat."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")

    try:
        await migrate(config=config, progress=progress)
    finally:
        await Tortoise.close_connections()
    return applied
