"""From a device's request to rows for the writer: each reading checked against the device's model.

Bodies are decoded by msgspec straight into structs. Each model version is compiled
once per process: the JSON Schema of a reading's values, checked by ``jsonschema-rs``
in one call, and a check closure per property that names the fault when that call
says no. Rows are built straight from the values, with no ORM object on the way.

A batch is not all-or-nothing. Every reading that passes is stored; each one that
does not is listed with its index and reasons in a 422 answer, which also says how
many were stored. A device must not send those again, only fix or drop the refused ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jsonschema_rs
from tortoise.exceptions import IntegrityError

from tulou.devices.credentials import DeviceCredential
from tulou.devices.gateways import GatewayChildren, Indexed
from tulou.devices.models import DeviceModel, TelemetryProperty
from tulou.devices.telemetry_schema import Check, PropertySpec, Rejected, compile_checks, parse_properties, values_schema
from tulou.devices.telemetry_schemas import ReadingIn, TelemetryIn
from tulou.devices.telemetry_store import Row
from tulou.errors import Invalid
from tulou.i18n import gettext as _


@dataclass(frozen=True)
class CompiledModel:
    """What checking a model's readings needs, built once per model version."""

    model_id: int
    version: int
    specs: dict[str, PropertySpec]
    #: Property name to (property number, check, whether the value is text).
    checks: dict[str, tuple[int, Check, bool]]
    #: Whether a reading's values all pass, in one call: the fast path.
    passes: Callable[[Any], bool]
    numbers: dict[str, int]
    texts: frozenset[str]

    def rows(self, values: dict[str, Any], device_id: int, ts: Any) -> list[Row]:
        """The rows of a reading whose values all passed."""
        numbers, texts = self.numbers, self.texts
        if not texts:
            return [(device_id, numbers[name], ts, value, None) for name, value in values.items()]
        return [(device_id, numbers[name], ts, None, value) if name in texts else
                (device_id, numbers[name], ts, value, None) for name, value in values.items()]


async def property_ids(names: Iterable[str]) -> dict[str, int]:
    """The number of each property name, numbering new names as they come."""
    wanted = sorted(set(names))
    known = dict(await TelemetryProperty.filter(name__in=wanted).values_list("name", "id"))
    for name in wanted:
        if name not in known:
            try:
                known[name] = (await TelemetryProperty.create(name=name)).id
            except IntegrityError:  # numbered meanwhile by another process
                known[name] = (await TelemetryProperty.get(name=name)).id
    return known


async def compile_model(model: DeviceModel) -> CompiledModel:
    specs = parse_properties(model.properties)
    ids = await property_ids(specs)
    checks = compile_checks(specs)
    return CompiledModel(
        model.id, model.version, specs,
        checks={name: (ids[name], checks[name], spec.type == "string") for name, spec in specs.items()},
        passes=jsonschema_rs.validator_for(values_schema(specs)).is_valid,
        numbers={name: ids[name] for name in specs},
        texts=frozenset(name for name, spec in specs.items() if spec.type == "string"),
    )


class ModelCache:
    """Compiled models by id, recompiled when a device's credential names a newer version."""

    def __init__(self) -> None:
        self._compiled: dict[int, CompiledModel] = {}
        self._lock = asyncio.Lock()

    async def for_device(self, credential: DeviceCredential) -> CompiledModel:
        found = self._compiled.get(credential.model_id)
        if found is not None and found.version >= credential.model_version:
            return found
        async with self._lock:
            found = self._compiled.get(credential.model_id)
            if found is None or found.version < credential.model_version:
                found = await compile_model(await DeviceModel.get(id=credential.model_id))
                self._compiled[credential.model_id] = found
        return found


# -- checking readings -----------------------------------------------------------------


@dataclass
class Checked:
    """The rows of the readings that passed, the newest row of each property, and why the others did not."""

    rows: list[Row] = field(default_factory=list)
    latest: dict[tuple[int, int], Row] = field(default_factory=dict)
    accepted: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)


def _message(reason: str, detail: dict[str, Any]) -> str:
    messages: dict[str, Callable[[], str]] = {
        "unknown_property": lambda: _("The device's model has no such property"),
        "wrong_type": lambda: _("The value must be of type %(expected)s") % detail,
        "below_minimum": lambda: _("%(value)s is below the minimum %(limit)s") % detail,
        "above_maximum": lambda: _("%(value)s is above the maximum %(limit)s") % detail,
        "too_long": lambda: _("The text is longer than %(limit)s characters") % detail,
        "no_values": lambda: _("A reading needs at least one value"),
        "timestamp_without_offset": lambda: _("Give the time with its offset from UTC"),
        "timestamp_in_future": lambda: _("The time is ahead of the server's clock"),
        "device_not_allowed": lambda: _("This token may only send readings of its own device and of those behind it"),
    }
    return messages[reason]()


def _problem(index: int, prop: str | None, reason: str, **detail: Any) -> dict[str, Any]:
    path = f"readings[{index}]" + (f".values.{prop}" if prop else "")
    return {"field": path, "index": index, "property": prop, "reason": reason, "message": _message(reason, detail)}


def readings_of(body: TelemetryIn) -> list[ReadingIn]:
    """The batch, or the single reading the body is; 422 if it is both or neither."""
    single = body.values is not None
    if single == (body.readings is not None):
        raise Invalid(_("Send either values (one reading) or readings (a batch)"), field="readings")
    if single:
        return [ReadingIn(values=body.values, t=body.t, device=body.device)]  # type: ignore[arg-type]
    if body.t is not None or body.device is not None:
        raise Invalid(_("In a batch, each reading carries its own time"), field="t")
    return body.readings  # type: ignore[return-value]


def _reading_problem(index: int, reading: ReadingIn, now: datetime, ahead: timedelta) -> dict | None:
    if not reading.values:
        return _problem(index, None, "no_values")
    if reading.t is not None:
        if reading.t.tzinfo is None:
            return _problem(index, None, "timestamp_without_offset")
        if reading.t > now + ahead:
            return _problem(index, None, "timestamp_in_future")
    return None


def _checked_values(
    index: int, values: dict[str, Any], device_id: int, ts: Any, checks: dict[str, tuple[int, Check, bool]],
    problems: list[dict[str, Any]],
) -> list[Row] | None:
    """The rows of one reading, or None (its problems noted) if any value is refused: this is the hot loop."""
    rows: list[Row] = []
    append, refused = rows.append, False
    for name, value in values.items():
        entry = checks.get(name)
        if entry is None:
            problems.append(_problem(index, name, "unknown_property"))
            refused = True
            continue
        number, check, is_text = entry
        try:
            stored = check(value)
        except Rejected as rejection:
            problems.append(_problem(index, name, rejection.reason, **rejection.detail))
            refused = True
            continue
        append((device_id, number, ts, None, stored) if is_text else (device_id, number, ts, stored, None))
    return None if refused else rows


def newest_rows(readings: list[tuple[Any, list[Row]]], properties: int) -> dict[tuple[int, int], Row]:
    """The newest row of each property among one device's accepted readings, later ones winning ties.

    Going through whole readings from the newest down usually stops after the first,
    once all ``properties`` are seen: cheaper than comparing every row.
    """
    newest: dict[tuple[int, int], Row] = {}
    for _order, rows in sorted(((ts, position), rows) for position, (ts, rows) in enumerate(readings))[::-1]:
        for row in rows:
            newest.setdefault((row[0], row[1]), row)
        if len(newest) == properties:
            break
    return newest


def check_readings(
    readings: Sequence[Indexed], device: DeviceCredential, model: CompiledModel, now: datetime, ahead: timedelta,
    encode_time: Callable[[datetime], Any],
) -> Checked:
    """Turn one device's readings into rows; a reading with any bad value is refused whole, with every reason."""
    result, checks, device_id = Checked(), model.checks, device.device_id
    default_time = encode_time(now)
    accepted: list[tuple[Any, list[Row]]] = []
    for index, reading in readings:
        if (problem := _reading_problem(index, reading, now, ahead)) is not None:
            result.problems.append(problem)
            continue
        ts = default_time if reading.t is None else encode_time(reading.t)
        if model.passes(reading.values):
            rows: list[Row] | None = model.rows(reading.values, device_id, ts)
        else:
            rows = _checked_values(index, reading.values, device_id, ts, checks, result.problems)
        if rows is not None:
            accepted.append((ts, rows))
            result.rows.extend(rows)
    result.accepted = len(accepted)
    result.latest = newest_rows(accepted, len(checks))
    return result


async def check_sent(
    readings: Sequence[ReadingIn], sender: DeviceCredential, gateways: GatewayChildren, models: ModelCache,
    now: datetime, ahead: timedelta, encode_time: Callable[[datetime], Any],
) -> Checked:
    """Check what one sender sent: each reading against the model of the device it is of (the sender, or one
    behind it when the sender is a gateway); a reading naming any other device is refused."""
    assigned = await gateways.assign(readings, sender)
    result = Checked(problems=[_problem(index, None, "device_not_allowed") for index in assigned.not_allowed])
    for credential, indexed in assigned.by_device.values():
        part = check_readings(indexed, credential, await models.for_device(credential), now, ahead, encode_time)
        result.rows += part.rows
        result.latest.update(part.latest)  # keyed by device: no two devices' entries meet
        result.accepted += part.accepted
        result.problems += part.problems
    result.problems.sort(key=lambda problem: problem["index"])
    return result


class RejectedReadings(Invalid):
    """422 listing every refused reading; ``accepted`` readings of the same batch were stored."""

    def __init__(self, accepted: int, refused: int, problems: list[dict[str, Any]]) -> None:
        super().__init__(
            _("%(refused)d reading(s) refused, %(accepted)d stored") % {"refused": refused, "accepted": accepted},
            errors=problems,
        )
        self.accepted = accepted
        self.refused = refused

    @property
    def extensions(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "refused": self.refused}
