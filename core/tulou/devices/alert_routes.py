"""``/api/v1/alerts`` and ``/api/v1/devices/{id}/alert-rules``: thin controllers over the alert services.

Alerts are read with ``device:read`` in their area and acknowledged with
``device:write``; a device's rules are read and changed with the same permissions
on the device. Outside the caller's areas everything is 404.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.devices import alerts, device_alert_rules
from tulou.devices.alert_schemas import AlertOut, AlertRule, DeviceAlertRuleOut, Severity
from tulou.devices.models import DeviceEventRecord
from tulou.devices.routes import AreaFilter, Limit, Offset
from tulou.identity.routes import caller
from tulou.identity.schemas import Page
from tulou.identity.scope import clamp
from tulou.security.guards import requires

DevicePath = FromPath[str]
RulePath = FromPath[str]


async def _told(request: Request, events: list[DeviceEventRecord]) -> None:
    """Tell plugins of what a change recorded, now that it has committed."""
    await request.app.state.devices.announce(events)


class AlertController(Controller):
    path = "/api/v1/alerts"
    tags = ["devices"]

    @get("/", guards=[requires("device:read")], summary="Alerts within the caller's areas, newest first")
    async def list_alerts(
        self,
        request: Request,
        area: AreaFilter = None,
        device: Annotated[str | None, QueryParameter(description="only this device's", max_length=16)] = None,
        condition: Annotated[Literal["open", "cleared"] | None,
                             QueryParameter(name="state", description="open or cleared")] = None,
        severity: Annotated[Severity | None, QueryParameter(description="only this severity")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page:
        limit = clamp(limit)
        found, total = await alerts.list_alerts(await caller(request), area, device, condition, severity, limit, offset)
        return Page(items=[alerts.alert_out(alert) for alert in found], total=total, limit=limit, offset=offset)

    @get("/{alert_id:int}", guards=[requires("device:read")], summary="One alert")
    async def read(self, request: Request, alert_id: FromPath[int]) -> AlertOut:
        return alerts.alert_out(await alerts.get_alert(await caller(request), alert_id))

    @post("/{alert_id:int}/acknowledge", status_code=200, guards=[requires("device:write")],
          summary="Note that staff have seen the alert; it stays open until its condition ends")
    async def acknowledge(self, request: Request, alert_id: FromPath[int]) -> AlertOut:
        alert, event = await alerts.acknowledge(await caller(request), alert_id)
        await _told(request, [event] if event is not None else [])
        return alerts.alert_out(alert)


class DeviceAlertRuleController(Controller):
    path = "/api/v1/devices/{device_id:str}/alert-rules"
    tags = ["devices"]

    @get("/", guards=[requires("device:read")], summary="The alert rules in force on the device")
    async def list_rules(self, request: Request, device_id: DevicePath) -> list[DeviceAlertRuleOut]:
        return await device_alert_rules.rules_of(await caller(request), device_id)

    @put("/{rule_id:str}", guards=[requires("device:write")],
         summary="Give the device a rule of its own, or its own version of a rule of its model")
    async def put_rule(self, request: Request, device_id: DevicePath, rule_id: RulePath,
                       data: JSONBody[AlertRule]) -> DeviceAlertRuleOut:
        book = request.app.state.devices.rules
        found, events = await device_alert_rules.put_rule(await caller(request), device_id, rule_id, data, book)
        await _told(request, events)
        return found

    @delete("/{rule_id:str}", guards=[requires("device:write")],
            summary="Drop the device's own rule, or its version of a model's rule (the model's applies again)")
    async def remove_rule(self, request: Request, device_id: DevicePath, rule_id: RulePath) -> None:
        book = request.app.state.devices.rules
        await _told(request, await device_alert_rules.remove_rule(await caller(request), device_id, rule_id, book))

    @post("/{rule_id:str}/disable", status_code=200, guards=[requires("device:write")],
          summary="Switch a rule off for this device; its open alert clears")
    async def disable(self, request: Request, device_id: DevicePath, rule_id: RulePath) -> DeviceAlertRuleOut:
        return await self._switch(request, device_id, rule_id, False)

    @post("/{rule_id:str}/enable", status_code=200, guards=[requires("device:write")],
          summary="Switch a rule on again for this device")
    async def enable(self, request: Request, device_id: DevicePath, rule_id: RulePath) -> DeviceAlertRuleOut:
        return await self._switch(request, device_id, rule_id, True)

    async def _switch(self, request: Request, device_id: str, rule_id: str, enabled: bool) -> DeviceAlertRuleOut:
        book = request.app.state.devices.rules
        found, events = await device_alert_rules.switch_rule(await caller(request), device_id, rule_id, enabled, book)
        await _told(request, events)
        return found
