"""Alerts: raised once, cleared once, acknowledged by staff; each change a device event and an exchange record.

A raise, a clear and an acknowledgement each run in one transaction that changes
the alert, records a device event (``kind`` ``alert``, ``state`` ``raised``,
``cleared`` or ``acknowledged``) and writes the alert's record in ``devices.alerts``.
The caller tells plugins of the returned events once the transaction has committed.
Staff see the alerts of the areas they cover, as they see devices: 404 outside them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.devices import clock
from tulou.devices.alert_models import Alert
from tulou.devices.alert_rules import kind_of
from tulou.devices.alert_schemas import AlertOut, AlertRule
from tulou.devices.alerts_dataset import put_alert_record
from tulou.devices.models import Device, DeviceEventRecord
from tulou.errors import NotFound
from tulou.i18n import gettext as _
from tulou.identity.scope import in_area, within
from tulou.security.principal import Principal

KIND = "alert"


def open_key(device_id: int, rule_id: str) -> str:
    return f"{device_id}:{rule_id}"


async def _event(alert: Alert, state: str, at: datetime) -> DeviceEventRecord:
    detail: dict[str, Any] = {"alert": alert.id, "rule": alert.rule, "severity": alert.severity}
    if alert.property is not None:
        detail["property"] = alert.property
    if state == "raised" and alert.value is not None:
        detail["value"] = alert.value
    return await DeviceEventRecord.create(device_id=alert.device_id, kind=KIND, state=state, at=at, detail=detail)


async def _device(device_id: int) -> Device:
    return await Device.get(id=device_id).select_related("model")


async def raise_alert(device_id: int, rule: AlertRule, at: datetime, value: Any = None,
                      detail: dict[str, Any] | None = None) -> tuple[Alert, DeviceEventRecord] | None:
    """Open an alert of ``rule`` on the device; ``None`` when one is open already (another process raised it)."""
    device = await _device(device_id)
    try:
        async with in_transaction():
            alert = await Alert.create(
                device_id=device.id, area_id=device.area_id, rule=rule.id, kind=kind_of(rule),
                property=rule.property, severity=rule.severity, description=rule.description, raised_at=at,
                value=value, detail={**(detail or {}), "rule": msgspec.to_builtins(rule)},
                open_key=open_key(device.id, rule.id),
            )
            event = await _event(alert, "raised", at)
            await put_alert_record(alert, device.uid, device.model.key)
    except IntegrityError:
        return None
    return alert, event


async def clear_alert(alert: Alert, at: datetime, detail: dict[str, Any]) -> DeviceEventRecord | None:
    """Close an open alert; ``None`` when it is closed already."""
    device = await _device(alert.device_id)
    async with in_transaction():
        changed = await Alert.filter(id=alert.id, cleared_at=None).update(
            cleared_at=at, open_key=None, detail={**alert.detail, **detail},
        )
        if not changed:
            return None
        await alert.refresh_from_db()
        event = await _event(alert, "cleared", at)
        await put_alert_record(alert, device.uid, device.model.key)
    return event


async def open_alerts(device_ids: list[int], kind: str | None = None) -> dict[tuple[int, str], Alert]:
    """The open alerts of these devices, by device and rule."""
    query = Alert.filter(device_id__in=device_ids, cleared_at=None)
    if kind is not None:
        query = query.filter(kind=kind)
    return {(alert.device_id, alert.rule): alert for alert in await query}


# -- staff ---------------------------------------------------------------------------


async def get_alert(principal: Principal, alert_id: int) -> Alert:
    """One alert with its device and model, or 404 when absent or outside the caller's areas."""
    alert = await Alert.filter(within(principal, "area_id")).get_or_none(id=alert_id) \
        .select_related("device", "device__model")
    if alert is None:
        raise NotFound(_("Alert not found"), field="alert_id")
    return alert


async def list_alerts(
    principal: Principal, area: str | None = None, device: str | None = None, state: str | None = None,
    severity: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Alert], int]:
    """One page of the alerts in the caller's areas, newest first: by area subtree, device, open or cleared, severity."""
    query = Alert.filter(within(principal, "area_id"))
    if area is not None:
        query = query.filter(await in_area(principal, area, "area_id"))
    if device is not None:
        query = query.filter(device__uid=device)
    if state is not None:
        query = query.filter(cleared_at__isnull=state == "open")
    if severity is not None:
        query = query.filter(severity=severity)
    found = await query.select_related("device", "device__model").order_by("-raised_at", "-id") \
        .offset(offset).limit(limit)
    return found, await query.count()


async def acknowledge(principal: Principal, alert_id: int) -> tuple[Alert, DeviceEventRecord | None]:
    """Note that staff have seen the alert, once; audited. Acknowledging again changes nothing."""
    alert = await get_alert(principal, alert_id)
    if alert.acknowledged_at is not None:
        return alert, None
    now = clock.now()
    async with in_transaction():
        changed = await Alert.filter(id=alert.id, acknowledged_at=None).update(acknowledged_at=now,
                                                                                 acknowledged_by=principal.id)
        if not changed:
            return await get_alert(principal, alert_id), None
        alert.acknowledged_at, alert.acknowledged_by = now, principal.id
        event = await _event(alert, "acknowledged", now)
        await put_alert_record(alert, alert.device.uid, alert.device.model.key)
        await record_audit(principal.id, "alert.acknowledged", area_code=alert.area_id, target_type="alert",
                           target_id=str(alert.id), detail={"device": alert.device.uid, "rule": alert.rule})
    return alert, event


def alert_out(alert: Alert) -> AlertOut:
    """``alert`` with its device and model fetched."""
    return AlertOut(
        id=alert.id, device=alert.device.uid, ref_device_model=alert.device.model.key, area=alert.area_id,
        rule=alert.rule, kind=alert.kind, property=alert.property, severity=alert.severity,
        description=alert.description, state="open" if alert.cleared_at is None else "cleared",
        raised_at=alert.raised_at, cleared_at=alert.cleared_at, value=alert.value,
        detail={key: value for key, value in alert.detail.items() if key != "rule"},
        acknowledged_at=alert.acknowledged_at, acknowledged_by=alert.acknowledged_by,
    )
