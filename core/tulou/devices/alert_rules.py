"""Alert rules: checked against a model's telemetry, merged from the model's and the device's, compiled once.

A model's rules apply to every device of it; a device may add rules of its own,
replace a model's rule by one of the same id, or disable one. The rules in force are
compiled once per model version and device change into plain closures, so judging
a batch of readings costs a comparison per value and no parsing.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from tulou.devices.alert_schemas import AbsenceRule, AlertRule, RateRule, ThresholdRule
from tulou.devices.telemetry_schema import PropertySpec, SchemaError

MAX_RULES = 50
ORDERING = frozenset({"<", "<=", ">", ">="})
FALLING = frozenset({"<", "<="})
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
Source = Literal["model", "device"]


class RuleError(SchemaError):
    """A rule the model's telemetry cannot judge; the message names the rule and the fault, ``field`` the member."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _numeric(spec: PropertySpec) -> bool:
    return spec.type in ("number", "integer")


def _check_threshold(rule: ThresholdRule, spec: PropertySpec) -> None:
    value = rule.value
    if _numeric(spec):
        if isinstance(value, (bool, str)) or not math.isfinite(value):
            raise RuleError(f"rule {rule.id!r}: value must be a number, as {spec.name!r} is", "value")
    elif spec.type == "boolean" and not isinstance(value, bool):
        raise RuleError(f"rule {rule.id!r}: value must be true or false, as {spec.name!r} is", "value")
    elif spec.type == "string" and not (isinstance(value, str) and len(value) <= spec.max_length):
        raise RuleError(f"rule {rule.id!r}: value must be text, as {spec.name!r} is", "value")
    if not _numeric(spec) and rule.operator in ORDERING:
        raise RuleError(f"rule {rule.id!r}: only numbers compare with {rule.operator}; use == or !=", "operator")
    if rule.clear_value is None:
        return
    if rule.operator not in ORDERING or not math.isfinite(rule.clear_value):
        raise RuleError(f"rule {rule.id!r}: clearValue is a number, for <, <=, > and >= only", "clearValue")
    if (rule.operator in FALLING) != (rule.clear_value > value):
        raise RuleError(f"rule {rule.id!r}: clearValue must lie beyond value, on the side where the alert clears",
                        "clearValue")


def check_rule(rule: AlertRule, specs: Mapping[str, PropertySpec]) -> AlertRule:
    """The rule, if its property exists and suits it; :class:`RuleError` otherwise."""
    if rule.property is None:
        return rule
    spec = specs.get(rule.property)
    if spec is None:
        raise RuleError(f"rule {rule.id!r}: the model has no property {rule.property!r}", "property")
    if isinstance(rule, ThresholdRule):
        _check_threshold(rule, spec)
    elif isinstance(rule, RateRule) and (not _numeric(spec) or not math.isfinite(rule.change)):
        raise RuleError(f"rule {rule.id!r}: a rate of change needs a number property", "property")
    return rule


def parse_rules(raw: object, specs: Mapping[str, PropertySpec]) -> list[AlertRule]:
    """A model's rules from their JSON form, each checked; ids are unique."""
    if not isinstance(raw, (list, tuple)):
        raise RuleError("alert rules must be a list")
    if len(raw) > MAX_RULES:
        raise RuleError(f"a model has {MAX_RULES} alert rules at most")
    rules: list[AlertRule] = []
    for index, item in enumerate(raw):
        try:
            rule = msgspec.convert(item, AlertRule)  # type: ignore[arg-type]
        except msgspec.ValidationError as error:
            raise RuleError(f"alert rule {index}: {error}") from None
        if any(known.id == rule.id for known in rules):
            raise RuleError(f"two alert rules are called {rule.id!r}")
        rules.append(check_rule(rule, specs))
    return rules


def kind_of(rule: AlertRule) -> str:
    """``threshold``, ``absence`` or ``rate``: the rule's ``kind`` on the wire."""
    return type(rule).__struct_config__.tag  # type: ignore[return-value]


def rules_json(rules: Iterable[AlertRule]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(rule) for rule in rules]


def stored_rules(raw: object) -> list[AlertRule]:
    """Rules as stored, checked when they were written."""
    return msgspec.convert(raw or [], list[AlertRule])  # type: ignore[arg-type]


@dataclass(frozen=True)
class DeviceRule:
    """What a device says about one rule: its own version of it (or None: the model's), and whether it is on."""

    rule_id: str
    rule: AlertRule | None
    enabled: bool


def rules_in_force(model: Iterable[AlertRule], own: Iterable[DeviceRule]) -> list[tuple[Source, AlertRule]]:
    """The model's rules as the device changed them, then the device's own, each with where it comes from.

    Where the device says anything of a rule, its switch decides whether the rule is on;
    a rule switched off stays listed.
    """
    mine = {entry.rule_id: entry for entry in own}
    found: list[tuple[Source, AlertRule]] = []
    for rule in model:
        entry = mine.pop(rule.id, None)
        if entry is None:
            found.append(("model", rule))
            continue
        found.append(("device", msgspec.structs.replace(entry.rule or rule, enabled=entry.enabled)))
    found.extend(("device", msgspec.structs.replace(entry.rule, enabled=entry.enabled))
                 for entry in mine.values() if entry.rule is not None)
    return found


# -- compiled --------------------------------------------------------------------------

#: A reading's value as stored (number, or text) to what the rule says of it.
Test = Callable[[Any], bool]


@dataclass(frozen=True)
class Watch:
    """One rule in force, compiled: its property's number (None: any property) and how readings are judged.

    ``raises`` and ``clears`` judge a stored value (threshold) or a change (rate); ``shown`` turns a
    stored value back into what the device sent (booleans and integers).
    """

    rule: AlertRule
    property_id: int | None
    raises: Test
    clears: Test
    shown: Callable[[Any], Any]


def _shown(spec: PropertySpec | None) -> Callable[[Any], Any]:
    if spec is not None and spec.type == "boolean":
        return lambda value: value != 0
    if spec is not None and spec.type == "integer":
        return lambda value: int(value) if isinstance(value, float) and value.is_integer() else value
    return lambda value: value


def _threshold_tests(rule: ThresholdRule, spec: PropertySpec) -> tuple[Test, Test]:
    compare, limit = OPERATORS[rule.operator], rule.value
    if spec.type == "boolean":
        limit = 1.0 if rule.value else 0.0

    def raises(value: Any) -> bool:
        return value is not None and compare(value, limit)

    back = rule.clear_value
    if back is None:
        return raises, lambda value: value is not None and not compare(value, limit)
    if rule.operator in FALLING:
        return raises, lambda value: value is not None and value >= back
    return raises, lambda value: value is not None and value <= back


def _rate_tests(rule: RateRule) -> tuple[Test, Test]:
    """On the change since the oldest reading of the window; no earlier reading counts as no change."""
    limit = rule.change
    sign = {"rise": lambda change: change, "fall": lambda change: -change, "any": abs}[rule.direction]
    return (lambda change: change is not None and sign(change) > limit,
            lambda change: change is None or sign(change) <= limit)


def _never(_value: Any) -> bool:
    return False


def compile_rule(rule: AlertRule, specs: Mapping[str, PropertySpec], numbers: Mapping[str, int]) -> Watch:
    """A checked rule as a :class:`Watch`; ``numbers`` gives each property's number."""
    spec = specs.get(rule.property) if rule.property is not None else None
    number = numbers[rule.property] if rule.property is not None else None
    if isinstance(rule, ThresholdRule):
        assert spec is not None
        raises, clears = _threshold_tests(rule, spec)
    elif isinstance(rule, RateRule):
        raises, clears = _rate_tests(rule)
    else:  # absence: raised by the scheduled job, cleared by any reading it watches
        raises, clears = _never, lambda _value: True
    return Watch(rule, number, raises, clears, _shown(spec))


@dataclass(frozen=True)
class DeviceWatches:
    """The compiled rules in force and on for one device, by kind, and every rule in force (on or off) by id."""

    thresholds: tuple[Watch, ...] = ()
    rates: tuple[Watch, ...] = ()
    absences: tuple[Watch, ...] = ()
    #: Every rule in force, on or off, by id: an open alert whose rule is not here, or off, is cleared.
    rules: Mapping[str, AlertRule] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.thresholds or self.rates or self.absences)

    def applies(self, rule_id: str, kind: str) -> bool:
        """Whether an alert of this rule and kind may stay open: the rule is still in force, on, of that kind."""
        rule = self.rules.get(rule_id)
        return rule is not None and rule.enabled and kind_of(rule) == kind


def compile_watches(rules: Iterable[AlertRule], specs: Mapping[str, PropertySpec],
                    numbers: Mapping[str, int]) -> DeviceWatches:
    """The enabled rules compiled and sorted by kind; rules the model no longer suits are left out."""
    kinds: dict[type, list[Watch]] = {ThresholdRule: [], RateRule: [], AbsenceRule: []}
    kept: dict[str, AlertRule] = {}
    for rule in rules:
        try:
            check_rule(rule, specs)
        except RuleError:
            continue
        kept[rule.id] = rule
        if rule.enabled:
            kinds[type(rule)].append(compile_rule(rule, specs, numbers))
    return DeviceWatches(tuple(kinds[ThresholdRule]), tuple(kinds[RateRule]), tuple(kinds[AbsenceRule]), kept)
