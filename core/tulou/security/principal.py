"""The caller of a request, as every guard sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tulou.areas.codes import is_within

ALL_PERMISSIONS = "*"

#: One role binding's effect: the permissions held in one area's subtree.
Grant = tuple[str, frozenset[str]]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its permissions and the area subtrees they hold in.

    ``area_roots`` of ``None`` means everywhere: only principals built by hand, as
    tests do, leave it out. Accounts carry ``grants`` instead, one permission set per
    area root, because a role bound in one township says nothing about another: with
    grants, permissions are asked per area.
    ``expires_at`` is when the credential it came from stops working, if it does:
    only such principals are cached (see :mod:`tulou.security.principal_cache`).
    ``organisations`` are those the caller acts for: whose datasets it keeps and under
    whose sharing agreements it reads.
    """

    id: str
    display_name: str
    permissions: frozenset[str]
    area_roots: tuple[str, ...] | None = None
    grants: tuple[Grant, ...] | None = None
    expires_at: datetime | None = None
    organisations: frozenset[int] = frozenset()

    @classmethod
    def from_grants(
        cls, id: str, display_name: str, grants: tuple[Grant, ...], expires_at: datetime | None = None,
        organisations: frozenset[int] = frozenset(),
    ) -> Principal:
        """A principal whose permissions and area roots are exactly those of ``grants``."""
        permissions = frozenset().union(*(held for _root, held in grants))
        roots = tuple(dict.fromkeys(root for root, _held in grants))
        return cls(
            id=id, display_name=display_name, permissions=permissions, area_roots=roots, grants=grants,
            expires_at=expires_at, organisations=organisations,
        )

    def has_permission(self, permission: str, area: str | None = None) -> bool:
        """Whether ``permission`` is held somewhere, or in ``area`` when one is named."""
        if self.grants is None:
            held = ALL_PERMISSIONS in self.permissions or permission in self.permissions
            return held and (area is None or self.covers(area))
        return any(
            (ALL_PERMISSIONS in held or permission in held) and (area is None or is_within(area, root))
            for root, held in self.grants
        )

    def covers(self, area_code: str) -> bool:
        if self.area_roots is None:
            return True
        return any(is_within(area_code, root) for root in self.area_roots)

    def narrowed_to(self, permission: str) -> Principal:
        """The same caller seen only in the areas where it holds ``permission``.

        Guards hand this to the route, so area filters built from ``area_roots`` never
        reach a township where the caller holds some other permission only.
        """
        if self.grants is None:
            return self
        kept = tuple(grant for grant in self.grants if ALL_PERMISSIONS in grant[1] or permission in grant[1])
        return Principal.from_grants(self.id, self.display_name, kept, self.expires_at, self.organisations)

    def roots_holding(self, permission: str) -> tuple[str, ...] | None:
        """The area roots where ``permission`` is held; ``None`` means everywhere."""
        if self.grants is None:
            held = ALL_PERMISSIONS in self.permissions or permission in self.permissions
            return self.area_roots if held else ()
        return tuple(root for root, held in self.grants if ALL_PERMISSIONS in held or permission in held)
