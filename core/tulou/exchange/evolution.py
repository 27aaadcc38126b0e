"""Schema evolution: which new schema is a minor version of the last one, and which needs a new major.

A minor version may only add optional properties. Everything a reader of the old
version relies on stays byte for byte the same after canonical JSON: each existing
property's schema, ``required``, ``additionalProperties`` and every other keyword at
the root. Annotations that change no record's validity (``title``, ``description``,
``$comment``, ``examples``) may be reworded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tulou.i18n import gettext as _

#: Root keywords a minor version may change: they say nothing about which records are valid.
ANNOTATIONS = frozenset({"title", "description", "$comment", "examples"})


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal documents give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(schema: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(schema).encode()).hexdigest()


def _root_rules(schema: dict[str, Any]) -> dict[str, str]:
    return {key: canonical(value) for key, value in schema.items() if key not in ANNOTATIONS | {"properties"}}


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why ``new`` cannot be the next minor version of ``old``; empty when it can."""
    reasons: list[str] = []
    old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
    for name, rule in sorted(old_properties.items()):
        if name not in new_properties:
            reasons.append(_("property %(name)s was removed") % {"name": name})
        elif canonical(rule) != canonical(new_properties[name]):
            reasons.append(_("property %(name)s changed") % {"name": name})
    required = set(new.get("required", []))
    for name in sorted(set(new_properties) - set(old_properties)):
        if name in required:
            reasons.append(_("new property %(name)s is required") % {"name": name})
    old_rules, new_rules = _root_rules(old), _root_rules(new)
    for keyword in sorted(set(old_rules) | set(new_rules)):
        if old_rules.get(keyword) != new_rules.get(keyword):
            reasons.append(_("keyword %(keyword)s changed") % {"keyword": keyword})
    return reasons
