"""A dataset's schema versions: numbering them by the evolution rules, and finding the one to use.

Versions are ``MAJOR.MINOR``. A schema compatible with the latest minor of the latest
major becomes the next minor; any other needs ``major`` asked for explicitly and
starts major N+1 at minor 0, served beside the older majors.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Invalid, NotFound
from tulou.exchange.evolution import fingerprint, incompatibilities
from tulou.exchange.feed import take_turn
from tulou.exchange.models import Dataset, DatasetVersion
from tulou.exchange.validation import check_schema, validator_for
from tulou.i18n import gettext as _

VERSION_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$")


def version_text(version: DatasetVersion) -> str:
    return f"{version.major}.{version.minor}"


def parse_version(text: str, field: str = "version") -> tuple[int, int]:
    """``"1.2"`` to ``(1, 2)``; 422 for anything else."""
    found = VERSION_PATTERN.match(text)
    if found is None:
        raise Invalid(_("A version looks like 1.2 (major.minor)"), field=field)
    return int(found.group(1)), int(found.group(2))


def validator_of(version: DatasetVersion) -> jsonschema_rs.Draft202012Validator:
    return validator_for(version.fingerprint, version.schema)


async def versions_of(dataset_id: str) -> list[DatasetVersion]:
    return await DatasetVersion.filter(dataset_id=dataset_id).order_by("major", "minor")


async def latest_version(dataset_id: str, major: int | None = None, field: str = "version") -> DatasetVersion:
    """The latest minor of ``major`` (by default of the latest major); 422 if there is none."""
    query = DatasetVersion.filter(dataset_id=dataset_id)
    if major is not None:
        query = query.filter(major=major)
    found = await query.order_by("-major", "-minor").first()
    if found is None:
        raise Invalid(_("The dataset has no version %(major)s") % {"major": major}, field=field)
    return found


async def get_version(dataset_id: str, text: str) -> DatasetVersion:
    major, minor = parse_version(text)
    found = await DatasetVersion.get_or_none(dataset_id=dataset_id, major=major, minor=minor)
    if found is None:
        raise NotFound(_("Version %(version)s not found") % {"version": text}, field="version")
    return found


def next_number(latest: DatasetVersion | None, schema: dict[str, Any], new_major: bool) -> tuple[int, int]:
    """The number ``schema`` gets after ``latest``: the next minor when compatible, else 422 unless ``new_major``."""
    if latest is None:
        return 1, 0
    if new_major:
        return latest.major + 1, 0
    reasons = incompatibilities(latest.schema, schema)
    if reasons:
        raise Invalid(
            _("Not compatible with version %(version)s (%(reasons)s): publish it as a new major version")
            % {"version": version_text(latest), "reasons": "; ".join(reasons)},
            field="schema",
        )
    return latest.major, latest.minor + 1


async def store_version(dataset_id: str, number: tuple[int, int], schema: dict[str, Any], actor: str) -> DatasetVersion:
    """Insert one version; the caller holds a transaction and has checked the number."""
    major, minor = number
    return await DatasetVersion.create(
        dataset_id=dataset_id, major=major, minor=minor, schema=schema, fingerprint=fingerprint(schema),
        property_order=list(schema.get("properties", {})), created_by=actor,
    )


def property_names(version: DatasetVersion) -> list[str]:
    """The schema's top-level properties in the order they were declared (a version stored before
    that order was kept: as the database gives them back)."""
    if version.property_order is not None:
        return list(version.property_order)
    return list(version.schema.get("properties", {}))


async def add_version(actor: str, dataset: Dataset, schema: Any, new_major: bool = False) -> DatasetVersion:
    """Publish a new schema version of the dataset, numbered by the evolution rules; audited."""
    check_schema(schema)
    async with in_transaction():
        await take_turn(dataset.id)  # two new versions at once would both take the same number
        latest = await DatasetVersion.filter(dataset_id=dataset.id).order_by("-major", "-minor").first()
        version = await store_version(dataset.id, next_number(latest, schema, new_major), schema, actor)
        await record_audit(
            actor, "dataset.version_added", area_code=dataset.area_id, target_type="dataset", target_id=dataset.id,
            detail={"version": version_text(version)},
        )
    return version
