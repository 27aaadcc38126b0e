"""Masked forms of personal data, for callers who may know a person but not their numbers.

Enough stays visible to tell two people apart and confirm a number read out over
the phone, never enough to reconstruct it.
"""

from __future__ import annotations


def mask_resident_id(number: str) -> str:
    """``330102199001011234`` to ``330102********1234``: the region and the last four stay."""
    return _keep_ends(number, 6, 4)


def mask_phone(phone: str) -> str:
    """``13812345678`` to ``138****5678``; ``0597-1234567`` to ``0597-*****67``."""
    area_code, separator, subscriber = phone.rpartition("-")
    if separator:
        return f"{area_code}-{_keep_ends(subscriber, 0, 2)}"
    return _keep_ends(phone, 3, 4)


def mask_name(name: str) -> str:
    """``张三丰`` to ``张*丰``, ``张三`` to ``张*``: the surname stays, as on a parcel label."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _keep_ends(text: str, head: int, tail: int) -> str:
    """Stars for all but the first ``head`` and last ``tail`` characters; all stars if too short."""
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail :]
