"""Reading the area tree."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from tulou.areas.codes import AreaLevel, InvalidAreaCode, level_of, subtree_prefix
from tulou.areas.models import Area
from tulou.errors import Invalid, NotFound
from tulou.i18n import gettext as _


def valid_code(code: str, field: str = "code") -> str:
    try:
        level_of(code)
    except InvalidAreaCode:
        raise Invalid(_("%(code)s is not a 12-digit division code") % {"code": code}, field=field) from None
    return code


def in_subtrees(roots: tuple[str, ...], column: str) -> Q:
    """A filter keeping rows whose area ``column`` lies under one of ``roots`` (none: no rows)."""
    if not roots:
        return Q(pk__in=[])
    return Q(*(Q(**{f"{column}__startswith": subtree_prefix(root)}) for root in roots), join_type=Q.OR)


def query_areas(parent: str | None = None, level: AreaLevel | None = None, within: str | None = None) -> QuerySet[Area]:
    """Areas filtered by direct parent, level and subtree, in code order."""
    query = Area.all()
    if parent is not None:
        query = query.filter(parent_id=valid_code(parent, "parent"))
    if level is not None:
        query = query.filter(level=level)
    if within is not None:
        query = query.filter(code__startswith=subtree_prefix(valid_code(within, "within")))
    return query.order_by("code")


async def get_area(code: str) -> Area:
    area = await Area.get_or_none(code=valid_code(code))
    if area is None:
        raise NotFound(_("Area %(code)s not found") % {"code": code}, field="code")
    return area


async def ancestors(area: Area) -> list[Area]:
    """The chain from the root down to the area's parent."""
    chain: list[Area] = []
    parent_code = area.parent_id
    while parent_code:
        parent = await Area.get_or_none(code=parent_code)
        if parent is None:
            break
        chain.append(parent)
        parent_code = parent.parent_id
    return list(reversed(chain))
