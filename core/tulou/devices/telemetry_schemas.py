"""Wire shapes of telemetry: readings devices send, and latest values and series staff read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

PropertyName = Annotated[str, msgspec.Meta(max_length=64)]


class ReadingIn(msgspec.Struct, forbid_unknown_fields=True):
    """Values measured at one time ``t`` (RFC 3339 with an offset; the server's time when left out).

    ``device`` may name the sender itself; naming any other device gets the reading refused.
    """

    values: dict[PropertyName, Any]
    t: datetime | None = None
    device: str | None = None


class TelemetryIn(msgspec.Struct, forbid_unknown_fields=True):
    """One reading (``values`` and ``t``) or a batch (``readings``), never both."""

    values: dict[PropertyName, Any] | None = None
    t: datetime | None = None
    device: str | None = None
    readings: list[ReadingIn] | None = None


class TelemetryAck(msgspec.Struct):
    """Every reading was stored, durably, before this answer was sent."""

    accepted: int


class LatestValue(msgspec.Struct, omit_defaults=True):
    t: datetime
    value: float | bool | str | None
    unit: str = ""


class LatestOut(msgspec.Struct):
    device: str
    values: dict[str, LatestValue]


class PointOut(msgspec.Struct):
    """One reading, or one bucket starting at ``t`` whose aggregate is ``value``."""

    t: datetime
    value: float | bool | str | None


class SeriesOut(msgspec.Struct, omit_defaults=True):
    property: str
    points: list[PointOut]
    unit: str = ""


class TelemetryOut(msgspec.Struct):
    """Readings in ``[from, to)``: raw, or downsampled to one ``agg`` value per ``interval``."""

    device: str
    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")
    agg: str | None = None
    interval: str | None = None
    series: list[SeriesOut] = msgspec.field(default_factory=list)
