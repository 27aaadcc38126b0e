"""The device registry's machinery in one app: the writer, compiled models and alert rules, remembered tokens.

Built with the app, started and stopped by its lifespan. Routes reach it as
``app.state.devices``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from tulou.devices import clock
from tulou.devices.alert_book import RuleBook
from tulou.devices.alert_watch import AlertWatch
from tulou.devices.alerts_dataset import declare_alerts_dataset
from tulou.devices.catalogue import sync_plugin_models
from tulou.devices.credentials import DeviceCredential, DeviceTokenCache
from tulou.devices.events import announce
from tulou.devices.ingest import ModelCache, RejectedReadings, check_readings, readings_of
from tulou.devices.models import DeviceEventRecord
from tulou.devices.telemetry_schemas import TelemetryAck, TelemetryIn
from tulou.devices.telemetry_store import store_for
from tulou.devices.writer import TelemetryWriter
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.platform import Platform

log = logging.getLogger(__name__)


class DeviceRuntime:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings = platform.settings.devices
        self.store = store_for(platform.settings.is_postgres)
        self.tokens = DeviceTokenCache(platform.principal_cache.signal)
        self.models = ModelCache()
        self.rules = RuleBook(platform.principal_cache.signal)
        self.alerts = AlertWatch(platform, self.store, self.rules)
        self.writer = TelemetryWriter(self.store, self.settings, self.announce, self.alerts.readings_stored)

    async def start(self) -> None:
        """Bring plugins' device models and the alerts dataset into the database, then start writing."""
        try:
            await sync_plugin_models(self.platform.registry.device_models)
            await declare_alerts_dataset()
        except Exception as error:  # noqa: BLE001 - not migrated yet: /readyz says so
            log.warning("cannot sync device models or the alerts dataset yet: %s", error)
        self.writer.start()

    async def stop(self) -> None:
        await self.writer.stop()

    async def announce(self, records: Sequence[DeviceEventRecord]) -> None:
        await announce(self.platform, records)

    async def ingest(self, sender: DeviceCredential, body: TelemetryIn) -> TelemetryAck:
        """Check the readings, store those that pass durably, and say what became of each."""
        readings = readings_of(body)
        if len(readings) > self.settings.max_readings_per_request:
            limit = self.settings.max_readings_per_request
            raise Invalid(_("A batch holds %(limit)d readings at most") % {"limit": limit}, field="readings")
        model = await self.models.for_device(sender)
        ahead = timedelta(seconds=self.settings.future_tolerance_seconds)
        checked = check_readings(readings, sender, model, clock.now(), ahead, self.store.encode_time)
        await self.writer.write(checked.rows, checked.latest)
        if checked.problems:
            refused = len({problem["index"] for problem in checked.problems})
            raise RejectedReadings(checked.accepted, refused, checked.problems)
        return TelemetryAck(accepted=checked.accepted)
