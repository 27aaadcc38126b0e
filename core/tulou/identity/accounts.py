"""Accounts and role bindings: who may create them, and that nobody grants more than they hold."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Conflict, Forbidden, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.accounts_models import Account, Role, RoleBinding
from tulou.identity.auth import account_id_of, revoke_all
from tulou.identity.passwords import check_password_policy, hash_password, verify_password
from tulou.identity.scope import area_in_scope, in_area, within
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed


def _require(principal: Principal, permission: str, area: str) -> None:
    if not principal.has_permission(permission, area):
        raise Forbidden(_("You do not have the permission %(permission)s") % {"permission": permission})


async def create_account(principal: Principal, username: str, password: str, area: str) -> Account:
    """A new active account, created on behalf of ``area`` where the caller holds ``account:write``."""
    username = username.strip()
    if not username:
        raise Invalid(_("A username is required"), field="username")
    check_password_policy(password, username)
    place = await area_in_scope(principal, area, "area")
    _require(principal, "account:write", place.code)
    if await Account.exists(username=username):
        raise Conflict(_("This username is taken"), field="username")
    password_hash = await hash_password(password)
    try:
        async with in_transaction():
            account = await Account.create(username=username, password_hash=password_hash, home_area=place)
            await record_audit(principal.id, "account.created", area_code=place.code, target_type="account",
                               target_id=str(account.id), detail={"username": username})
    except IntegrityError:
        raise Conflict(_("This username is taken"), field="username") from None
    return account


async def _role_grantable(principal: Principal, role: Role, area: str) -> None:
    """403 unless the caller may grant in ``area`` and holds every permission of ``role`` there."""
    _require(principal, "role:grant", area)
    if not all(principal.has_permission(permission, area) for permission in role.permissions):
        raise Forbidden(_("You cannot grant a role with permissions you do not hold in that area"), field="role")


async def bind_role(principal: Principal, account_id: int, role_name: str, area: str) -> RoleBinding:
    """Bind ``role_name`` to the account in ``area``'s subtree; the new rights apply from the next request."""
    place = await area_in_scope(principal, area, "area")
    role = await Role.get_or_none(name=role_name)
    if role is None:
        raise Invalid(_("Unknown role %(role)s") % {"role": role_name}, field="role")
    await _role_grantable(principal, role, place.code)
    if not await Account.exists(id=account_id):
        raise Invalid(_("Unknown account %(id)s") % {"id": account_id}, field="account")
    try:
        async with in_transaction():
            binding = await RoleBinding.create(account_id=account_id, role=role, area=place, created_by=principal.id)
            await record_audit(principal.id, "role.bound", area_code=place.code, target_type="account",
                               target_id=str(account_id), detail={"role": role.name, "binding": binding.id})
    except IntegrityError:
        raise Conflict(_("The account already holds this role in this area"), field="role") from None
    await principals_changed()
    return binding


async def unbind_role(principal: Principal, binding_id: int) -> None:
    """Remove a binding under the same rule as granting it; the account's tokens die with it."""
    binding = await RoleBinding.get_or_none(id=binding_id).select_related("role")
    if binding is None or not principal.covers(binding.area_id):
        raise NotFound(_("Role binding not found"), field="binding_id")
    await _role_grantable(principal, binding.role, binding.area_id)
    async with in_transaction():
        if not await RoleBinding.filter(id=binding.id).delete():  # removed by a concurrent request
            raise NotFound(_("Role binding not found"), field="binding_id")
        await revoke_all(binding.account_id)
        await record_audit(principal.id, "role.unbound", area_code=binding.area_id, target_type="account",
                           target_id=str(binding.account_id), detail={"role": binding.role.name, "binding": binding_id})
    await principals_changed()


async def change_password(principal: Principal, current: str, new: str) -> None:
    """Set a new password for the caller's own account; every token it holds stops working."""
    account_id = account_id_of(principal)
    account = await Account.get_or_none(id=account_id) if account_id is not None else None
    if account is None:
        raise Invalid(_("Only an account can change its password"))
    if not await verify_password(account.password_hash, current):
        raise Invalid(_("The current password is wrong"), field="current_password")
    check_password_policy(new, account.username, field="new_password")
    password_hash = await hash_password(new)
    async with in_transaction():
        await Account.filter(id=account.id).update(password_hash=password_hash, failed_logins=0, locked_until=None)
        await revoke_all(account.id)
        await record_audit(principal.id, "account.password_changed", target_type="account", target_id=str(account.id))
    await principals_changed()


async def bindings_of(account_id: int) -> list[RoleBinding]:
    return await RoleBinding.filter(account_id=account_id).select_related("role").order_by("id")


async def list_bindings(
    principal: Principal, account: int | None = None, area: str | None = None, role: str | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[RoleBinding], int]:
    """One page of the bindings in the caller's areas, by account, area subtree and role name."""
    query = RoleBinding.filter(within(principal, "area_id"))
    if account is not None:
        query = query.filter(account_id=account)
    if area is not None:
        query = query.filter(await in_area(principal, area, "area_id"))
    if role is not None:
        query = query.filter(role__name=role)
    return await query.select_related("role").order_by("id").offset(offset).limit(limit), await query.count()
