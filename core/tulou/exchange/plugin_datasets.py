"""Plugins' datasets enter the catalogue at start-up, as drafts the county then publishes.

Each registered version is stored once and never changed: a plugin that ships a new
schema ships a new version number, which must follow the evolution rules (a minor
after the previous minor, compatible with it; a major starting at minor 0). A
registration that breaks a rule is logged and skipped, the rest of the catalogue
still syncs. Titles and descriptions are stored in every language, rendered from the
plugin's lazy strings. A Smart Data Model and field map the latest registration
declares replace the stored ones; a plugin that declares none leaves what the county set.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.transactions import in_transaction

from tulou.errors import Invalid
from tulou.exchange.evolution import fingerprint
from tulou.exchange.models import Classification, Dataset, DatasetVersion
from tulou.exchange.versions import next_number, parse_version, store_version
from tulou.i18n import LOCALES, current_locale
from tulou.plugins.registrations import DatasetSchema

log = logging.getLogger(__name__)


def rendered(text: object) -> dict[str, str]:
    """A lazy string in each language: ``{"zh_CN": ..., "en": ...}``."""
    texts = {}
    for locale in LOCALES:
        token = current_locale.set(locale)
        try:
            texts[locale] = str(text)
        finally:
            current_locale.reset(token)
    return texts


def _described(latest: DatasetSchema) -> dict[str, Any]:
    """What the plugin says about the dataset, as stored: titles in each language, the NGSI-LD mapping if any."""
    found: dict[str, Any] = {"title": rendered(latest.title), "description": rendered(latest.description)}
    if latest.smart_data_model is not None:
        found.update(smart_data_model=latest.smart_data_model, field_map=dict(latest.field_map))
    return found


async def _dataset_for(plugin: str, latest: DatasetSchema) -> Dataset | None:
    """The plugin's catalogue entry, created or redescribed; ``None`` when another owns the id."""
    described = _described(latest)
    dataset = await Dataset.get_or_none(id=latest.id)
    if dataset is None:
        return await Dataset.create(
            id=latest.id, plugin=plugin, classification=Classification(latest.classification), **described,
        )
    if dataset.plugin != plugin:
        log.error("dataset %s of plugin %s is already in the catalogue (from %s): skipped",
                  latest.id, plugin, dataset.plugin or "the API")
        return None
    if any(getattr(dataset, name) != value for name, value in described.items()):
        await Dataset.filter(id=dataset.id).update(**described)
    return dataset


async def _sync_version(dataset: Dataset, registration: DatasetSchema, actor: str) -> None:
    number = parse_version(registration.version)
    stored = await DatasetVersion.get_or_none(dataset_id=dataset.id, major=number[0], minor=number[1])
    if stored is not None:
        if stored.fingerprint != fingerprint(registration.schema):
            log.error("dataset %s %s: the plugin changed a published schema; the stored one is kept",
                      dataset.id, registration.version)
        return
    latest = await DatasetVersion.filter(dataset_id=dataset.id).order_by("-major", "-minor").first()
    try:
        expected = next_number(latest, registration.schema, new_major=number[1] == 0 and latest is not None)
    except Invalid as error:
        log.error("dataset %s %s skipped: %s", dataset.id, registration.version, error.detail)
        return
    if expected != number:
        log.error("dataset %s %s skipped: the next version is %s.%s", dataset.id, registration.version, *expected)
        return
    await store_version(dataset.id, number, registration.schema, actor)


async def sync_dataset(plugin: str, registrations: Sequence[DatasetSchema]) -> None:
    """One dataset's entry and versions, in version order, in one transaction."""
    ordered = sorted(registrations, key=lambda r: parse_version(r.version))
    async with in_transaction():
        dataset = await _dataset_for(plugin, ordered[-1])
        if dataset is None:
            return
        for registration in ordered:
            await _sync_version(dataset, registration, f"plugin:{plugin}")


async def sync_plugin_datasets(registered: Mapping[str, Sequence[DatasetSchema]]) -> None:
    """Bring every working plugin's datasets into the catalogue; one bad dataset spoils only itself."""
    for plugin, registrations in sorted(registered.items()):
        by_id: dict[str, list[DatasetSchema]] = defaultdict(list)
        for registration in registrations:
            by_id[registration.id].append(registration)
        for dataset_id, versions in sorted(by_id.items()):
            try:
                await sync_dataset(plugin, versions)
            except Exception:  # noqa: BLE001 - a plugin's data: logged, the others go on
                log.exception("cannot sync dataset %s of plugin %s", dataset_id, plugin)
