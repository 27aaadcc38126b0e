"""``/api/v1/accounts/{account_id}/organisations``: the organisations an account acts for.

Kept apart from the account routes: memberships are their own concept, with their own rule
(:mod:`tulou.identity.memberships`).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from tulou.identity import memberships
from tulou.identity.accounts_models import AccountMembership
from tulou.identity.routes import caller
from tulou.identity.schemas import OrganisationOut, organisation_out
from tulou.security.guards import requires


class MembershipIn(msgspec.Struct, forbid_unknown_fields=True):
    organisation: int


class MembershipOut(msgspec.Struct):
    account: int
    organisation: OrganisationOut
    created_by: str
    created_at: datetime


def membership_out(membership: AccountMembership) -> MembershipOut:
    return MembershipOut(
        account=membership.account_id, organisation=organisation_out(membership.organisation),
        created_by=membership.created_by, created_at=membership.created_at,
    )


class MembershipController(Controller):
    path = "/api/v1/accounts/{account_id:int}/organisations"
    tags = ["accounts"]

    @get("/", guards=[requires("account:read")], summary="The organisations an account acts for")
    async def list_memberships(self, request: Request, account_id: FromPath[int]) -> list[MembershipOut]:
        found = await memberships.memberships_of(await caller(request), account_id)
        return [membership_out(m) for m in found]

    @post("/", guards=[requires("account:write")], summary="Make an account act for an organisation")
    async def add(self, request: Request, account_id: FromPath[int], data: JSONBody[MembershipIn]) -> MembershipOut:
        membership = await memberships.add_membership(await caller(request), account_id, data.organisation)
        return membership_out(membership)

    @delete("/{organisation_id:int}", guards=[requires("account:write")], summary="End a membership")
    async def remove(self, request: Request, account_id: FromPath[int], organisation_id: FromPath[int]) -> None:
        await memberships.remove_membership(await caller(request), account_id, organisation_id)
