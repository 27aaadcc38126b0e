"""Sharing requests and agreements: thin handlers over :mod:`tulou.console.sharing` and :mod:`tulou.exchange.agreements`.

Deciding takes ``agreement:decide``, as ``POST /api/v1/agreements/{id}/approve``,
``/reject`` and ``/revoke`` do, and goes through the same service functions: only
the dataset's keepers decide, never wider than asked, audited with the purpose. The
list of agreements is open to any signed-in caller, as ``GET /api/v1/agreements`` is,
and shows only those the caller is party to.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from tulou.console import sharing
from tulou.console.guards import SESSION_PRINCIPAL_KEY
from tulou.console.layout import CONSOLE, page, see_other
from tulou.console.templating import area_label
from tulou.errors import NotFound, Problem
from tulou.exchange import agreements
from tulou.exchange.schemas import ApprovalIn, Note
from tulou.i18n import gettext as _
from tulou.identity.routes import caller
from tulou.security.guards import requires, signed_in

DECIDE_PERMISSION = "agreement:decide"
DECIDE = requires(DECIDE_PERMISSION)
#: A note's longest: what the API's ``note`` allows.
LONGEST_NOTE: int = Note.__metadata__[0].max_length  # type: ignore[attr-defined]
DONE = ("approved", "rejected", "revoked")
#: The approval form's fields, where a refusal naming one is shown; any other refusal shows above the form.
APPROVAL_FIELDS = ("fields", "areas", "note")


def may_decide(request: Request) -> bool:
    principal = request.scope[SESSION_PRINCIPAL_KEY]  # type: ignore[literal-required]
    return bool(principal.has_permission(DECIDE_PERMISSION))


def note_error(note: str, required: bool) -> str | None:
    if required and not note:
        return _("Give the reason: the requester reads it")
    if len(note) > LONGEST_NOTE:
        return _("At most %(count)d characters") % {"count": LONGEST_NOTE}
    return None


class SharingRequestsController(Controller):
    path = f"{CONSOLE}/sharing"
    include_in_schema = False

    @get("/", guards=[DECIDE])
    async def requests_page(self, request: Request, done: FromQuery[str | None] = None,
                            agreement: FromQuery[int | None] = None) -> Any:
        waiting = await sharing.waiting_requests(await caller(request))
        return await page(request, "sharing_requests.html", requests=waiting,
                          done=done if done in DONE else None, decided=agreement)

    @get("/{agreement_id:int}", guards=[DECIDE])
    async def request_page(self, request: Request, agreement_id: FromPath[int]) -> Any:
        return await self._decision(request, agreement_id)

    @post("/{agreement_id:int}/approve", guards=[DECIDE])
    async def approve(self, request: Request, agreement_id: FromPath[int]) -> Any:
        form = await request.form()
        fields, areas, note = form.getall("fields", []), form.getall("areas", []), str(form.get("note", "")).strip()
        chosen = {"fields": fields, "areas": areas, "note": note}
        if error := note_error(note, required=False):
            return await self._decision(request, agreement_id, errors={"note": error}, chosen=chosen, status=422)
        approval = ApprovalIn(fields=fields, areas=sharing.outermost(areas), note=note)
        try:
            await agreements.approve(await caller(request), agreement_id, approval)
        except NotFound:
            raise
        except Problem as refused:
            field = refused.field if refused.field in APPROVAL_FIELDS else "form"
            return await self._decision(request, agreement_id, errors={field: refused.detail},
                                        chosen=chosen, status=refused.status)
        return see_other(f"{self.path}?done=approved&agreement={agreement_id}")

    @post("/{agreement_id:int}/reject", guards=[DECIDE])
    async def reject(self, request: Request, agreement_id: FromPath[int]) -> Any:
        reason = str((await request.form()).get("reason", "")).strip()
        if error := note_error(reason, required=True):
            return await self._decision(request, agreement_id, errors={"reason": error}, reason=reason, status=422)
        try:
            await agreements.reject(await caller(request), agreement_id, reason)
        except NotFound:
            raise
        except Problem as refused:
            return await self._decision(request, agreement_id, errors={"form": refused.detail}, reason=reason,
                                        status=refused.status)
        return see_other(f"{self.path}?done=rejected&agreement={agreement_id}")

    async def _decision(self, request: Request, agreement_id: int, *, errors: dict[str, str] | None = None,
                        chosen: dict[str, Any] | None = None, reason: str = "", status: int = 200) -> Any:
        principal = await caller(request)
        view = await sharing.one_agreement(principal, agreement_id, may_decide=True)
        asked = view.agreement
        chosen = chosen or {"fields": asked.fields_requested, "areas": asked.areas_requested, "note": ""}
        return await page(
            request, "sharing_request.html", status=status, view=view, errors=errors or {}, chosen=chosen,
            reason=reason, area_choices=await sharing.area_choices(principal, asked),
            areas=await sharing.area_names(asked.areas_requested),
        )


class AgreementPagesController(Controller):
    path = f"{CONSOLE}/agreements"
    include_in_schema = False

    @get("/", guards=[signed_in])
    async def agreements_page(self, request: Request, done: FromQuery[str | None] = None,
                              agreement: FromQuery[int | None] = None) -> Any:
        found = await sharing.party_agreements(await caller(request), may_decide(request))
        areas = await sharing.area_names(code for view in found for code in view.agreement.areas_granted
                                         or view.agreement.areas_requested)
        return await page(request, "agreements.html", agreements=found, areas=areas,
                          done=done if done in DONE else None, changed=agreement)

    @get("/{agreement_id:int}/revoke", guards=[DECIDE])
    async def confirm_revoke(self, request: Request, agreement_id: FromPath[int]) -> Any:
        return await self._confirmation(request, agreement_id)

    @post("/{agreement_id:int}/revoke", guards=[DECIDE])
    async def revoke(self, request: Request, agreement_id: FromPath[int]) -> Any:
        reason = str((await request.form()).get("reason", "")).strip()
        if error := note_error(reason, required=False):
            return await self._confirmation(request, agreement_id, errors={"reason": error}, reason=reason, status=422)
        try:
            await agreements.revoke(await caller(request), agreement_id, reason)
        except NotFound:
            raise
        except Problem as refused:
            return await self._confirmation(request, agreement_id, errors={"form": refused.detail}, reason=reason,
                                            status=refused.status)
        return see_other(f"{self.path}?done=revoked&agreement={agreement_id}")

    async def _confirmation(self, request: Request, agreement_id: int, *, errors: dict[str, str] | None = None,
                            reason: str = "", status: int = 200) -> Any:
        view = await sharing.one_agreement(await caller(request), agreement_id, may_decide=True)
        areas = await sharing.area_names(view.agreement.areas_granted)
        granted = [area_label(areas[code]) if code in areas else code for code in view.agreement.areas_granted]
        return await page(request, "agreement_revoke.html", status=status, view=view, granted_areas=granted,
                          errors=errors or {}, reason=reason)
