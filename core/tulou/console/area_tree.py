"""The areas page: the caller's part of the division tree, and importing areas from CSV as ``tulou areas import`` does.

The import is :func:`tulou.areas.importer.import_areas`, the command line's own: every
row checked first, then all written in one transaction, or nothing. The console adds
the caller's areas as a bound, so a row outside them is a bad row, and an audit entry
naming the account, in the same transaction (the command line's operator is the
server's, and is not audited).
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.areas.codes import CODE_PATTERN, AreaLevel, parent_code
from tulou.areas.importer import ImportResult, import_areas
from tulou.areas.models import Area
from tulou.areas.service import in_subtrees
from tulou.audit.service import record_audit
from tulou.console.overview import AreaNode, build_tree
from tulou.errors import Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.i18n import lazy_gettext
from tulou.platform import Platform
from tulou.security.principal import Principal

IMPORT = "area:import"
LEVEL_LABELS = {
    AreaLevel.PROVINCE: lazy_gettext("Province"),
    AreaLevel.PREFECTURE: lazy_gettext("Prefecture"),
    AreaLevel.COUNTY: lazy_gettext("County"),
    AreaLevel.TOWNSHIP: lazy_gettext("Township"),
    AreaLevel.VILLAGE: lazy_gettext("Village or community"),
}


def level_label(level: AreaLevel) -> str:
    return str(LEVEL_LABELS[level])


@dataclass(frozen=True)
class AreaView:
    """One area of the caller's, the chain above it that the caller covers, and its subtree."""

    area: Area
    ancestors: list[Area]
    tree: list[AreaNode]


def _scoped(principal: Principal) -> QuerySet[Area]:
    query = Area.all()
    return query if principal.area_roots is None else query.filter(in_subtrees(principal.area_roots, "code"))


async def visible_tree(principal: Principal) -> list[AreaNode]:
    """Every area in the caller's subtrees, nested; each root is one of the caller's areas."""
    return build_tree(await _scoped(principal).order_by("code"))


async def area_view(principal: Principal, code: str) -> AreaView:
    """Area ``code`` with its subtree; 404 when it is absent or outside the caller's areas (the same answer)."""
    shown = CODE_PATTERN.match(code) and principal.covers(code)
    area = await Area.get_or_none(code=code) if shown else None
    if area is None:
        raise NotFound(_("Area not found"), field="area")
    chain = await _scoped(principal).filter(code__in=_parent_codes(area)).order_by("code")
    subtree = await Area.filter(in_subtrees((area.code,), "code")).order_by("code")
    return AreaView(area=area, ancestors=list(chain), tree=build_tree(subtree)[0].children)


def _parent_codes(area: Area) -> list[str]:
    codes, code = [], area.code
    while (code := parent_code(code)) is not None:
        codes.append(code)
    return codes


async def import_uploaded_areas(platform: Platform, principal: Principal, content: bytes) -> ImportResult:
    """An uploaded CSV imported within the areas where the caller holds ``area:import``."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(_("The file is not UTF-8 text: save it from Excel as “CSV UTF-8”"), field="file") from None
    if not text.strip():
        raise Invalid(_("The file is empty"), field="file")
    async with in_transaction():
        result = await import_areas(platform, text, principal.id, within=principal.roots_holding(IMPORT))
        if not result.errors:
            counts = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
            await record_audit(principal.id, "area.imported", detail=counts)
    return result
