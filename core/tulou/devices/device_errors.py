"""Each device's recent-errors list: what it sent over MQTT that was refused, where no answer could say so.

Over HTTP a refused reading is answered 422 and the device learns why. Over MQTT the
broker acknowledged the message before Tulou read it, so each refusal is counted on
the device (``refused_count``) and the newest :data:`KEPT` are kept with their
reasons for staff to read. They are written before the message is acknowledged to
the broker: nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from tulou.devices.models import Device, DeviceErrorRecord
from tulou.devices.registry import get_device
from tulou.devices.schemas import DeviceErrorOut, DeviceErrorsOut
from tulou.security.principal import Principal

#: Refusals kept per device, newest first; older ones are only counted.
KEPT = 50


@dataclass(frozen=True)
class Refusal:
    """One refused reading or message of a device, received ``at``: its first reason, in words, and every problem."""

    device_id: int
    at: datetime
    reason: str
    message: str
    problems: list[dict[str, Any]] = field(default_factory=list)


async def record_refusals(refusals: Sequence[Refusal], transport: str = "mqtt") -> None:
    """Keep the refusals and count them on their devices in one transaction, trimming each list to :data:`KEPT`."""
    if not refusals:
        return
    counts = Counter(refusal.device_id for refusal in refusals)
    async with in_transaction() as client:
        await DeviceErrorRecord.bulk_create([
            DeviceErrorRecord(device_id=r.device_id, at=r.at, transport=transport, reason=r.reason, message=r.message,
                              problems=r.problems)
            for r in refusals
        ], using_db=client)
        for device_id, count in sorted(counts.items()):
            await Device.filter(id=device_id).using_db(client).update(refused_count=F("refused_count") + count)
            await _trim(client, device_id)


async def _trim(client: BaseDBAsyncClient, device_id: int) -> None:
    newest_first = DeviceErrorRecord.filter(device_id=device_id).using_db(client).order_by("-at", "-id")
    beyond = await newest_first.offset(KEPT).values_list("id", flat=True)
    if beyond:
        await DeviceErrorRecord.filter(id__in=beyond).using_db(client).delete()


async def device_errors(principal: Principal, uid: str) -> DeviceErrorsOut:
    """The device's refusal count and its newest refusals; 404 outside the caller's areas."""
    device = await get_device(principal, uid)
    found = await DeviceErrorRecord.filter(device_id=device.id).order_by("-at", "-id").limit(KEPT)
    recent = [DeviceErrorOut(e.at, e.transport, e.reason, e.message, e.problems) for e in found]
    return DeviceErrorsOut(device=device.uid, refused_count=device.refused_count, recent=recent)
