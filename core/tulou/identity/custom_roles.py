"""Roles made by people: created, changed and deleted with ``role:manage``, never stronger than their maker.

Built-in roles are defined in code (:mod:`tulou.identity.roles`) and synced at start-up,
so they cannot be changed here. A role may hold only permission names the core or a
working plugin declared. Whoever changes a role must hold every permission it had and
will have, in every area where it is bound: otherwise changing a role would grant, or
take away, what its editor could not grant or take away directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Conflict, Forbidden, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.account_schemas import RoleIn, RolePatch
from tulou.identity.accounts_models import Role, RoleBinding
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed


async def list_roles() -> list[Role]:
    return await Role.all().order_by("id")


async def get_role(name: str) -> Role:
    role = await Role.get_or_none(name=name)
    if role is None:
        raise NotFound(_("Role not found"), field="name")
    return role


def _known(permissions: Iterable[str], known: Set[str]) -> list[str]:
    """The permissions sorted and without repeats; 422 naming the unknown ones."""
    wanted = set(permissions)
    unknown = sorted(wanted - known)
    if unknown:
        raise Invalid(_("Unknown permissions: %(names)s") % {"names": ", ".join(unknown)}, field="permissions")
    return sorted(wanted)


def _holds_all_somewhere(principal: Principal, permissions: Iterable[str]) -> bool:
    """Whether the caller holds every one of ``permissions`` together in one of its areas."""
    if principal.area_roots is None:
        return all(principal.has_permission(name) for name in permissions)
    return any(all(principal.has_permission(name, root) for name in permissions) for root in principal.area_roots)


async def _refuse_escalation(principal: Principal, permissions: Iterable[str], role: Role | None = None) -> None:
    """403 unless the caller holds ``permissions`` in one of its areas and in every area ``role`` is bound in."""
    permissions = list(permissions)
    if not _holds_all_somewhere(principal, permissions):
        raise Forbidden(_("You cannot manage a role with permissions you do not hold"), field="permissions")
    bound = set() if role is None else set(await RoleBinding.filter(role_id=role.id).values_list("area_id", flat=True))
    for area in sorted(bound):
        if not principal.covers(str(area)) or not all(principal.has_permission(name, str(area)) for name in permissions):
            raise Forbidden(
                _("The role is bound in areas where you do not hold all its permissions"), field="permissions"
            )


def _refuse_builtin(role: Role) -> None:
    if role.builtin:
        raise Conflict(_("%(role)s is a built-in role: it cannot be changed or deleted") % {"role": role.name},
                       field="name")


async def create_role(principal: Principal, data: RoleIn, known: Set[str]) -> Role:
    """A new custom role; it grants nothing until it is bound."""
    title = data.title.strip()
    if not title:
        raise Invalid(_("A title is required"), field="title")
    permissions = _known(data.permissions, known)
    await _refuse_escalation(principal, permissions)
    if await Role.exists(name=data.name):
        raise Conflict(_("This role name is taken"), field="name")
    try:
        async with in_transaction():
            role = await Role.create(name=data.name, title=title, permissions=permissions, builtin=False)
            await record_audit(principal.id, "role.created", target_type="role", target_id=role.name,
                               detail={"title": title, "permissions": permissions})
    except IntegrityError:
        raise Conflict(_("This role name is taken"), field="name") from None
    return role


async def update_role(principal: Principal, name: str, patch: RolePatch, known: Set[str]) -> Role:
    """Change a custom role's title or permissions; its holders see the new set from their next request."""
    role = await get_role(name)
    _refuse_builtin(role)
    title = role.title if patch.title is msgspec.UNSET else patch.title.strip()
    if not title:
        raise Invalid(_("A title is required"), field="title")
    old = list(role.permissions)
    new = old if patch.permissions is msgspec.UNSET else _known(patch.permissions, known)
    await _refuse_escalation(principal, {*old, *new}, role)
    async with in_transaction():
        await Role.filter(id=role.id).update(title=title, permissions=new)
        await record_audit(principal.id, "role.changed", target_type="role", target_id=role.name, detail={
            "title": title, "added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
        })
    if set(new) != set(old):
        await principals_changed()
    return await Role.get(id=role.id)


async def delete_role(principal: Principal, name: str) -> None:
    """Delete a custom role that no binding uses any more."""
    role = await get_role(name)
    _refuse_builtin(role)
    await _refuse_escalation(principal, role.permissions, role)
    conflict = Conflict(_("The role is still bound: remove its bindings first"), field="name")
    if await RoleBinding.exists(role_id=role.id):
        raise conflict
    try:
        async with in_transaction():
            await role.delete()
            await record_audit(principal.id, "role.deleted", target_type="role", target_id=role.name,
                               detail={"permissions": role.permissions})
    except IntegrityError:  # bound concurrently, between the check and the delete
        raise conflict from None
