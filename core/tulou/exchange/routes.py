"""``/api/v1/datasets``: the catalogue, schema versions and each dataset's change feed.

Writes take an ``Idempotency-Key`` (:mod:`tulou.exchange.idempotency`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.exchange import catalogue, versions
from tulou.exchange.idempotency import once
from tulou.exchange.models import Dataset, DatasetVersion
from tulou.exchange.records import read_changes
from tulou.exchange.schemas import (
    ChangePage, DatasetIn, DatasetOut, PublishIn, VersionIn, VersionOut, change_out, dataset_out, version_out,
)
from tulou.identity.routes import caller
from tulou.security.guards import requires
from tulou.security.principal import Principal

Major = Annotated[int | None, QueryParameter(ge=1, description="major version; default: the latest")]
DatasetPath = FromPath[str]
FEED_PAGE = 1000


async def version_names(datasets: list[Dataset]) -> dict[str, list[str]]:
    """Each dataset's versions as ``MAJOR.MINOR``, oldest first, in one query."""
    names: dict[str, list[str]] = defaultdict(list)
    rows = await DatasetVersion.filter(dataset_id__in=[d.id for d in datasets]).order_by("major", "minor") \
        .values_list("dataset_id", "major", "minor")
    for dataset_id, major, minor in rows:
        names[dataset_id].append(f"{major}.{minor}")
    return names


async def one_dataset_out(dataset: Dataset) -> DatasetOut:
    return dataset_out(dataset, (await version_names([dataset]))[dataset.id])


async def declared(principal: Principal, data: DatasetIn) -> DatasetOut:
    return await one_dataset_out(await catalogue.declare_dataset(principal, data))


async def published(principal: Principal, dataset_id: str, data: PublishIn) -> DatasetOut:
    return await one_dataset_out(await catalogue.publish_dataset(principal, dataset_id, data))


class DatasetController(Controller):
    path = "/api/v1/datasets"
    tags = ["datasets"]

    @get("/", guards=[requires("dataset:read")], summary="The datasets the caller may see, with owner and manager")
    async def list_datasets(self, request: Request) -> list[DatasetOut]:
        found = await catalogue.list_datasets(await caller(request))
        names = await version_names(found)
        return [dataset_out(dataset, names[dataset.id]) for dataset in found]

    @post("/", guards=[requires("dataset:manage")], summary="Declare a dataset with its first schema")
    async def declare(self, request: Request, data: JSONBody[DatasetIn]) -> Response[DatasetOut]:
        principal = await caller(request)
        return await once(request, principal, lambda: declared(principal, data))

    @get("/{dataset_id:str}", guards=[requires("dataset:read")], summary="One dataset")
    async def read(self, request: Request, dataset_id: DatasetPath) -> DatasetOut:
        return await one_dataset_out(await catalogue.visible_dataset(await caller(request), dataset_id))

    @put("/{dataset_id:str}", guards=[requires("dataset:manage")], summary="Publish: name owner, manager and area")
    async def publish(self, request: Request, dataset_id: DatasetPath, data: JSONBody[PublishIn]) -> Response[DatasetOut]:
        principal = await caller(request)
        return await once(request, principal, lambda: published(principal, dataset_id, data))

    @get("/{dataset_id:str}/versions", guards=[requires("dataset:read")], summary="The dataset's schema versions")
    async def list_versions(self, request: Request, dataset_id: DatasetPath) -> list[VersionOut]:
        dataset = await catalogue.visible_dataset(await caller(request), dataset_id)
        return [version_out(v) for v in await versions.versions_of(dataset.id)]

    @get("/{dataset_id:str}/versions/{version:str}", guards=[requires("dataset:read")], summary="One schema version")
    async def read_version(self, request: Request, dataset_id: DatasetPath, version: FromPath[str]) -> VersionOut:
        dataset = await catalogue.visible_dataset(await caller(request), dataset_id)
        return version_out(await versions.get_version(dataset.id, version))

    @post(
        "/{dataset_id:str}/versions", guards=[requires("dataset:manage")],
        summary="Add a schema version: the next minor if compatible, else a new major when asked",
    )
    async def add_version(
        self, request: Request, dataset_id: DatasetPath, data: JSONBody[VersionIn],
        major: Annotated[bool, QueryParameter(description="start a new major version")] = False,
    ) -> Response[VersionOut]:
        principal = await caller(request)

        async def add() -> VersionOut:
            dataset = await catalogue.managed_dataset(principal, dataset_id)
            return version_out(await versions.add_version(principal.id, dataset, data.schema, major))

        return await once(request, principal, add)

    @get("/{dataset_id:str}/changes", guards=[requires("record:read")], summary="Changes in commit order, after a cursor")
    async def changes(
        self, request: Request, dataset_id: DatasetPath,
        after: Annotated[str | None, QueryParameter(description="the `next` of the previous page")] = None,
        limit: Annotated[int, QueryParameter(ge=1, description=f"at most {FEED_PAGE}")] = 100,
        version: Major = None,
    ) -> ChangePage:
        found, cursor, more = await read_changes(
            await caller(request), dataset_id, after, min(limit, FEED_PAGE), request.url.path, version
        )
        return ChangePage(changes=[change_out(change, view) for change, view in found], next=cursor, more=more)
