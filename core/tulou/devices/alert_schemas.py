"""Wire shapes of alert rules and alerts.

A rule is one of three kinds, told apart by ``kind``: ``threshold`` (a property's
value against a limit, with an optional clear value for hysteresis), ``absence`` (no
data for a while) and ``rate`` (a change of more than ``change`` within ``seconds``).
Models carry default rules, devices add, override or disable them. Severities are
those of the FIWARE ``Alert`` data model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

RuleId = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$",
                                     description="unique among the rules of a model, or of a device")]
Severity = Literal["informational", "low", "medium", "high", "critical"]
Operator = Literal[">", ">=", "<", "<=", "==", "!="]
PropertyName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
Description = Annotated[str, msgspec.Meta(max_length=200)]
MAX_RULE_SECONDS = 30 * 86400
MAX_RATE_SECONDS = 86400


class _Rule(msgspec.Struct, forbid_unknown_fields=True, rename="camel", tag_field="kind", kw_only=True):
    id: RuleId
    severity: Severity = "medium"
    description: Description = ""
    enabled: bool = True


class ThresholdRule(_Rule, tag="threshold"):
    """Raised when ``property operator value`` holds; cleared when it no longer does or, with
    ``clearValue``, once the value is back at ``clearValue`` or beyond (numbers and ``<``, ``<=``, ``>``, ``>=``)."""

    property: PropertyName
    operator: Operator
    value: float | bool | str
    clear_value: float | None = None


class AbsenceRule(_Rule, tag="absence"):
    """Raised when no reading of ``property`` (of any property, if left out) is timed within the last ``seconds``."""

    seconds: Annotated[int, msgspec.Meta(ge=60, le=MAX_RULE_SECONDS)]
    property: PropertyName | None = None


class RateRule(_Rule, tag="rate"):
    """Raised when a reading differs by more than ``change`` from the oldest reading of the ``seconds`` before it;
    ``direction`` ``rise`` or ``fall`` watches one way only."""

    property: PropertyName
    change: Annotated[float, msgspec.Meta(gt=0)]
    seconds: Annotated[int, msgspec.Meta(ge=1, le=MAX_RATE_SECONDS)]
    direction: Literal["rise", "fall", "any"] = "any"


AlertRule = ThresholdRule | AbsenceRule | RateRule


class DeviceAlertRuleOut(msgspec.Struct):
    """A rule in force on ``device``: ``source`` ``model`` as its model has it, ``device`` its own or its
    change of the model's."""

    device: str
    source: Literal["model", "device"]
    rule: AlertRule


class AlertOut(msgspec.Struct, rename="camel"):
    """One alert: raised once when its rule's condition began, cleared once when it ended.

    ``value`` is what raised it: the reading (threshold), the change (rate), nothing (absence).
    """

    id: int
    device: str
    ref_device_model: str
    area: str
    rule: str
    kind: str
    property: str | None
    severity: str
    description: str
    state: Literal["open", "cleared"]
    raised_at: datetime
    cleared_at: datetime | None
    value: float | bool | str | None
    detail: dict[str, Any]
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    type: str = "Alert"
