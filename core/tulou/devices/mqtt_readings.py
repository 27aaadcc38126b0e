"""From a batch of MQTT messages to rows for the writer and refusals for the devices' recent-errors lists.

The topic names the sender: the broker lets only that device publish there. The
payload is the ``telemetry-in`` document of HTTP, checked exactly as over HTTP. Each
reading that passes becomes rows. Each reading refused, each payload that is no such
document, and each message of a device the registry no longer holds active becomes a
:class:`~tulou.devices.device_errors.Refusal`, since no answer can tell the device;
the last is the check on receipt that makes a revocation immediate even when the
broker has not heard of it yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import msgspec

from tulou.devices import clock
from tulou.devices.broker import device_of
from tulou.devices.credentials import DeviceCredential, credential_of
from tulou.devices.device_errors import Refusal, refusals_of
from tulou.devices.gateways import GatewayChildren
from tulou.devices.ingest import ModelCache, check_sent, readings_of
from tulou.devices.models import Device, DeviceStatus
from tulou.devices.mqtt_wire import Publication
from tulou.devices.telemetry_schemas import ReadingIn, TelemetryIn
from tulou.devices.telemetry_store import Row
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.security.principal_cache import ChangeSignal, CredentialCache
from tulou.settings import DeviceSettings

DECODER = msgspec.json.Decoder(TelemetryIn)


@dataclass
class Outcome:
    """What a batch of messages came to: rows to write, refusals to record, messages of unknown devices."""

    rows: list[Row] = field(default_factory=list)
    latest: dict[tuple[int, int], Row] = field(default_factory=dict)
    accepted: int = 0
    senders: set[int] = field(default_factory=set)
    refusals: list[Refusal] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)


class Senders:
    """Active devices by id, remembered until any credential changes (the device tokens' signal)."""

    def __init__(self, signal: ChangeSignal) -> None:
        self._cache = CredentialCache[DeviceCredential](signal)

    async def lookup(self, uid: str) -> tuple[DeviceCredential | None, int | None]:
        """The sender's credential if it is active; otherwise None, with the device's number if it exists."""
        if (known := self._cache.get(uid)) is not None:
            return known, known.device_id
        stamp = self._cache.stamp()
        device = await Device.get_or_none(uid=uid).select_related("model")
        if device is None:
            return None, None
        if device.status is not DeviceStatus.ACTIVE:
            return None, device.id
        credential = credential_of(device)
        self._cache.keep(uid, credential, stamp)
        return credential, device.id


@dataclass
class _Sent:
    """One sender's readings in a batch, in arrival order, and where each message's readings start."""

    device_id: int
    readings: list[ReadingIn] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)

    def add(self, readings: list[ReadingIn]) -> None:
        self.starts.append(len(self.readings))
        self.readings += readings


class MessageChecker:
    """Checks batches of messages against their senders' models, as :class:`~tulou.devices.runtime.DeviceRuntime`
    checks requests: each device's readings of a batch in one go, as if one request had brought them."""

    def __init__(self, senders: Senders, gateways: GatewayChildren, models: ModelCache, settings: DeviceSettings,
                 encode_time: Callable[[datetime], Any]) -> None:
        self.senders = senders
        self.gateways = gateways
        self.models = models
        self.settings = settings
        self.encode_time = encode_time

    async def check(self, messages: Iterable[Publication]) -> Outcome:
        outcome, now = Outcome(), clock.now()
        sent = await self._sorted(messages, outcome, now)
        ahead = timedelta(seconds=self.settings.future_tolerance_seconds)
        for credential, by_device in sent.values():
            checked = await check_sent(by_device.readings, credential, self.gateways, self.models, now, ahead,
                                       self.encode_time)
            outcome.senders.add(credential.device_id)
            outcome.rows += checked.rows
            outcome.latest.update(checked.latest)  # keyed by device: no two entries of the batch meet
            outcome.accepted += checked.accepted
            outcome.refusals += refusals_of(checked.problems, by_device.device_id, now, by_device.starts)
        return outcome

    async def _sorted(self, messages: Iterable[Publication], outcome: Outcome,
                      now: datetime) -> dict[str, tuple[DeviceCredential, _Sent]]:
        """The readings of each active sender; refusals noted for the rest."""
        senders: dict[str, tuple[DeviceCredential | None, int | None]] = {}
        sent: dict[str, tuple[DeviceCredential, _Sent]] = {}
        for message in messages:
            uid = device_of(message.topic)
            if uid is None:
                outcome.unknown[message.topic] += 1
                continue
            if uid not in senders:
                senders[uid] = await self.senders.lookup(uid)
            credential, device_id = senders[uid]
            if credential is None:
                if device_id is None:
                    outcome.unknown[uid] += 1
                else:
                    outcome.refusals.append(Refusal(device_id, now, "device_inactive", _(
                        "The device is disabled or decommissioned: its readings are not accepted")))
                continue
            readings = self._readings(message.payload, Refusal(credential.device_id, now, "", ""), outcome.refusals)
            if readings is not None:
                if uid not in sent:
                    sent[uid] = (credential, _Sent(credential.device_id))
                sent[uid][1].add(readings)
        return sent

    def _readings(self, payload: Any, blank: Refusal, refusals: list[Refusal]) -> list[ReadingIn] | None:
        """The message's readings, or None with its refusal (``blank`` filled in) noted."""
        try:
            readings = readings_of(DECODER.decode(payload))
        except (msgspec.DecodeError, TypeError) as error:
            message = _("The message is not a telemetry document: %(error)s") % {"error": error}
            refusals.append(replace(blank, reason="bad_payload", message=message))
            return None
        except Invalid as error:
            refusals.append(replace(blank, reason="bad_payload", message=error.detail))
            return None
        limit = self.settings.max_readings_per_request
        if len(readings) > limit:
            message = _("A batch holds %(limit)d readings at most") % {"limit": limit}
            refusals.append(replace(blank, reason="too_many_readings", message=message))
            return None
        return readings
