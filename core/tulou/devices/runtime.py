"""The device registry's machinery in one app: the writer, compiled models and alert rules, remembered
tokens and, when a broker is configured, the MQTT ingest and the devices' broker accounts.

Built with the app, started and stopped by its lifespan. Routes reach it as
``app.state.devices``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from tortoise.exceptions import BaseORMException

from tulou.devices import clock
from tulou.devices.alert_book import RuleBook
from tulou.devices.alert_watch import AlertWatch
from tulou.devices.alerts_dataset import declare_alerts_dataset
from tulou.devices.broker_accounts import BrokerAccounts
from tulou.devices.catalogue import sync_plugin_models
from tulou.devices.credentials import DeviceCredential, DeviceTokenCache
from tulou.devices.device_errors import Refusal, record_refusals, refusals_of
from tulou.devices.events import announce
from tulou.devices.gateways import GatewayChildren
from tulou.devices.ingest import ModelCache, RejectedReadings, check_sent, readings_of
from tulou.devices.models import Device, DeviceEventRecord, DeviceStatus
from tulou.devices.mqtt import MqttIngest
from tulou.devices.mqtt_readings import MessageChecker, Senders
from tulou.devices.registry import device_token_out
from tulou.devices.schemas import DeviceTokenOut
from tulou.devices.telemetry_schemas import TelemetryAck, TelemetryIn
from tulou.devices.telemetry_store import store_for
from tulou.devices.writer import TelemetryWriter
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.identity.auth import token_hash
from tulou.platform import Platform

log = logging.getLogger(__name__)


class DeviceRuntime:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings = platform.settings.devices
        self.store = store_for(platform.settings.is_postgres)
        self.tokens = DeviceTokenCache(platform.principal_cache.signal)
        self.models = ModelCache()
        self.gateways = GatewayChildren(platform.principal_cache.signal)
        self.rules = RuleBook(platform.principal_cache.signal)
        self.alerts = AlertWatch(platform, self.store, self.rules)
        self.writer = TelemetryWriter(self.store, self.settings, self.announce, self.alerts.readings_stored)
        mqtt = self.settings.mqtt
        self.accounts = BrokerAccounts(mqtt) if mqtt.enabled else None
        self.mqtt: MqttIngest | None = None
        if mqtt.enabled:
            checker = MessageChecker(Senders(platform.principal_cache.signal), self.gateways, self.models,
                                     self.settings, self.store.encode_time)
            self.mqtt = MqttIngest(mqtt, checker, self.writer, platform.settings.data_dir,
                                   platform.settings.default_locale)
        self.initial_reconcile: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bring plugins' device models and the alerts dataset into the database, then start writing, and
        reading MQTT if configured."""
        try:
            await sync_plugin_models(self.platform.registry.device_models)
            await declare_alerts_dataset()
        except Exception as error:  # noqa: BLE001 - not migrated yet: /readyz says so
            log.warning("cannot sync device models or the alerts dataset yet: %s", error)
        self.writer.start()
        if self.mqtt is not None:
            self.mqtt.start()
            self.initial_reconcile = asyncio.create_task(self.reconcile_accounts())

    async def stop(self) -> None:
        """Stop reading MQTT first: what it holds is stored and acknowledged before the writer stops."""
        if self.initial_reconcile is not None:
            self.initial_reconcile.cancel()
            await asyncio.gather(self.initial_reconcile, return_exceptions=True)
        if self.mqtt is not None:
            await self.mqtt.stop()
        await self.writer.stop()

    async def reconcile_accounts(self) -> None:
        """Bring the broker's device accounts in step with the registry; logged, never raised."""
        if self.accounts is None:
            return
        try:
            commands = await self.accounts.reconcile()
        except Exception as error:  # noqa: BLE001 - the next reconcile tries again
            log.warning("broker accounts not reconciled: %s", error)
            return
        if commands:
            log.info("broker accounts reconciled with %d command(s)", commands)

    # -- what the registry's routes call on -------------------------------------------

    def token_out(self, device: Device, token: str) -> DeviceTokenOut:
        """The answer that shows a device its token once, with its broker password when there is a broker."""
        password = self.accounts.password(token_hash(token)) if self.accounts is not None else None
        return device_token_out(device, token, password)

    async def rekeyed(self, uid: str, status: DeviceStatus, digest: str) -> None:
        """Before a re-key is stored: the broker takes the new password, or the re-key fails (503).

        Not inside the re-key's transaction, which would hold the database while the broker
        answers. Should the re-key fail after this, the broker has a password no one knows,
        and the reconcile puts back the registry's."""
        if self.accounts is not None:
            await self.accounts.rekeyed(uid, status, digest)

    async def account_changed(self, device: Device, token: str | None = None) -> None:
        """After a device was made, claimed or changed state: its broker account follows (or the reconcile)."""
        if self.accounts is not None:
            digest = token_hash(token) if token is not None else device.token_hash
            await self.accounts.changed(device.uid, device.status, digest)

    async def announce(self, records: Sequence[DeviceEventRecord]) -> None:
        await announce(self.platform, records)

    async def ingest(self, sender: DeviceCredential, body: TelemetryIn) -> TelemetryAck:
        """Check the readings, store those that pass durably, and say what became of each."""
        readings = readings_of(body)
        if len(readings) > self.settings.max_readings_per_request:
            limit = self.settings.max_readings_per_request
            raise Invalid(_("A batch holds %(limit)d readings at most") % {"limit": limit}, field="readings")
        ahead, now = timedelta(seconds=self.settings.future_tolerance_seconds), clock.now()
        checked = await check_sent(readings, sender, self.gateways, self.models, now, ahead, self.store.encode_time)
        await self.writer.write(checked.rows, checked.latest, senders=(sender.device_id,))
        if checked.problems:
            refusals = refusals_of(checked.problems, sender.device_id, now)
            await self.keep_refusals(refusals)
            raise RejectedReadings(checked.accepted, len(refusals), checked.problems)
        return TelemetryAck(accepted=checked.accepted)

    async def keep_refusals(self, refusals: Sequence[Refusal]) -> None:
        """Put a request's refusals in the device's recent-errors list, where staff look for all of them.

        Should that fail, the 422 is answered all the same and the failure logged: the
        device learns what was refused, and an error answer would make it send again the
        readings already stored."""
        try:
            await record_refusals(refusals, "http")
        except BaseORMException as error:
            log.warning("%d refusal(s) over HTTP not kept in the recent-errors list: %s", len(refusals), error)
