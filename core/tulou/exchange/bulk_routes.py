"""``records:import`` and ``records:export``: many records in one request, streamed both ways.

An import's body is NDJSON (``application/x-ndjson``) or CSV (``text/csv``), read as
it arrives and never held whole, so it has no size limit. It answers 200 with what
was written (and, with ``skip_invalid``, the bad rows), or 422 listing every bad row
with its line when nothing was written. It takes an ``Idempotency-Key`` like every
write. An export streams NDJSON, CSV or Excel of what the caller may read.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Stream

from tulou.errors import Problem
from tulou.exchange.bulk import import_records
from tulou.exchange.catalogue import visible_dataset
from tulou.exchange.export import FORMATS, WRITERS, open_export
from tulou.exchange.idempotency import once
from tulou.exchange.routes import DatasetPath, Major
from tulou.exchange.schemas import ImportReport
from tulou.exchange.sources import HashingStream, csv_rows, ndjson_rows
from tulou.exchange.versions import latest_version
from tulou.i18n import gettext as _
from tulou.identity.routes import caller
from tulou.security.guards import requires


class UnsupportedMediaType(Problem):
    status = 415
    slug = "unsupported-media-type"


def _media_type(request: Request) -> str:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("application/x-ndjson", "text/csv"):
        raise UnsupportedMediaType(_("Send NDJSON (application/x-ndjson) or CSV (text/csv)"), field="Content-Type")
    return media_type


class BulkController(Controller):
    path = "/api/v1/datasets/{dataset_id:str}"
    tags = ["records"]

    @post("/records:import", guards=[requires("record:write")], request_max_body_size=None, status_code=200,
          summary="Import NDJSON or CSV records: all or nothing, or skipping bad rows")
    async def import_records(
        self, request: Request, dataset_id: DatasetPath,
        skip_invalid: Annotated[bool, QueryParameter(description="write the good rows, return the bad")] = False,
        area: Annotated[str | None, QueryParameter(description="the area of rows that name none")] = None,
        version: Major = None,
    ) -> Response[ImportReport]:
        principal = await caller(request)
        dataset = await visible_dataset(principal, dataset_id)  # a hidden dataset is 404 whatever the body
        media_type = _media_type(request)
        body = HashingStream(request.stream())

        async def run() -> Response[ImportReport]:
            if media_type == "text/csv":
                rows = csv_rows(aiter(body), (await latest_version(dataset.id, version)).schema)
            else:
                rows = ndjson_rows(aiter(body))
            result = await import_records(principal, dataset_id, rows, skip_invalid=skip_invalid, default_area=area,
                                          major=version)
            return Response(result.report())

        return await once(request, principal, run, body.digest)

    @get("/records:export", guards=[requires("record:read")], summary="The records the caller may read, streamed")
    async def export_records(
        self, request: Request, dataset_id: DatasetPath,
        format: Annotated[Literal["ndjson", "csv", "xlsx"], QueryParameter()] = "ndjson",  # noqa: A002
        area: Annotated[str | None, QueryParameter(description="only this area's subtree")] = None,
        version: Major = None,
    ) -> Stream:
        export = await open_export(await caller(request), dataset_id, version, area,
                                   list(request.query_params.multi_items()), request.url.path, format)
        filename = f"{dataset_id}.{format}"
        return Stream(WRITERS[format](export), media_type=FORMATS[format],
                      headers={"Content-Disposition": f'attachment; filename="{filename}"'})
