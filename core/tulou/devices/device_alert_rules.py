"""A device's alert rules: its model's, changed, switched off or on, and rules of its own; staff of its area decide.

Each change is audited, forgotten by every process's rule book at once, and clears
the device's open alerts whose rule it withdrew (switched off, removed, or made of
another kind); the caller tells plugins of those clears.
"""

from __future__ import annotations

import msgspec
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.devices import clock
from tulou.devices.alert_book import RuleBook, device_rules
from tulou.devices.alert_models import DeviceAlertRule
from tulou.devices.alert_rules import MAX_RULES, RuleError, Source, check_rule, rules_in_force, stored_rules
from tulou.devices.alert_schemas import AlertRule, DeviceAlertRuleOut
from tulou.devices.alert_watch import clear_stale
from tulou.devices.models import Device, DeviceEventRecord
from tulou.devices.registry import get_device
from tulou.devices.telemetry_schema import parse_properties
from tulou.errors import Conflict, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed


async def _in_force(device: Device) -> list[tuple[Source, AlertRule]]:
    own = (await device_rules([device.id])).get(device.id, [])
    return rules_in_force(stored_rules(device.model.alert_rules), own)


async def rules_of(principal: Principal, uid: str) -> list[DeviceAlertRuleOut]:
    """The rules in force on the device: the model's as the device changed them, then its own."""
    device = await get_device(principal, uid)
    return [DeviceAlertRuleOut(device.uid, source, rule) for source, rule in await _in_force(device)]


def _rule_not_found() -> NotFound:
    return NotFound(_("The device has no alert rule of this id"), field="rule_id")


async def _one(device: Device, rule_id: str) -> DeviceAlertRuleOut:
    """The rule ``rule_id`` in force on the device; 404 if there is none."""
    for source, rule in await _in_force(device):
        if rule.id == rule_id:
            return DeviceAlertRuleOut(device.uid, source, rule)
    raise _rule_not_found()


async def _changed(device: Device, book: RuleBook) -> list[DeviceEventRecord]:
    """After a change has committed: every process forgets the device's rules, stale alerts clear."""
    await principals_changed()
    return await clear_stale(book, clock.now(), [device.id])


async def put_rule(principal: Principal, uid: str, rule_id: str, rule: AlertRule,
                   book: RuleBook) -> tuple[DeviceAlertRuleOut, list[DeviceEventRecord]]:
    """Give the device a rule of its own, or its own version of its model's rule ``rule_id``."""
    device = await get_device(principal, uid)
    if rule.id != rule_id:
        raise Invalid(_("The rule's id must be the one in the address"), field="id")
    try:
        check_rule(rule, parse_properties(device.model.properties))
    except RuleError as error:
        raise Invalid(_("The alert rule is invalid: %(reason)s") % {"reason": str(error)}, field=error.field) from None
    kept = msgspec.to_builtins(msgspec.structs.replace(rule, enabled=True))
    async with in_transaction():
        existing = await DeviceAlertRule.get_or_none(device_id=device.id, rule_id=rule_id)
        if existing is None:
            if await DeviceAlertRule.filter(device_id=device.id).count() >= MAX_RULES:
                raise Conflict(_("A device has %(count)d alert rules of its own at most") % {"count": MAX_RULES})
            await DeviceAlertRule.create(device_id=device.id, rule_id=rule_id, rule=kept, enabled=rule.enabled,
                                         updated_by=principal.id)
        else:
            await DeviceAlertRule.filter(id=existing.id).update(rule=kept, enabled=rule.enabled, updated_by=principal.id)
        await _audit(principal, device, "device.alert_rule_set", rule_id, {"rule": kept, "enabled": rule.enabled})
    events = await _changed(device, book)
    return await _one(device, rule_id), events


async def switch_rule(principal: Principal, uid: str, rule_id: str, enabled: bool,
                      book: RuleBook) -> tuple[DeviceAlertRuleOut, list[DeviceEventRecord]]:
    """Switch a rule in force off or on, for this device only; a model's rule stays as the model has it."""
    device = await get_device(principal, uid)
    await _one(device, rule_id)
    async with in_transaction():
        existing = await DeviceAlertRule.get_or_none(device_id=device.id, rule_id=rule_id)
        if existing is None:
            await DeviceAlertRule.create(device_id=device.id, rule_id=rule_id, rule=None, enabled=enabled,
                                         updated_by=principal.id)
        else:
            await DeviceAlertRule.filter(id=existing.id).update(enabled=enabled, updated_by=principal.id)
        action = "device.alert_rule_enabled" if enabled else "device.alert_rule_disabled"
        await _audit(principal, device, action, rule_id)
    events = await _changed(device, book)
    return await _one(device, rule_id), events


async def remove_rule(principal: Principal, uid: str, rule_id: str, book: RuleBook) -> list[DeviceEventRecord]:
    """Drop what the device says of ``rule_id``: its own rule goes, a model's rule applies as the model has it."""
    device = await get_device(principal, uid)
    async with in_transaction():
        if not await DeviceAlertRule.filter(device_id=device.id, rule_id=rule_id).delete():
            raise _rule_not_found()
        await _audit(principal, device, "device.alert_rule_removed", rule_id)
    return await _changed(device, book)


async def _audit(principal: Principal, device: Device, action: str, rule_id: str, detail: dict | None = None) -> None:
    await record_audit(principal.id, action, area_code=device.area_id, target_type="device", target_id=device.uid,
                       detail={"rule": rule_id, **(detail or {})})
