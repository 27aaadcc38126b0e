"""Wire shapes of areas."""

from __future__ import annotations

from typing import Any

import msgspec

from tulou.areas.models import Area


class AreaOut(msgspec.Struct):
    code: str
    name: str
    name_en: str | None
    level: str
    parent: str | None


class AreaNode(msgspec.Struct):
    code: str
    name: str
    name_en: str | None
    level: str
    children: list[AreaNode]


def area_out(area: Area) -> AreaOut:
    return AreaOut(
        code=area.code, name=area.name, name_en=area.name_en, level=area.level.value, parent=area.parent_id
    )


def build_tree(areas: list[Area]) -> list[AreaNode]:
    """Nest a flat, code-ordered list; areas whose parent is absent become roots."""
    nodes: dict[str, AreaNode] = {}
    roots: list[AreaNode] = []
    for area in areas:
        node = AreaNode(code=area.code, name=area.name, name_en=area.name_en, level=area.level.value, children=[])
        nodes[area.code] = node
        parent = nodes.get(area.parent_id) if area.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


class Page(msgspec.Struct):
    items: list[Any]
    total: int
    limit: int
    offset: int
