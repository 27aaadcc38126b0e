"""The caller of a request, as every guard sees it."""

from __future__ import annotations

from dataclasses import dataclass

from tulou.areas.codes import is_within

ALL_PERMISSIONS = "*"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its permissions and the area subtrees they hold in.

    ``area_roots`` of ``None`` means everywhere (the bootstrap admin). The identity
    standard builds principals from role bindings; guards only ask :meth:`can`.
    """

    id: str
    display_name: str
    permissions: frozenset[str]
    area_roots: tuple[str, ...] | None = None

    def has_permission(self, permission: str) -> bool:
        return ALL_PERMISSIONS in self.permissions or permission in self.permissions

    def covers(self, area_code: str) -> bool:
        if self.area_roots is None:
            return True
        return any(is_within(area_code, root) for root in self.area_roots)
