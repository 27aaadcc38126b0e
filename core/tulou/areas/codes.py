"""National 12-digit administrative-division codes (统计用区划代码) and what they say.

Digits: province 2 + prefecture 2 + county 2 + township 3 + village 3. The level
and the parent of an area follow from its code alone.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

CODE_PATTERN = re.compile(r"^\d{12}$")


class AreaLevel(str, enum.Enum):
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


LEVEL_ORDER = list(AreaLevel)

SIGNIFICANT_DIGITS = {
    AreaLevel.PROVINCE: 2,
    AreaLevel.PREFECTURE: 4,
    AreaLevel.COUNTY: 6,
    AreaLevel.TOWNSHIP: 9,
    AreaLevel.VILLAGE: 12,
}


class InvalidAreaCode(ValueError):
    """The text is not a 12-digit division code with a consistent shape."""


def level_of(code: str) -> AreaLevel:
    """Which level a code names, from its trailing zeros."""
    if not CODE_PATTERN.match(code) or code[:2] == "00":
        raise InvalidAreaCode(code)
    if code[2:] == "0" * 10:
        return AreaLevel.PROVINCE
    if code[4:] == "0" * 8:
        return AreaLevel.PREFECTURE
    if code[6:] == "0" * 6:
        return AreaLevel.COUNTY
    if code[9:] == "000":
        return AreaLevel.TOWNSHIP
    return AreaLevel.VILLAGE


def parent_code(code: str) -> str | None:
    """The code of the area one level up, or ``None`` for a province."""
    level = level_of(code)
    if level is AreaLevel.PROVINCE:
        return None
    parent_level = LEVEL_ORDER[LEVEL_ORDER.index(level) - 1]
    return code[: SIGNIFICANT_DIGITS[parent_level]].ljust(12, "0")


def township_code(code: str) -> str | None:
    """The township an area belongs to (itself for a township), or ``None`` above townships."""
    level = level_of(code)
    if level is AreaLevel.TOWNSHIP:
        return code
    if level is AreaLevel.VILLAGE:
        return code[:9] + "000"
    return None


def subtree_prefix(code: str) -> str:
    """The digits every code in this area's subtree starts with (``350899`` for a county)."""
    return code[: SIGNIFICANT_DIGITS[level_of(code)]]


def is_within(code: str, ancestor: str) -> bool:
    """Whether ``code`` is ``ancestor`` or lies in its subtree."""
    return code.startswith(subtree_prefix(ancestor))


def overlaps(code: str, other: str) -> bool:
    """Whether the two subtrees share an area: one of them lies in the other."""
    return is_within(code, other) or is_within(other, code)


def common_subtrees(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    """The roots of the subtrees lying in a subtree of ``first`` and in one of ``second``."""
    second = tuple(second)
    found = [
        a if is_within(a, b) else b
        for a in first for b in second if overlaps(a, b)
    ]
    return tuple(dict.fromkeys(found))
