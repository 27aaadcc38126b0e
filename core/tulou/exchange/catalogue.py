"""The data catalogue: datasets the county declares or plugins register, published with an owner, a manager and an area.

Declaring and publishing is the county's business (``dataset:manage``). Publishing
names the owner organisation (数据所有者), the manager organisation (数据管理者) and the
area the dataset covers; only then may records be written. Who sees which dataset is
decided in :mod:`tulou.exchange.access`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.areas.service import in_subtrees
from tulou.audit.service import record_audit
from tulou.errors import Conflict, Forbidden, Invalid, NotFound
from tulou.exchange.access import DatasetAccess, access_to, may_see, requested_datasets
from tulou.exchange.models import Dataset, DatasetStatus, DatasetVersion, Record
from tulou.exchange.ngsi import check_mapping, properties_of
from tulou.exchange.schemas import DatasetIn, PublishIn, Translated
from tulou.exchange.validation import check_schema
from tulou.exchange.versions import store_version
from tulou.i18n import gettext as _
from tulou.identity.models import Organisation
from tulou.identity.scope import area_in_scope, within
from tulou.security.principal import Principal


def translated(text: Translated | None) -> dict[str, str]:
    return {"zh_CN": text.zh_CN, "en": text.en} if text is not None else {"zh_CN": "", "en": ""}


def _not_found() -> NotFound:
    return NotFound(_("Dataset not found"), field="dataset_id")


async def visible_dataset(principal: Principal, dataset_id: str) -> Dataset:
    """The dataset with its owner and manager, or 404 when absent or hidden from the caller (the same answer)."""
    dataset = await Dataset.get_or_none(id=dataset_id).select_related("owner", "manager")
    if dataset is None or not may_see(principal, dataset, await requested_datasets(principal)):
        raise _not_found()
    return dataset


async def readable_dataset(principal: Principal, dataset_id: str) -> tuple[Dataset, DatasetAccess]:
    """A visible dataset and the caller's rights on its records; 403 when it may read none of them."""
    dataset = await visible_dataset(principal, dataset_id)
    access = await access_to(principal, dataset)
    if not access.reads_anything:
        raise Forbidden(_("You may not read this dataset's records: ask its owner for a sharing agreement"))
    return dataset, access


async def list_datasets(principal: Principal) -> list[Dataset]:
    """Every dataset the caller may see, with who owns and manages it. The catalogue is small: it is read whole."""
    requested = await requested_datasets(principal)
    everything = await Dataset.all().select_related("owner", "manager").order_by("id")
    return [dataset for dataset in everything if may_see(principal, dataset, requested)]


async def _organisation(principal: Principal, organisation_id: int, field: str) -> Organisation:
    found = await Organisation.filter(within(principal, "area_id")).get_or_none(id=organisation_id)
    if found is None:
        raise Invalid(_("Organisation %(id)s does not exist") % {"id": organisation_id}, field=field)
    return found


async def _keepers(principal: Principal, owner: int, manager: int, area: str) -> dict[str, object]:
    """The publication's checked fields: organisations the caller sees, an area it manages."""
    place = await area_in_scope(principal, area, "area")
    return {
        "owner_id": (await _organisation(principal, owner, "owner")).id,
        "manager_id": (await _organisation(principal, manager, "manager")).id,
        "area_id": place.code,
    }


async def declare_dataset(principal: Principal, data: DatasetIn) -> Dataset:
    """A new dataset with its first schema (version 1.0); published at once when it names its keepers and area."""
    schema = check_schema(data.schema)
    field_map = check_mapping(data.smart_data_model, msgspec.to_builtins(data.field_map), properties_of([schema]))
    keepers: dict[str, object] = {}
    if (data.owner, data.manager, data.area) != (None, None, None):
        if None in (data.owner, data.manager, data.area):
            raise Invalid(_("Name the owner, the manager and the area together"), field="owner")
        keepers = await _keepers(principal, data.owner, data.manager, data.area)  # type: ignore[arg-type]
    try:
        async with in_transaction():
            dataset = await Dataset.create(
                id=data.id, title=translated(data.title), description=translated(data.description),
                classification=data.classification, smart_data_model=data.smart_data_model, field_map=field_map,
                status=DatasetStatus.PUBLISHED if keepers else DatasetStatus.DRAFT, **keepers,
            )
            await store_version(dataset.id, (1, 0), schema, principal.id)
            await record_audit(
                principal.id, "dataset.declared", area_code=dataset.area_id, target_type="dataset", target_id=dataset.id,
                detail={"classification": data.classification.value, "status": dataset.status.value},
            )
    except IntegrityError:
        raise Conflict(_("A dataset with this id exists"), field="id") from None
    return await visible_dataset(principal, dataset.id)


async def _records_outside(dataset_id: str, area: str) -> bool:
    return await Record.filter(dataset_id=dataset_id).exclude(in_subtrees((area,), "area_id")).exists()


async def managed_dataset(principal: Principal, dataset_id: str) -> Dataset:
    """A dataset the caller may republish or give new versions: a draft, or published within its areas."""
    dataset = await visible_dataset(principal, dataset_id)
    if dataset.area_id is not None and not principal.covers(dataset.area_id):
        raise Forbidden(_("This dataset is published by a higher level"), field="dataset_id")
    return dataset


async def _mapping(dataset: Dataset, data: PublishIn) -> dict[str, Any]:
    """The Smart Data Model and field map after ``data``: what it leaves out stays, a ``null`` model drops both."""
    model = dataset.smart_data_model if data.smart_data_model is msgspec.UNSET else data.smart_data_model
    if data.field_map is not msgspec.UNSET:
        field_map = msgspec.to_builtins(data.field_map)
    else:
        field_map = (dataset.field_map or {}) if model is not None else {}
    schemas = await DatasetVersion.filter(dataset_id=dataset.id).values_list("schema", flat=True)
    return {"smart_data_model": model, "field_map": check_mapping(model, field_map, properties_of(schemas))}


async def publish_dataset(principal: Principal, dataset_id: str, data: PublishIn) -> Dataset:
    """Name the dataset's owner, manager and area (and its classification, or retire it); audited."""
    dataset = await managed_dataset(principal, dataset_id)
    keepers = await _keepers(principal, data.owner, data.manager, data.area)
    mapping = await _mapping(dataset, data)
    if await _records_outside(dataset.id, data.area):
        raise Conflict(_("The dataset has records outside this area"), field="area")
    classification = data.classification or dataset.classification
    async with in_transaction():
        await Dataset.filter(id=dataset.id).update(
            **keepers, **mapping, classification=classification, status=DatasetStatus(data.status)
        )
        await record_audit(
            principal.id, "dataset.published", area_code=data.area, target_type="dataset", target_id=dataset.id,
            detail={"owner": data.owner, "manager": data.manager, "area": data.area,
                    "classification": classification.value, "status": data.status, **mapping},
        )
    return await visible_dataset(principal, dataset.id)
