"""Which organisations an account acts for: granted by those who manage both the account and the organisation.

Membership is a right in itself (a bureau's member keeps the bureau's datasets, a
township government's member reads under its sharing agreements), so adding one
needs ``account:write`` over the account's home area and over the organisation's
area: a township administrator cannot make anyone a member of a county bureau.
The routes' guards narrow the caller to the permission, so its areas are where it holds it.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Conflict, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.account_admin import get_account
from tulou.identity.accounts_models import AccountMembership
from tulou.identity.models import Organisation
from tulou.identity.scope import within
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed


async def _joinable(principal: Principal, organisation_id: int) -> Organisation:
    """The organisation, if the caller manages accounts in its area; as unknown otherwise."""
    organisation = await Organisation.get_or_none(id=organisation_id)
    if organisation is None or not principal.covers(organisation.area_id):
        raise Invalid(_("Organisation %(id)s does not exist") % {"id": organisation_id}, field="organisation")
    return organisation


async def memberships_of(principal: Principal, account_id: int) -> list[AccountMembership]:
    """The account's memberships of organisations in the caller's areas: like its role bindings,
    those the county made elsewhere are not the caller's to see."""
    account = await get_account(principal, account_id)
    return await AccountMembership.filter(within(principal, "organisation__area_id"), account_id=account.id) \
        .select_related("organisation").order_by("id")


async def add_membership(principal: Principal, account_id: int, organisation_id: int) -> AccountMembership:
    """Make the account act for the organisation; it does from its next request on."""
    account = await get_account(principal, account_id)
    organisation = await _joinable(principal, organisation_id)
    try:
        async with in_transaction():
            membership = await AccountMembership.create(
                account=account, organisation=organisation, created_by=principal.id
            )
            await record_audit(
                principal.id, "account.membership_added", area_code=organisation.area_id, target_type="account",
                target_id=str(account.id), detail={"organisation": organisation.id},
            )
    except IntegrityError:
        raise Conflict(_("The account is already a member of this organisation"), field="organisation") from None
    await principals_changed()
    membership.organisation = organisation
    return membership


async def remove_membership(principal: Principal, account_id: int, organisation_id: int) -> None:
    """End a membership under the same rule as adding it; every process forgets the old rights at once."""
    account = await get_account(principal, account_id)
    membership = await AccountMembership.get_or_none(account_id=account.id, organisation_id=organisation_id) \
        .select_related("organisation")
    if membership is None or not principal.covers(membership.organisation.area_id):
        raise NotFound(_("Membership not found"), field="organisation_id")  # one answer: no telling what lies outside
    organisation = membership.organisation
    async with in_transaction():
        await membership.delete()
        await record_audit(
            principal.id, "account.membership_removed", area_code=organisation.area_id, target_type="account",
            target_id=str(account.id), detail={"organisation": organisation.id},
        )
    await principals_changed()
