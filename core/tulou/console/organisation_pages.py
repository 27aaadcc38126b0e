"""Organisations in the caller's areas: listed, created and changed through :mod:`tulou.identity.organisations`,
the service behind ``/api/v1/organisations``, with the same guards and audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from tulou.console.forms import Form, refusal
from tulou.console.guards import session_holding, session_may
from tulou.console.layout import CONSOLE, page, see_other
from tulou.console.paging import Paging, filters, page_number
from tulou.console.pickers import area_options, areas_holding, places
from tulou.errors import Problem
from tulou.i18n import gettext as _
from tulou.identity import organisations
from tulou.identity.models import OrganisationKind
from tulou.identity.routes import caller
from tulou.identity.schemas import OrganisationIn
from tulou.security.guards import requires

READ, WRITE = "organisation:read", "organisation:write"
ORGANISATIONS = f"{CONSOLE}/organisations"


@dataclass
class OrganisationForm:
    name: str = ""
    kind: str = ""
    area: str = ""
    parent: str = ""


def kind_labels() -> dict[str, str]:
    return {
        OrganisationKind.DEPARTMENT.value: _("County department"),
        OrganisationKind.TOWNSHIP_GOVERNMENT.value: _("Township government"),
        OrganisationKind.VILLAGE_COMMITTEE.value: _("Village committee"),
        OrganisationKind.VENDOR.value: _("Vendor"),
        OrganisationKind.INTEGRATOR.value: _("Integrator"),
        OrganisationKind.OTHER.value: _("Other"),
    }


def form_errors(data: OrganisationForm, *, new: bool) -> dict[str, str]:
    """What the form lacks before the service is asked: a kind from the list, an area, a parent by number."""
    errors = {}
    if data.kind not in kind_labels():
        errors["kind"] = _("Choose a kind")
    if new and not data.area:
        errors["area"] = _("Choose the organisation's area")
    if new and data.parent and not data.parent.isdigit():
        errors["parent"] = _("Choose a parent organisation from the list")
    return errors


class OrganisationsController(Controller):
    path = ORGANISATIONS
    include_in_schema = False

    @get("/", guards=[requires(READ)])
    async def organisations_page(self, request: Request, kind: FromQuery[str | None] = None,
                                 page: FromQuery[int | None] = None, done: FromQuery[str | None] = None) -> Any:
        notice = _("The organisation has been created.") if done == "created" else None
        return await self._list(request, kind, page_number(page), notice=notice)

    @post("/", guards=[requires(WRITE)])
    async def create(self, request: Request, data: Annotated[OrganisationForm, Form]) -> Any:
        errors = form_errors(data, new=True)
        if not errors:
            wanted = OrganisationIn(name=data.name, kind=OrganisationKind(data.kind), area=data.area,
                                    parent=int(data.parent) if data.parent else None)
            try:
                await organisations.create_organisation(await caller(request), wanted)
            except Problem as refused:
                errors = refusal(refused, errors)
            else:
                return see_other(f"{ORGANISATIONS}?done=created")
        return await self._list(request, None, 1, form=data, errors=errors, status_code=422)

    async def _list(self, request: Request, kind: str | None, number: int, *, notice: str | None = None,
                    form: OrganisationForm | None = None, errors: dict[str, str] | None = None,
                    status_code: int = 200) -> Any:
        wanted = OrganisationKind(kind) if kind in kind_labels() else None
        window = Paging(number, 0, filters(kind=wanted.value if wanted else None))
        found, total = await organisations.list_organisations(
            session_holding(request, READ), kind=wanted, limit=window.size, offset=window.offset)
        may_write = session_may(request, WRITE)
        writer = session_holding(request, WRITE)
        parents, _total = await organisations.list_organisations(writer, limit=200) if may_write else ([], 0)
        return await page(
            request, "organisations.html", status=status_code, organisations=found, kinds=kind_labels(),
            kind_filter=wanted.value if wanted else "", places=await places(o.area_id for o in found),
            paging=Paging(number, total, window.query), notice=notice,
            areas=area_options(await areas_holding(writer, WRITE)) if may_write else [],
            parents=[(str(parent.id), parent.name) for parent in parents],
            form=form or OrganisationForm(), errors=errors or {},
        )

    @get("/{organisation_id:int}", guards=[requires(READ)])
    async def organisation_page(self, request: Request, organisation_id: FromPath[int],
                                done: FromQuery[str | None] = None) -> Any:
        organisation = await organisations.get_organisation(await caller(request), organisation_id)
        form = OrganisationForm(name=organisation.name, kind=organisation.kind.value)
        return await self._edit(request, organisation_id, form, {},
                                notice=_("The organisation has been changed.") if done == "changed" else None)

    @post("/{organisation_id:int}", guards=[requires(WRITE)])
    async def change(self, request: Request, organisation_id: FromPath[int],
                     data: Annotated[OrganisationForm, Form]) -> Any:
        principal = await caller(request)
        await organisations.get_organisation(principal, organisation_id)  # 404 outside the caller's areas first
        errors = form_errors(data, new=False)
        if not errors:
            try:
                await organisations.update_organisation(principal, organisation_id, data.name,
                                                        OrganisationKind(data.kind))
            except Problem as refused:
                errors = refusal(refused, errors)
            else:
                return see_other(f"{ORGANISATIONS}/{organisation_id}?done=changed")
        return await self._edit(request, organisation_id, data, errors, status_code=422)

    async def _edit(self, request: Request, organisation_id: int, form: OrganisationForm, errors: dict[str, str],
                    *, notice: str | None = None, status_code: int = 200) -> Any:
        organisation = await organisations.get_organisation(session_holding(request, READ), organisation_id)
        return await page(
            request, "organisation.html", status=status_code, organisation=organisation, kinds=kind_labels(),
            places=await places([organisation.area_id]),
            may_write=session_may(request, WRITE, organisation.area_id), form=form, errors=errors, notice=notice,
        )
