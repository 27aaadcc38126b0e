"""What account administrators do to other accounts: find them, disable, enable, unlock, reset passwords.

An account is managed in its home area's subtree; one without a home area only by a
caller who holds the permission everywhere or at a root area. Nobody acts on an account
that holds a permission they lack where it holds it: taking over a stronger account
would be escalation by other means.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.areas.models import Area
from tulou.audit.service import record_audit
from tulou.errors import Conflict, Forbidden, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.accounts import bindings_of
from tulou.identity.accounts_models import Account, AccountStatus
from tulou.identity.auth import account_id_of, revoke_all
from tulou.identity.passwords import check_password_policy, generate_password, hash_password
from tulou.identity.scope import in_area, within
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed


async def _county_wide(principal: Principal) -> bool:
    """Whether the caller holds its permission at a root area, so also manages accounts without a home area."""
    return await Area.filter(code__in=list(principal.area_roots or ()), parent_id=None).exists()


async def managed_accounts(principal: Principal) -> QuerySet[Account]:
    """The accounts whose home area lies in the caller's subtrees (the guard narrowed them to its permission)."""
    scope = within(principal, "home_area_id")
    if principal.area_roots is not None and await _county_wide(principal):
        scope = scope | Q(home_area_id__isnull=True)
    return Account.filter(scope)


async def list_accounts(
    principal: Principal, username: str | None = None, status: AccountStatus | None = None, area: str | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[Account], int]:
    """One page of the caller's accounts, by username substring, status and home area's subtree."""
    query = await managed_accounts(principal)
    if username and username.strip():
        query = query.filter(username__icontains=username.strip())
    if status is not None:
        query = query.filter(status=status)
    if area is not None:
        query = query.filter(await in_area(principal, area, "home_area_id"))
    return await query.order_by("id").offset(offset).limit(limit), await query.count()


async def get_account(principal: Principal, account_id: int) -> Account:
    """One account, or 404 when absent or managed outside the caller's areas."""
    account = await (await managed_accounts(principal)).get_or_none(id=account_id)
    if account is None:
        raise NotFound(_("Account not found"), field="account_id")
    return account


async def _manageable(principal: Principal, account_id: int, *, not_self: str | None = None) -> Account:
    """The account, if the caller manages it and holds everything it holds; ``not_self`` refuses the caller's own."""
    account = await get_account(principal, account_id)
    if not_self is not None and account_id_of(principal) == account.id:
        raise Forbidden(not_self, field="account_id")
    for binding in await bindings_of(account.id):
        if not all(principal.has_permission(name, binding.area_id) for name in binding.role.permissions):
            raise Forbidden(
                _("This account holds permissions you do not hold: you cannot manage it"), field="account_id"
            )
    return account


async def _audit(principal: Principal, action: str, account: Account, detail: dict[str, Any] | None = None) -> None:
    await record_audit(principal.id, action, area_code=account.home_area_id, target_type="account",
                       target_id=str(account.id), detail=detail)


async def disable_account(principal: Principal, account_id: int) -> Account:
    """Stop the account signing in; every token it holds dies at once."""
    account = await _manageable(principal, account_id, not_self=_("You cannot disable your own account"))
    async with in_transaction():
        changed = await Account.filter(id=account.id).exclude(status=AccountStatus.DISABLED).update(
            status=AccountStatus.DISABLED
        )
        if not changed:
            raise Conflict(_("The account is already disabled"), field="status")
        await revoke_all(account.id)
        await _audit(principal, "account.disabled", account)
    await principals_changed()
    return await Account.get(id=account.id)


async def enable_account(principal: Principal, account_id: int) -> Account:
    """Let a disabled account sign in again; its old tokens stay dead."""
    account = await _manageable(principal, account_id)
    async with in_transaction():
        if not await Account.filter(id=account.id, status=AccountStatus.DISABLED).update(status=AccountStatus.ACTIVE):
            raise Conflict(_("The account is not disabled"), field="status")
        await _audit(principal, "account.enabled", account)
    return await Account.get(id=account.id)


async def unlock_account(principal: Principal, account_id: int) -> Account:
    """Forget the failed sign-ins and lift the lockout they caused."""
    account = await _manageable(principal, account_id)
    changes: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
    if account.status is AccountStatus.LOCKED:
        changes["status"] = AccountStatus.ACTIVE
    async with in_transaction():
        await Account.filter(id=account.id).update(**changes)
        await _audit(principal, "account.unlocked", account, {"failed_logins": account.failed_logins})
    return await Account.get(id=account.id)


async def reset_password(
    principal: Principal, account_id: int, password: str | None, generate: bool
) -> tuple[Account, str | None]:
    """Set a password chosen by the administrator, or a generated one returned once; the account's tokens die.

    The caller's own password is changed with the current one at ``/api/v1/me/password`` instead,
    so that a stolen access token cannot take the account over.
    """
    if (password is None) == (not generate):
        raise Invalid(_("Give a new password or generate: true, but not both"), field="password")
    account = await _manageable(
        principal, account_id, not_self=_("Change your own password with your current one at /api/v1/me/password")
    )
    new_password = generate_password(account.username) if generate else str(password)
    check_password_policy(new_password, account.username)
    password_hash = await hash_password(new_password)
    async with in_transaction():
        await Account.filter(id=account.id).update(password_hash=password_hash, failed_logins=0, locked_until=None)
        await revoke_all(account.id)
        await _audit(principal, "account.password_reset", account, {"generated": generate})
    await principals_changed()
    return await Account.get(id=account.id), new_password if generate else None
