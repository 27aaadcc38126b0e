"""Gateways: devices that send the readings of devices with no connection of their own.

A village's soil probes often speak LoRa or RS-485 to one gateway, which alone has a
mobile connection. Each probe is registered as a device of its own (its model, its
village, its alerts), naming the gateway in ``gateway``; the gateway then sends a
batch in which each reading's ``device`` names the probe it is of. A token may send
for itself and for the devices behind it, and for no other: a reading naming any
other device is refused with ``device_not_allowed``, as before gateways existed.

Which devices stand behind a gateway is remembered per process, and forgotten with
every credential change (:func:`~tulou.security.principal_cache.principals_changed`),
which assigning, moving or disabling a device sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tulou.devices.credentials import DeviceCredential, credential_of
from tulou.devices.models import Device, DeviceStatus
from tulou.devices.telemetry_schemas import ReadingIn
from tulou.security.principal_cache import ChangeSignal, CredentialCache

#: A reading with its place in what the sender sent, so each refusal names the reading the sender knows.
Indexed = tuple[int, ReadingIn]


@dataclass
class Assigned:
    """A sender's readings sorted by the device they are of, and the indices of those naming a device it may not send for."""

    by_device: dict[str, tuple[DeviceCredential, list[Indexed]]] = field(default_factory=dict)
    not_allowed: list[int] = field(default_factory=list)


class GatewayChildren:
    """The active devices behind each gateway, looked up by id as readings name them."""

    def __init__(self, signal: ChangeSignal) -> None:
        self._cache = CredentialCache[DeviceCredential](signal)

    async def behind(self, gateway: DeviceCredential, uids: set[str]) -> dict[str, DeviceCredential]:
        """Those of ``uids`` that are active devices whose gateway is ``gateway``."""
        found: dict[str, DeviceCredential] = {}
        for uid in uids:
            if (known := self._cache.get(f"{gateway.device_id}/{uid}")) is not None:
                found[uid] = known
        missing = uids - found.keys()
        if not missing:
            return found
        stamp = self._cache.stamp()
        children = await Device.filter(uid__in=sorted(missing), gateway_id=gateway.device_id,
                                       status=DeviceStatus.ACTIVE).select_related("model")
        for child in children:
            credential = credential_of(child)
            self._cache.keep(f"{gateway.device_id}/{child.uid}", credential, stamp)
            found[child.uid] = credential
        return found

    async def assign(self, readings: Sequence[ReadingIn], sender: DeviceCredential) -> Assigned:
        """Each reading to the device it is of: the sender's own unless it names one behind the sender."""
        named = {reading.device for reading in readings if reading.device not in (None, sender.uid)}
        children = await self.behind(sender, named) if named else {}  # type: ignore[arg-type]
        assigned = Assigned()
        for index, reading in enumerate(readings):
            uid = reading.device or sender.uid
            credential = sender if uid == sender.uid else children.get(uid)
            if credential is None:
                assigned.not_allowed.append(index)
                continue
            assigned.by_device.setdefault(uid, (credential, []))[1].append((index, reading))
        return assigned
