"""The areas pages: the caller's part of the division tree, one area's subtree, and importing areas from CSV.

Reading the tree takes only a session, as the API's area routes are public reference
data, but the console shows no area outside the caller's own (404, as for any page
about another township). Importing takes ``area:import``, a county permission.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery

from tulou.console.area_tree import IMPORT, area_view, import_uploaded_areas, level_label, visible_tree
from tulou.console.layout import CONSOLE, page, see_other
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.identity.routes import caller
from tulou.security.guards import requires, signed_in

MAY_IMPORT = requires(IMPORT)


async def uploaded_file(request: Request, name: str = "file") -> UploadFile:
    """The file sent in field ``name``; a form sent without choosing one is a field error."""
    upload = (await request.form()).get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Invalid(_("Choose a file to upload"), field=name)
    return upload


class AreasController(Controller):
    path = f"{CONSOLE}/areas"
    include_in_schema = False

    @get("/", guards=[signed_in])
    async def tree_page(self, request: Request, created: FromQuery[int | None] = None,
                        updated: FromQuery[int | None] = None, unchanged: FromQuery[int | None] = None) -> Any:
        principal = await caller(request)
        imported = None if created is None else {"created": created, "updated": updated or 0,
                                                  "unchanged": unchanged or 0}
        return await page(request, "areas.html", tree=await visible_tree(principal), imported=imported,
                          may_import=principal.has_permission(IMPORT), level_label=level_label)

    @get("/import", guards=[MAY_IMPORT])
    async def import_form(self, request: Request) -> Any:
        return await page(request, "area_import.html", errors={}, bad_lines=[])

    @post("/import", guards=[MAY_IMPORT])
    async def import_file(self, request: Request) -> Any:
        principal = await caller(request)
        try:
            upload = await uploaded_file(request)
            result = await import_uploaded_areas(request.app.state.platform, principal, await upload.read())
        except Invalid as refused:
            return await page(request, "area_import.html", status=422, errors={"file": refused.detail}, bad_lines=[])
        if result.errors:
            return await page(request, "area_import.html", status=422, errors={}, bad_lines=result.errors)
        return see_other(f"{self.path}?created={result.created}&updated={result.updated}"
                         f"&unchanged={result.unchanged}")

    @get("/{area:str}", guards=[signed_in])
    async def area_page(self, request: Request, area: FromPath[str]) -> Any:
        principal = await caller(request)
        return await page(request, "area.html", view=await area_view(principal, area), level_label=level_label,
                          may_read_people=principal.has_permission("person:read", area),
                          may_read_households=principal.has_permission("household:read", area))
