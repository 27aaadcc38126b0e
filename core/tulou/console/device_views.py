"""What the device pages show: the registry in the caller's areas, counted, and the register form read back.

Everything goes through the API's services (:mod:`tulou.devices.registry`, ``alerts``,
``device_errors``), so a page sees exactly the devices the API would show the same
caller, and registering from the console is validated and audited as ``POST /api/v1/devices`` is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import msgspec
from tortoise.functions import Count

from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.console.templating import area_label
from tulou.devices import alerts, registry
from tulou.devices.alert_models import Alert
from tulou.devices.device_errors import device_errors
from tulou.devices.models import Connection, Device, DeviceModel
from tulou.devices.schemas import DeviceErrorsOut, DeviceIn
from tulou.errors import Problem
from tulou.i18n import gettext as _
from tulou.identity.scope import in_area, within
from tulou.security.principal import Principal

PAGE_SIZE = 50
#: The register form's fields, as the API names them (so a service's ``Problem.field`` lands next to its input).
DEVICE_FIELDS = ("model", "serialNumber", "name", "area", "firmwareVersion", "dateInstalled")
REQUIRED_DEVICE_FIELDS = ("model", "serialNumber", "name", "area")


@dataclass(frozen=True)
class DeviceFilters:
    """The list's filters as the query string gives them; empty means all."""

    area: str | None = None
    model: str | None = None
    connection: str | None = None
    offset: int = 0

    @classmethod
    def from_query(cls, area: str | None, model: str | None, connection: str | None, offset: int) -> DeviceFilters:
        known = connection if connection in {state.value for state in Connection} else None
        return cls(area or None, model or None, known, max(offset, 0))


@dataclass
class DeviceList:
    devices: list[Device]
    last_values: dict[int, datetime]
    total: int
    counts: dict[str, int]  # by connection state, within the area and model filters
    areas: dict[str, Area]


async def villages_in_scope(principal: Principal) -> list[Area]:
    """The villages where the caller (narrowed to one permission by the page's guard) may act, and no other."""
    return await Area.filter(within(principal, "code"), level=AreaLevel.VILLAGE).order_by("code")


async def areas_to_filter_by(principal: Principal) -> list[Area]:
    """The townships and villages in the caller's areas, in code order (a township before its villages)."""
    levels = [AreaLevel.TOWNSHIP, AreaLevel.VILLAGE]
    return await Area.filter(within(principal, "code"), level__in=levels).order_by("code")


def area_choices(areas: list[Area]) -> list[tuple[str, str]]:
    """An area picker's choices: the code, and the name with the code (villages of two townships may share a name)."""
    return [(area.code, f"{area_label(area)} · {area.code}") for area in areas]


def model_choices(models: list[DeviceModel]) -> list[tuple[str, str]]:
    return [(model.key, f"{model.manufacturer} {model.model_name} · {model.key}") for model in models]


async def areas_named(codes: set[str]) -> dict[str, Area]:
    return {area.code: area for area in await Area.filter(code__in=sorted(codes))} if codes else {}


async def connection_counts(principal: Principal, area: str | None, model: str | None) -> dict[str, int]:
    """How many of the caller's devices (in ``area``, of ``model``) are online, offline or not heard from yet."""
    query = registry.visible_devices(principal)
    if area is not None:
        query = query.filter(await in_area(principal, area, "area_id"))
    if model is not None:
        query = query.filter(model__key=model)
    rows = await query.annotate(count=Count("id")).group_by("connection").values("connection", "count")
    counts = {state.value: 0 for state in Connection}
    for row in rows:
        counts[Connection(row["connection"]).value] += row["count"]
    return counts


async def device_list(principal: Principal, filters: DeviceFilters) -> DeviceList:
    """One page of the registry as ``GET /api/v1/devices`` gives it, with counts and the villages' names."""
    found, total = await registry.list_devices(principal, filters.area, filters.model, None, filters.connection,
                                               PAGE_SIZE, filters.offset)
    return DeviceList(
        devices=found, last_values=await registry.last_values_at(found), total=total,
        counts=await connection_counts(principal, filters.area, filters.model),
        areas=await areas_named({device.area_id for device in found}),
    )


# -- the register form -------------------------------------------------------------------------


def _required_message(name: str) -> str:
    return {
        "model": _("Choose the device's model"),
        "serialNumber": _("Enter the serial number printed on the device"),
        "name": _("Give the device a name"),
        "area": _("Choose the village the device is in"),
    }[name]


def device_in(form: Mapping[str, str]) -> tuple[DeviceIn | None, dict[str, str]]:
    """The form as the API's request body, or the message for each field at fault."""
    values = {name: (form.get(name) or "").strip() for name in DEVICE_FIELDS}
    errors = {name: _required_message(name) for name in REQUIRED_DEVICE_FIELDS if not values[name]}
    if errors:
        return None, errors
    body = {name: value for name, value in values.items() if value}
    try:
        return msgspec.convert(body, DeviceIn), {}
    except msgspec.ValidationError as error:
        return None, {_field_of(str(error)): _("This value is not valid here")}


def _field_of(message: str) -> str:
    """The form field a msgspec message names (``... - at `$.serialNumber```), else the serial number."""
    for name in DEVICE_FIELDS:
        if f"$.{name}`" in message:
            return name
    return "serialNumber"


def problem_errors(problem: Problem, fields: tuple[str, ...]) -> dict[str, str] | None:
    """A service's refusal as a field error when it names one of the form's fields; ``None`` otherwise."""
    if problem.field in fields:
        return {problem.field: problem.detail}
    return None


# -- one device's page -------------------------------------------------------------------------


@dataclass
class DevicePage:
    device: Device
    area: Area | None
    last_value: datetime | None
    errors: DeviceErrorsOut
    open_alerts: list[Alert]


async def device_page(principal: Principal, uid: str) -> DevicePage:
    """The device, its village, its recent refusals and open alerts; 404 outside the caller's areas."""
    device = await registry.get_device(principal, uid)
    open_alerts, _total = await alerts.list_alerts(principal, device=uid, state="open", limit=50)
    return DevicePage(
        device=device, area=await Area.get_or_none(code=device.area_id),
        last_value=(await registry.last_values_at([device])).get(device.id),
        errors=await device_errors(principal, uid), open_alerts=open_alerts,
    )


async def open_alerts_in_scope(principal: Principal, limit: int = 200) -> tuple[list[Alert], int, dict[str, Area]]:
    """The open alerts in the caller's areas, newest first, with their villages."""
    found, total = await alerts.list_alerts(principal, state="open", limit=limit)
    return found, total, await areas_named({alert.area_id for alert in found})
