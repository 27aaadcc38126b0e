"""``/api/v1/agreements``: requesting access to a dataset, and the keepers' decisions on it.

Writes take an ``Idempotency-Key`` (:mod:`tulou.exchange.idempotency`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.exchange import agreements
from tulou.exchange.access import now
from tulou.exchange.idempotency import once
from tulou.exchange.models import AgreementStatus
from tulou.exchange.schemas import AgreementIn, AgreementOut, ApprovalIn, DecisionIn, agreement_out
from tulou.identity.routes import caller
from tulou.identity.scope import clamp
from tulou.security.guards import requires, signed_in


class AgreementController(Controller):
    path = "/api/v1/agreements"
    tags = ["agreements"]

    @post("/", guards=[requires("agreement:request")], summary="Ask, for an organisation, to read a dataset")
    async def request_access(self, request: Request, data: JSONBody[AgreementIn]) -> Response[AgreementOut]:
        principal = await caller(request)

        async def ask() -> AgreementOut:
            agreement = await agreements.request_agreement(principal, data)
            await agreement.fetch_related("grantee")
            return agreement_out(agreement, now())

        return await once(request, principal, ask)

    @get("/", guards=[signed_in], summary="Agreements of the caller's organisations and of the datasets it keeps")
    async def list_agreements(
        self, request: Request,
        side: Annotated[Literal["grantee", "keeper"] | None, QueryParameter(description="one side only")] = None,
        dataset: Annotated[str | None, QueryParameter()] = None,
        status: Annotated[AgreementStatus | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> list[AgreementOut]:
        found = await agreements.list_agreements(await caller(request), side, dataset, status, clamp(limit), offset)
        moment = now()
        return [agreement_out(agreement, moment) for agreement in found]

    @get("/{agreement_id:int}", guards=[signed_in], summary="One agreement the caller is party to")
    async def read(self, request: Request, agreement_id: FromPath[int]) -> AgreementOut:
        return agreement_out(await agreements.get_agreement(await caller(request), agreement_id), now())

    @post("/{agreement_id:int}/approve", status_code=200, guards=[requires("agreement:decide")],
          summary="Approve as requested or narrower")
    async def approve(self, request: Request, agreement_id: FromPath[int], data: JSONBody[ApprovalIn]) -> Response[AgreementOut]:
        principal = await caller(request)

        async def decide() -> AgreementOut:
            return agreement_out(await agreements.approve(principal, agreement_id, data), now())

        return await once(request, principal, decide)

    @post("/{agreement_id:int}/reject", status_code=200, guards=[requires("agreement:decide")], summary="Reject a request")
    async def reject(self, request: Request, agreement_id: FromPath[int], data: JSONBody[DecisionIn]) -> Response[AgreementOut]:
        principal = await caller(request)

        async def decide() -> AgreementOut:
            return agreement_out(await agreements.reject(principal, agreement_id, data.note), now())

        return await once(request, principal, decide)

    @post("/{agreement_id:int}/revoke", status_code=200, guards=[requires("agreement:decide")],
          summary="End an approved agreement at once")
    async def revoke(self, request: Request, agreement_id: FromPath[int], data: JSONBody[DecisionIn]) -> Response[AgreementOut]:
        principal = await caller(request)

        async def decide() -> AgreementOut:
            return agreement_out(await agreements.revoke(principal, agreement_id, data.note), now())

        return await once(request, principal, decide)
