"""What a form's pickers offer: only areas within the caller's scope, only roles the caller may grant.

The services refuse anything else anyway; the pickers make sure nobody is even shown
another township's name or a role they could not grant.
"""

from __future__ import annotations

from collections.abc import Iterable

from tulou.areas.models import Area
from tulou.console.templating import area_label
from tulou.areas.service import in_subtrees
from tulou.identity.accounts_models import Role
from tulou.identity.custom_roles import list_roles
from tulou.security.principal import Principal

GRANT = "role:grant"


async def areas_holding(principal: Principal, permission: str) -> list[Area]:
    """Every area in the subtrees where the caller holds ``permission``, in code order (parents first)."""
    roots = principal.roots_holding(permission)
    if roots == ():
        return []
    query = Area.all() if roots is None else Area.filter(in_subtrees(roots, "code"))
    return await query.order_by("code")


async def places(codes: Iterable[str | None]) -> dict[str, Area]:
    """The areas named by ``codes``, by code, so that pages show names rather than bare codes."""
    wanted = sorted({code for code in codes if code})
    return {area.code: area for area in await Area.filter(code__in=wanted)} if wanted else {}


def area_options(areas: list[Area]) -> list[tuple[str, str]]:
    """(code, "name code") pairs for a drop-down."""
    return [(area.code, f"{area_label(area)} {area.code}") for area in areas]


def may_grant(principal: Principal, role: Role, area: str | None = None) -> bool:
    """Whether the caller may grant ``role`` in ``area``, or somewhere when no area is named.

    The rule of :func:`tulou.identity.accounts.bind_role`: ``role:grant`` and every
    permission of the role, held in the same area.
    """
    roots = principal.roots_holding(GRANT)
    where: list[str | None] = [area] if area is not None else [None] if roots is None else list(roots)
    return any(
        principal.has_permission(GRANT, place)
        and all(principal.has_permission(name, place) for name in role.permissions)
        for place in where
    )


async def grantable_roles(principal: Principal) -> list[Role]:
    """The roles the caller may grant somewhere in its areas."""
    return [role for role in await list_roles() if may_grant(principal, role)]
