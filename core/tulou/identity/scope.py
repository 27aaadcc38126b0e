"""Area scope checks shared by the identity services: outside the caller's subtrees is 404."""

from __future__ import annotations

from tortoise.expressions import Q

from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.areas.service import in_subtrees, valid_code
from tulou.errors import Forbidden, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.security.principal import Principal

MAX_PAGE = 200


def within(principal: Principal, column: str) -> Q:
    """A filter keeping rows whose area ``column`` lies in one of the principal's subtrees."""
    if principal.area_roots is None:
        return Q()
    return in_subtrees(principal.area_roots, column)


async def area_in_scope(principal: Principal, code: str, field: str, *, village: bool = False) -> Area:
    """The area named in a body or query: 404 outside scope, 422 if unknown or not a village when one is needed."""
    valid_code(code, field)
    if not principal.covers(code):
        raise NotFound(_("Area not found"), field=field)
    area = await Area.get_or_none(code=code)
    if area is None:
        raise Invalid(_("Area %(code)s does not exist") % {"code": code}, field=field)
    if village and area.level is not AreaLevel.VILLAGE:
        raise Invalid(_("%(code)s is not a village") % {"code": code}, field=field)
    return area


async def in_area(principal: Principal, code: str, column: str, field: str = "area") -> Q:
    """A filter keeping rows whose area ``column`` lies in the subtree of ``code``, an area the caller covers."""
    root = await area_in_scope(principal, code, field)
    return in_subtrees((root.code,), column)


def clamp(limit: int) -> int:
    """The page size actually served: at least 1, at most :data:`MAX_PAGE`."""
    return max(1, min(limit, MAX_PAGE))


def require_permission(principal: Principal, permission: str, area: str) -> None:
    """403 unless the caller holds ``permission`` in ``area``."""
    if not principal.has_permission(permission, area):
        raise Forbidden(_("You do not have the permission %(permission)s") % {"permission": permission})
