"""The tags residents may carry: the core's vocabulary plus what plugins register.

Tags mark people services look after (elderly living alone, low-income households),
so a tag must mean the same in every village: a person may only carry a known
code. Staff often type the title instead of the code (老年人 rather than
``elderly``), so titles in either language are understood too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tulou.errors import Invalid
from tulou.i18n import LOCALES, current_locale
from tulou.i18n import gettext as _
from tulou.identity.roles import N_
from tulou.plugins.registrations import PersonTag


CORE_TAGS: tuple[PersonTag, ...] = (
    PersonTag("elderly", N_("Elderly (60 or over)")),
    PersonTag("elderly_alone", N_("Elderly, living alone")),
    PersonTag("disabled", N_("Person with a disability")),
    PersonTag("low_income", N_("Minimum living allowance")),
    PersonTag("extreme_poverty", N_("Extreme poverty support")),
    PersonTag("poverty_monitored", N_("Monitored for falling back into poverty")),
    PersonTag("left_behind_child", N_("Left-behind child")),
    PersonTag("left_behind_elderly", N_("Left-behind elderly")),
    PersonTag("veteran", N_("Veteran")),
)


@dataclass(frozen=True)
class TagEntry:
    tag: PersonTag
    plugin: str | None

    def title(self) -> str:
        """The title in the caller's language: core titles through the core catalogue, plugins' are lazy."""
        return _(self.tag.title) if isinstance(self.tag.title, str) and self.plugin is None else str(self.tag.title)


class TagVocabulary:
    """Every known tag by code, and the check a person's tags must pass."""

    def __init__(self, plugin_tags: Mapping[str, Iterable[PersonTag]] | None = None) -> None:
        entries = [TagEntry(tag, None) for tag in CORE_TAGS]
        entries += [TagEntry(tag, plugin) for plugin, tags in sorted((plugin_tags or {}).items()) for tag in tags]
        self.entries: dict[str, TagEntry] = {entry.tag.code: entry for entry in entries}
        self._titles: dict[str, str] | None = None

    def check(self, tags: Iterable[str], field: str = "tags") -> list[str]:
        """The tags sorted without repeats, or 422 naming every unknown one."""
        unknown = sorted(set(tags) - self.entries.keys())
        if unknown:
            raise Invalid(_("Unknown tags: %(tags)s") % {"tags": ", ".join(unknown)}, field=field)
        return sorted(set(tags))

    def code_for(self, text: str) -> str | None:
        """The code ``text`` names, as a code or as a title in any supported language."""
        text = text.strip()
        if text in self.entries:
            return text
        if self._titles is None:  # built at first use, once the catalogues are installed
            self._titles = self._all_titles()
        return self._titles.get(text.casefold())

    def _all_titles(self) -> dict[str, str]:
        titles: dict[str, str] = {}
        for locale in LOCALES:
            token = current_locale.set(locale)
            try:
                titles.update({entry.title().casefold(): code for code, entry in self.entries.items()})
            finally:
                current_locale.reset(token)
        return titles
