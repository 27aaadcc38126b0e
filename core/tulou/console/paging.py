"""Pages of a long list: which rows page ``n`` shows, and the links to the pages around it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

PAGE_SIZE = 25


@dataclass(frozen=True)
class Paging:
    """Page ``number`` (from 1) of ``total`` rows; ``query`` keeps the list's filters in the links."""

    number: int
    total: int
    query: tuple[tuple[str, str], ...] = ()
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def link(self, number: int) -> str:
        return "?" + urlencode([*self.query, ("page", str(number))])

    @property
    def previous(self) -> str | None:
        return self.link(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.link(self.number + 1) if self.number < self.pages else None


def page_number(value: int | None) -> int:
    """The page asked for, at least the first."""
    return max(1, value or 1)


def filters(**values: str | None) -> tuple[tuple[str, str], ...]:
    """The filters that are set, for the page links."""
    return tuple((name, value) for name, value in values.items() if value)
