"""Marking devices offline when they fall silent for longer than their model's heartbeat allows.

Every minute the job compares each online device's ``last_seen_at`` with its model's
heartbeat times ``TULOU_DEVICES__OFFLINE_GRACE``; the next stored reading brings a
device back online (see :mod:`tulou.devices.telemetry_store`). Each change is recorded
as a device event and told to plugins. Time comes from :mod:`tulou.devices.clock`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from tulou.devices import clock
from tulou.devices.events import announce
from tulou.devices.models import Connection, DeviceEventRecord, DeviceModel

if TYPE_CHECKING:
    from tulou.platform import Platform

SILENT = {
    # Wrapped in WITH: Tortoise's asyncpg client drops what a statement starting with UPDATE returns.
    "postgres": ("WITH flipped AS (UPDATE core_device SET connection = 'offline' WHERE model_id = $1 "
                 "AND connection = 'online' AND last_seen_at < $2 RETURNING id) SELECT id FROM flipped"),
    "sqlite": ("UPDATE core_device SET connection = 'offline' WHERE model_id = ? AND connection = 'online' "
               "AND last_seen_at < ? RETURNING id"),
}


async def mark_silent_devices(grace: float) -> list[DeviceEventRecord]:
    """Flip online devices silent past ``heartbeat × grace`` to offline, one event each, in one transaction."""
    now = clock.now()
    heartbeats = await DeviceModel.all().values_list("id", "heartbeat_seconds")
    events: list[DeviceEventRecord] = []
    async with in_transaction() as client:
        sql = SILENT[client.capabilities.dialect]
        for model_id, heartbeat in heartbeats:
            cutoff = now - timedelta(seconds=heartbeat * grace)
            _count, flipped = await client.execute_query(sql, [model_id, cutoff])
            for row in flipped:
                events.append(await DeviceEventRecord.create(
                    device_id=row["id"], kind="connection", state=Connection.OFFLINE.value, at=now,
                    detail={"heartbeat_seconds": heartbeat}, using_db=client,
                ))
    return events


async def check_device_status(platform: Platform) -> int:
    """The scheduled job: mark silent devices offline and tell plugins; how many went offline."""
    events = await mark_silent_devices(platform.settings.devices.offline_grace)
    await announce(platform, events)
    return len(events)
