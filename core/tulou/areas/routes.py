"""``/api/v1/areas``: the division tree, flat or nested."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get
from msgspec.structs import asdict
from litestar.params import FromPath, FromQuery, QueryParameter

from tulou.areas import service
from tulou.areas.codes import AreaLevel
from tulou.security.guards import PUBLIC
from tulou.areas.schemas import AreaNode, Page, area_out, build_tree

MAX_PAGE = 1000


class AreaController(Controller):
    path = "/api/v1/areas"
    tags = ["areas"]
    opt = PUBLIC  # the division tree is public reference data

    @get("/", summary="List areas, flat (paged) or as a tree")
    async def list_areas(
        self,
        parent: Annotated[str | None, QueryParameter(description="only direct children of this code")] = None,
        level: FromQuery[AreaLevel | None] = None,
        within: Annotated[str | None, QueryParameter(description="only this area's subtree")] = None,
        view: Annotated[Literal["flat", "tree"], QueryParameter(name="format")] = "flat",
        limit: Annotated[int, QueryParameter(ge=1)] = 200,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> Page | list[AreaNode]:
        query = service.query_areas(parent=parent, level=level, within=within)
        if view == "tree":
            return build_tree(await query)
        limit = min(limit, MAX_PAGE)
        items = await query.offset(offset).limit(limit)
        return Page(items=[area_out(a) for a in items], total=await query.count(), limit=limit, offset=offset)

    @get("/{code:str}", summary="One area with its ancestors and children")
    async def get_area(self, code: FromPath[str]) -> dict[str, object]:
        area = await service.get_area(code)
        children = await service.query_areas(parent=code)
        return {
            **asdict(area_out(area)),
            "ancestors": [asdict(area_out(a)) for a in await service.ancestors(area)],
            "children": [asdict(area_out(a)) for a in children],
        }
