"""What the data pages show of the catalogue: the datasets the caller may see, and one dataset's schema, keepers, sharing and changes.

Which datasets show, and which of their records count, is decided where the API
decides it (:mod:`tulou.exchange.catalogue`, :mod:`tulou.exchange.access`): record
counts and changes cover only the records the caller may read under ``record:read``,
so a township's staff never learn even how many records another township holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tulou.areas.models import Area
from tulou.areas.service import in_subtrees
from tulou.console.actors import actor_names
from tulou.console.sharing import AgreementView, views_of
from tulou.console.translated import in_page_language
from tulou.exchange import agreements
from tulou.exchange.access import access_to, audit_shared_read
from tulou.exchange.catalogue import list_datasets, visible_dataset
from tulou.exchange.models import Change, Dataset, DatasetVersion, Record
from tulou.identity.accounts_models import AccountMembership
from tulou.security.principal import Principal

RECENT_CHANGES = 20
READ = "record:read"


def record_reader(principal: Principal) -> Principal | None:
    """The caller as the API's record routes see it (narrowed to ``record:read``); None without that permission."""
    return principal.narrowed_to(READ) if principal.has_permission(READ) else None


@dataclass(frozen=True)
class DatasetRow:
    """One line of the catalogue; ``records`` is None when the caller may read none of them."""

    dataset: Dataset
    title: str
    records: int | None


@dataclass(frozen=True)
class SchemaField:
    name: str
    kind: str
    required: bool
    description: str


@dataclass(frozen=True)
class Keeper:
    """The owner or manager organisation; its members are listed only to the dataset's keepers."""

    organisation: Any
    members: list[str] | None


@dataclass(frozen=True)
class DatasetDetail:
    row: DatasetRow
    area: Area | None
    version: str
    fields: list[SchemaField]
    owner: Keeper | None
    manager: Keeper | None
    agreements: list[AgreementView]
    changes: list[Change] | None  # None: the caller may read none of the records
    actors: dict[str, str]


async def _latest_majors(datasets: list[Dataset]) -> dict[str, int]:
    rows = await DatasetVersion.filter(dataset_id__in=[d.id for d in datasets]).values_list("dataset_id", "major")
    majors: dict[str, int] = {}
    for dataset_id, major in rows:
        majors[dataset_id] = max(major, majors.get(dataset_id, major))
    return majors


async def readable_records(reader: Principal | None, dataset: Dataset, major: int | None) -> int | None:
    """How many live records of the latest major the caller may read, as the API would list them."""
    if reader is None or major is None:
        return None
    access = await access_to(reader, dataset)
    if not access.reads_anything:
        return None
    roots = access.roots_showing()
    query = Record.filter(dataset_id=dataset.id, major=major, deleted=False)
    if roots is not None:
        query = query.filter(in_subtrees(roots, "area_id"))
    return await query.count()


async def catalogue(principal: Principal, reader: Principal | None) -> list[DatasetRow]:
    """The datasets ``GET /api/v1/datasets`` would list to the caller, with the records it may read counted."""
    found = await list_datasets(principal)
    majors = await _latest_majors(found)
    return [
        DatasetRow(dataset, in_page_language(dataset.title),
                   await readable_records(reader, dataset, majors.get(dataset.id)))
        for dataset in found
    ]


def schema_fields(schema: dict[str, Any]) -> list[SchemaField]:
    required = set(schema.get("required", []))
    return [
        SchemaField(name, str(spec.get("type", "")), name in required, str(spec.get("description", "")))
        for name, spec in schema.get("properties", {}).items()
    ]


async def _keepers(principal: Principal, dataset: Dataset) -> tuple[Keeper | None, Keeper | None]:
    """Owner and manager; the usernames of their members only for those who keep the dataset themselves."""
    members: dict[int, list[str]] | None = None
    if agreements.keeps(principal, dataset):
        members = {}
        rows = await AccountMembership.filter(organisation_id__in=[dataset.owner_id, dataset.manager_id]) \
            .order_by("account__username").values_list("organisation_id", "account__username")
        for organisation, username in rows:
            members.setdefault(organisation, []).append(username)

    def keeper(organisation: Any) -> Keeper | None:
        if organisation is None:
            return None
        return Keeper(organisation, None if members is None else members.get(organisation.id, []))

    return keeper(dataset.owner), keeper(dataset.manager)


async def recent_changes(reader: Principal | None, dataset: Dataset, path: str) -> list[Change] | None:
    """The latest changes the caller may read, newest first, as the change feed would show them (audited alike)."""
    if reader is None:
        return None
    access = await access_to(reader, dataset)
    if not access.reads_anything:
        return None
    roots = access.roots_showing()
    query = Change.filter(dataset_id=dataset.id)
    if roots is not None:
        query = query.filter(in_subtrees(roots, "area_code"))
    shown = [(change, view) for change in await query.order_by("-seq").limit(RECENT_CHANGES)
             if (view := access.view(change.area_code)) is not None]
    await audit_shared_read(reader, dataset, [view for _change, view in shown], path)
    return [change for change, _view in shown]


async def dataset_detail(principal: Principal, reader: Principal | None, dataset_id: str, path: str) -> DatasetDetail:
    """One dataset as ``GET /api/v1/datasets/{id}`` shows it to the caller, with what the page adds; 404 alike."""
    dataset = await visible_dataset(principal, dataset_id)
    version = await DatasetVersion.filter(dataset_id=dataset.id).order_by("-major", "-minor").first()
    owner, manager = await _keepers(principal, dataset)
    changes = await recent_changes(reader, dataset, path)
    shared = await agreements.list_agreements(principal, dataset=dataset.id, limit=100)
    return DatasetDetail(
        row=DatasetRow(dataset, in_page_language(dataset.title),
                       await readable_records(reader, dataset, version.major if version else None)),
        area=await Area.get_or_none(code=dataset.area_id) if dataset.area_id else None,
        version=f"{version.major}.{version.minor}" if version else "",
        fields=schema_fields(version.schema) if version else [],  # type: ignore[arg-type]
        owner=owner, manager=manager, agreements=await views_of(principal, shared, may_decide=False),
        changes=changes, actors=await actor_names({change.actor for change in changes or []}),
    )
