"""Each device's recent-errors list: everything it sent that was refused, over HTTP and MQTT, in one place.

Over HTTP a refused reading is answered 422 and the device learns why; over MQTT the
broker acknowledged the message before Tulou read it, and no answer can say so. Either
way staff need to see why a device's readings are missing, so each refusal is counted
on the device (``refused_count``) and the newest :data:`KEPT` are kept with their
reasons. They are written before the request is answered or the message acknowledged
to the broker: nothing is dropped silently.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
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


def refusals_of(problems: Iterable[dict[str, Any]], device_id: int, at: datetime,
                starts: Sequence[int] = (0,)) -> list[Refusal]:
    """One refusal per refused reading of what the device sent, named by its first reason and carrying all of
    them. When the readings came in several messages, ``starts`` says where each message's readings begin, and
    each problem's index and field are made those of the reading within its own message."""
    by_reading: dict[int, list[dict[str, Any]]] = {}
    for problem in problems:
        by_reading.setdefault(problem["index"], []).append(problem)
    found: list[Refusal] = []
    for index, listed in by_reading.items():
        within = index - starts[bisect_right(starts, index) - 1]
        if within != index:
            listed = [{**p, "index": within, "field": p["field"].replace(f"[{index}]", f"[{within}]", 1)}
                      for p in listed]
        found.append(Refusal(device_id, at, listed[0]["reason"], "; ".join(p["message"] for p in listed), listed))
    return found


async def record_refusals(refusals: Sequence[Refusal], transport: str = "mqtt") -> None:
    """Keep the refusals and count them on their devices in one transaction, trimming each list to :data:`KEPT`."""
    if not refusals:
        return
    counts = Counter(refusal.device_id for refusal in refusals)
    async with in_transaction() as client:
        await DeviceErrorRecord.bulk_create([
            DeviceErrorRecord(device_id=r.device_id, at=r.at, transport=transport, reason=r.reason, message=r.message,
                              problems=r.problems)
            for r in _newest_of_each(refusals)
        ], using_db=client)
        for device_id, count in sorted(counts.items()):
            await Device.filter(id=device_id).using_db(client).update(refused_count=F("refused_count") + count)
            await _trim(client, device_id)


def _newest_of_each(refusals: Sequence[Refusal]) -> list[Refusal]:
    """The last :data:`KEPT` refusals of each device, in order: a batch of thousands of bad readings
    writes no more rows than the list keeps."""
    taken: Counter[int] = Counter()
    newest: list[Refusal] = []
    for refusal in reversed(refusals):
        if taken[refusal.device_id] < KEPT:
            taken[refusal.device_id] += 1
            newest.append(refusal)
    return newest[::-1]


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
