"""``/api/v1/datasets/{dataset_id}/records``: create, read, replace, patch, delete and list records.

Every response carrying a record has its ``ETag`` (``"<version>"``); send it back as
``If-Match`` to write only if nobody wrote in between (412 otherwise). Every write
takes an ``Idempotency-Key`` (:mod:`tulou.exchange.idempotency`). Lists filter
with ``filter[<field>]=<value>`` on top-level fields and ``area=`` on a subtree, and
page with the opaque ``cursor`` each page returns as ``next``. Reads of a dataset that
declares a Smart Data Model also answer ``?format=ngsi-ld`` (:mod:`tulou.exchange.ngsi`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from tulou.exchange import ngsi, records
from tulou.exchange.idempotency import once
from tulou.exchange.access import FULL_VIEW
from tulou.exchange.catalogue import visible_dataset
from tulou.exchange.records import RecordQuery, etag, merge_patch
from tulou.exchange.routes import DatasetPath, Major
from tulou.exchange.schemas import RecordIn, RecordOut, RecordPage, RecordPatch, RecordReplace, record_out
from tulou.exchange.models import Dataset, Record
from tulou.identity.routes import caller
from tulou.security.principal import Principal
from tulou.identity.scope import clamp
from tulou.security.guards import requires

IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", description="the ETag last read: 412 if it changed")]
KeyPath = FromPath[str]
Format = Annotated[
    Literal["json", "ngsi-ld"],
    QueryParameter(name="format", description="`ngsi-ld`: the records as NGSI-LD entities (keyValues)"),
]


def with_etag(record: Record, status: int = 200) -> Response[RecordOut]:
    """A record written by the caller, who may see all of it."""
    return Response(record_out(record, FULL_VIEW), status_code=status, headers={"ETag": etag(record)})


async def modelled_dataset(principal: Principal, dataset_id: str) -> Dataset:
    """The dataset asked for in NGSI-LD, checked before any record is read (and audited)."""
    dataset = await visible_dataset(principal, dataset_id)
    ngsi.require_model(dataset)
    return dataset


class RecordController(Controller):
    path = "/api/v1/datasets/{dataset_id:str}/records"
    tags = ["records"]

    @post("/", guards=[requires("record:write")], summary="Create a record (201, with its ETag)")
    async def create(self, request: Request, dataset_id: DatasetPath, data: JSONBody[RecordIn],
                     version: Major = None) -> Response[RecordOut]:
        principal = await caller(request)

        async def create() -> Response[RecordOut]:
            return with_etag(await records.create_record(principal, dataset_id, data.id, data.area, data.data, version), 201)

        return await once(request, principal, create)

    @get("/", guards=[requires("record:read")], summary="Records the caller may read, filtered, a page at a time")
    async def list_records(
        self, request: Request, dataset_id: DatasetPath,
        area: Annotated[str | None, QueryParameter(description="only this area's subtree")] = None,
        cursor: Annotated[str | None, QueryParameter(description="the `next` of the previous page")] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 50,
        include_deleted: Annotated[bool, QueryParameter(description="tombstones too")] = False,
        version: Major = None, representation: Format = "json",
    ) -> Response[RecordPage | list[dict[str, Any]]]:
        principal = await caller(request)
        dataset = await modelled_dataset(principal, dataset_id) if representation == "ngsi-ld" else None
        query = RecordQuery(limit=clamp(limit), cursor=cursor, area=area, major=version, include_deleted=include_deleted,
                            params=list(request.query_params.multi_items()))
        page, following = await records.list_records(principal, dataset_id, query, request.url.path)
        if dataset is None:
            return Response(RecordPage(items=[record_out(record, view) for record, view in page], next=following,
                                       limit=query.limit))
        headers = {"Link": ngsi.next_link(request, "cursor", following)} if following is not None else {}
        return Response(await ngsi.entities(dataset, page), media_type=ngsi.MEDIA_TYPE, headers=headers)

    @get("/{key:str}", guards=[requires("record:read")], summary="One record, with its ETag")
    async def read(self, request: Request, dataset_id: DatasetPath, key: KeyPath, version: Major = None,
                   representation: Format = "json") -> Response[RecordOut | dict[str, Any]]:
        principal = await caller(request)
        dataset = await modelled_dataset(principal, dataset_id) if representation == "ngsi-ld" else None
        record, view = await records.get_record(principal, dataset_id, key, request.url.path, version)
        if dataset is None:
            return Response(record_out(record, view), headers={"ETag": etag(record)})
        [found] = await ngsi.entities(dataset, [(record, view)])
        return Response(found, media_type=ngsi.MEDIA_TYPE, headers={"ETag": etag(record)})

    @put("/{key:str}", guards=[requires("record:write")], summary="Replace a record's data")
    async def replace(self, request: Request, dataset_id: DatasetPath, key: KeyPath, data: JSONBody[RecordReplace],
                      if_match: IfMatch = None, version: Major = None) -> Response[RecordOut]:
        principal = await caller(request)

        async def replace() -> Response[RecordOut]:
            return with_etag(await records.update_record(
                principal, dataset_id, key, lambda _current: data.data, data.area, if_match, version
            ))

        return await once(request, principal, replace)

    @patch("/{key:str}", guards=[requires("record:write")], summary="Change some of a record's fields (merge patch)")
    async def change(self, request: Request, dataset_id: DatasetPath, key: KeyPath, data: JSONBody[RecordPatch],
                     if_match: IfMatch = None, version: Major = None) -> Response[RecordOut]:
        principal, patch_data = await caller(request), data.data

        async def change() -> Response[RecordOut]:
            return with_etag(await records.update_record(
                principal, dataset_id, key, lambda current: merge_patch(current, patch_data), data.area, if_match, version,
            ))

        return await once(request, principal, change)

    @delete("/{key:str}", guards=[requires("record:write")], summary="Delete a record, leaving a tombstone")
    async def remove(self, request: Request, dataset_id: DatasetPath, key: KeyPath, if_match: IfMatch = None,
                     version: Major = None) -> Response[None]:
        principal = await caller(request)

        async def remove() -> Response[None]:
            await records.delete_record(principal, dataset_id, key, if_match, version)
            return Response(None, status_code=204)

        return await once(request, principal, remove)
