"""The rules in force on each device, compiled, remembered by each process until something changes.

A model's rules are compiled once per model version; a device's, once per device,
from its model's and its own. Both are forgotten in every process through the
change signal that revokes tokens (:func:`~tulou.security.principal_cache.principals_changed`),
which model changes already send and device rule changes send too. So judging a
batch of readings of devices that have no rule costs no query at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tulou.devices.alert_models import DeviceAlertRule
from tulou.devices.alert_rules import (
    AlertRule, DeviceRule, DeviceWatches, compile_watches, rules_in_force, stored_rules,
)
from tulou.devices.ingest import property_ids
from tulou.devices.models import Device, DeviceModel, DeviceStatus
from tulou.devices.telemetry_schema import PropertySpec, parse_properties
from tulou.security.principal_cache import ChangeSignal, CredentialCache

CHUNK = 500


@dataclass(frozen=True)
class ModelRules:
    """A model version's properties, their numbers and its rules."""

    version: int
    specs: dict[str, PropertySpec]
    numbers: dict[str, int]
    rules: list[AlertRule]


def chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    """At most :data:`CHUNK` ids at a time, as ``IN (...)`` lists on SQLite must stay short."""
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


async def device_rules(device_ids: Sequence[int]) -> dict[int, list[DeviceRule]]:
    """What each device says about its rules."""
    found: dict[int, list[DeviceRule]] = defaultdict(list)
    for chunk in chunks(device_ids):
        rows = await DeviceAlertRule.filter(device_id__in=chunk).order_by("id") \
            .values_list("device_id", "rule_id", "rule", "enabled")
        for device_id, rule_id, rule, enabled in rows:
            found[device_id].append(DeviceRule(rule_id, stored_rules([rule])[0] if rule else None, enabled))
    return found


class RuleBook:
    """Compiled rules by device; a device that is missing, disabled or retired has none in the book."""

    def __init__(self, signal: ChangeSignal) -> None:
        self._devices: CredentialCache[DeviceWatches] = CredentialCache(signal)
        self._models: dict[int, ModelRules] = {}

    async def for_devices(self, ids: Iterable[int]) -> dict[int, DeviceWatches]:
        found: dict[int, DeviceWatches] = {}
        missing: list[int] = []
        for device_id in ids:
            known = self._devices.get(str(device_id))
            if known is None:
                missing.append(device_id)
            else:
                found[device_id] = known
        if missing:
            stamp = self._devices.stamp()
            for device_id, watches in (await self._load(sorted(missing))).items():
                self._devices.keep(str(device_id), watches, stamp)
                found[device_id] = watches
        return found

    async def _load(self, ids: Sequence[int]) -> dict[int, DeviceWatches]:
        own = await device_rules(ids)
        loaded: dict[int, DeviceWatches] = {}
        for chunk in chunks(ids):
            rows = await Device.filter(id__in=chunk, status=DeviceStatus.ACTIVE) \
                .values_list("id", "model_id", "model__version")
            for device_id, model_id, version in rows:
                model = await self.model(model_id, version)
                in_force = [rule for _source, rule in rules_in_force(model.rules, own.get(device_id, ()))]
                loaded[device_id] = compile_watches(in_force, model.specs, model.numbers)
        return loaded

    async def model(self, model_id: int, version: int) -> ModelRules:
        known = self._models.get(model_id)
        if known is not None and known.version >= version:
            return known
        model = await DeviceModel.get(id=model_id)
        specs = parse_properties(model.properties)
        known = ModelRules(model.version, specs, await property_ids(specs), stored_rules(model.alert_rules))
        self._models[model_id] = known
        return known
