"""Telling plugins what happened to devices, through the ``device_event`` hook.

Events are recorded in ``core_device_event`` in the transaction that caused them;
plugins hear of them after it commits. A plugin hears only of devices in townships
where its module is on (or everywhere, for a required module), and one that raises
is logged and skipped: the event is recorded whatever plugins do with it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tulou.devices.models import Device, DeviceEventRecord
from tulou.plugins.manager import describe_error
from tulou.plugins.manifest import ActivationPolicy

if TYPE_CHECKING:
    from tulou.platform import Platform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceEvent:
    """Something that happened to a device: ``kind`` ``connection`` with ``state`` ``online`` or ``offline``,
    or ``kind`` ``alert`` with ``state`` ``raised``, ``cleared`` or ``acknowledged`` (``detail`` names the alert).

    ``device`` is the device's id (``dev_...``), ``area`` its village and ``model`` its model's id.
    """

    id: int
    device: str
    area: str
    model: str
    kind: str
    state: str
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


async def describe(records: Sequence[DeviceEventRecord]) -> list[DeviceEvent]:
    """The records as plugins see them, naming devices by their public id."""
    ids = {record.device_id for record in records}
    devices = {d.id: d for d in await Device.filter(id__in=ids).select_related("model")} if ids else {}
    return [
        DeviceEvent(record.id, devices[record.device_id].uid, devices[record.device_id].area_id,
                    devices[record.device_id].model.key, record.kind, record.state, record.at, dict(record.detail))
        for record in records if record.device_id in devices
    ]


def _listening(platform: Platform, plugin: str, area: str) -> bool:
    record = platform.plugins.get(plugin)
    if record is None or not record.usable:
        return False
    return record.activation is ActivationPolicy.REQUIRED or platform.activations.is_enabled(area, plugin)


async def announce(platform: Platform, records: Sequence[DeviceEventRecord]) -> None:
    """Call every listening plugin's ``device_event`` once per event, each failure on its own."""
    implementations = list(platform.plugins.implementations("device_event"))
    if not records or not implementations:
        return
    await platform.activations.fresh()
    for event in await describe(records):
        for plugin, call in implementations:
            if not _listening(platform, plugin, event.area):
                continue
            try:
                result = call(event=event)
                if inspect.isawaitable(result):
                    await result
            except Exception as error:  # noqa: BLE001 - foreign code
                log.error("plugin %s failed on device event %s: %s", plugin, event.id, describe_error(error))
