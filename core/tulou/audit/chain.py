"""The hash chain: a canonical byte form of an entry and the hash linking it to the one before.

Pure functions, so the standard can state them and a vendor can re-implement ``verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

GENESIS_HASH = "0" * 64

#: The fields the hash covers, in the order the standard lists them.
HASHED_FIELDS = ("id", "at", "actor", "action", "area_code", "target_type", "target_id", "purpose", "detail")


def utc_iso(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds, the one spelling the hash accepts."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The entry's hashed fields as compact, key-sorted UTF-8 JSON."""
    data = {name: fields.get(name) for name in HASHED_FIELDS}
    if isinstance(data["at"], datetime):
        data["at"] = utc_iso(data["at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """``sha256(prev_hash + canonical(fields))`` as 64 hex digits."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(fields)).hexdigest()
