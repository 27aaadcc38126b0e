"""Which organisations an account acts for: granted by those who manage both the account and the organisation.

Membership is a right in itself (a bureau's member keeps the bureau's datasets, a
township government's member reads under its sharing agreements), so adding one
needs ``account:write`` over the account's home area and over the organisation's
area: a township administrator cannot make anyone a member of a county bureau.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.areas.models import Area
from tulou.audit.service import record_audit
from tulou.errors import Conflict, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.accounts_models import Account, AccountMembership
from tulou.identity.models import Organisation
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed

READ, WRITE = "account:read", "account:write"


async def _holds_everywhere(principal: Principal, permission: str) -> bool:
    """Whether ``permission`` is held over every top-level area: what an account without a home area needs."""
    roots = await Area.filter(parent_id=None).values_list("code", flat=True)
    return all(principal.has_permission(permission, code) for code in roots)


async def managed_account(principal: Principal, account_id: int, permission: str) -> Account:
    """The account, if the caller holds ``permission`` over its home area; 404 otherwise, so it does not leak."""
    account = await Account.get_or_none(id=account_id)
    if account is not None:
        home = account.home_area_id
        if (principal.has_permission(permission, home) if home else await _holds_everywhere(principal, permission)):
            return account
    raise NotFound(_("Account not found"), field="account_id")


async def _joinable(principal: Principal, organisation_id: int) -> Organisation:
    """The organisation, if the caller manages accounts in its area; as unknown otherwise."""
    organisation = await Organisation.get_or_none(id=organisation_id)
    if organisation is None or not principal.has_permission(WRITE, organisation.area_id):
        raise Invalid(_("Organisation %(id)s does not exist") % {"id": organisation_id}, field="organisation")
    return organisation


async def memberships_of(principal: Principal, account_id: int) -> list[AccountMembership]:
    account = await managed_account(principal, account_id, READ)
    return await AccountMembership.filter(account_id=account.id).select_related("organisation").order_by("id")


async def add_membership(principal: Principal, account_id: int, organisation_id: int) -> AccountMembership:
    """Make the account act for the organisation; it does from its next request on."""
    account = await managed_account(principal, account_id, WRITE)
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
    account = await managed_account(principal, account_id, WRITE)
    membership = await AccountMembership.get_or_none(account_id=account.id, organisation_id=organisation_id)
    if membership is None:
        raise NotFound(_("Membership not found"), field="organisation_id")
    organisation = await _joinable(principal, organisation_id)
    async with in_transaction():
        await membership.delete()
        await record_audit(
            principal.id, "account.membership_removed", area_code=organisation.area_id, target_type="account",
            target_id=str(account.id), detail={"organisation": organisation.id},
        )
    await principals_changed()
