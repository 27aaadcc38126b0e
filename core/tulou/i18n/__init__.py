"""Translations: the core's ``tulou`` domain plus one domain per plugin, merged per locale.

The locale of the current request lives in a context variable set by
:class:`tulou.web.middleware.RequestContextMiddleware`; ``gettext`` reads it, so errors
raised deep in a service come out in the caller's language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from pathlib import Path

from babel.core import negotiate_locale
from babel.support import LazyProxy, Translations

CORE_DOMAIN = "tulou"
LOCALES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
CORE_LOCALE_DIR = Path(__file__).parent / "locale"

current_locale: ContextVar[str] = ContextVar("tulou_locale", default=DEFAULT_LOCALE)


class MissingCatalogError(RuntimeError):
    """A ``.mo`` file is missing: babel would otherwise fall back silently to English ids."""


class Catalogs:
    """One merged :class:`~babel.support.Translations` per locale, holding every domain."""

    def __init__(self) -> None:
        self._by_locale: dict[str, Translations] = {}

    def add_domain(self, domain: str, directory: Path, locales: Iterable[str] = LOCALES) -> None:
        """Add a domain for every locale, or for none if a compiled catalogue is missing."""
        locales = list(locales)
        for locale in locales:
            mo_file = directory / locale / "LC_MESSAGES" / f"{domain}.mo"
            if not mo_file.is_file():
                raise MissingCatalogError(f"missing compiled catalogue {mo_file} (run make i18n)")
        for locale in locales:
            translations = Translations.load(str(directory), [locale], domain)
            merged = self._by_locale.get(locale)
            if merged is None:
                self._by_locale[locale] = translations
            else:
                merged.add(translations, merge=False)

    def dgettext(self, domain: str, message: str, locale: str | None = None) -> str:
        translations = self._by_locale.get(locale or current_locale.get())
        if translations is None:
            return message
        return translations.dgettext(domain, message)

    def dngettext(self, domain: str, singular: str, plural: str, count: int, locale: str | None = None) -> str:
        translations = self._by_locale.get(locale or current_locale.get())
        if translations is None:
            return singular if count == 1 else plural
        return translations.dngettext(domain, singular, plural, count)


_active = Catalogs()


def install(catalogs: Catalogs) -> None:
    """Make ``catalogs`` the ones every ``gettext`` call in this process reads."""
    global _active
    _active = catalogs


def core_catalogs() -> Catalogs:
    catalogs = Catalogs()
    catalogs.add_domain(CORE_DOMAIN, CORE_LOCALE_DIR)
    return catalogs


def translator(domain: str) -> tuple[Callable[[str], str], Callable[[str], LazyProxy]]:
    """``(gettext, lazy_gettext)`` for a domain: plugins call this with their own name."""

    def domain_gettext(message: str) -> str:
        return _active.dgettext(domain, message)

    def domain_lazy_gettext(message: str) -> LazyProxy:
        return LazyProxy(domain_gettext, message, enable_cache=False)

    return domain_gettext, domain_lazy_gettext


gettext, lazy_gettext = translator(CORE_DOMAIN)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The core's plural forms: Chinese has one, English two."""
    return _active.dngettext(CORE_DOMAIN, singular, plural, count)


def plugin_first(domain: str) -> tuple[Callable[[str], str], Callable[[str, str, int], str]]:
    """``(gettext, ngettext)`` reading ``domain``'s catalogue, then the core's: a plugin's
    console page shows its own words and the layout's around them."""

    def domain_gettext(message: str) -> str:
        translated = _active.dgettext(domain, message)
        return translated if translated != message else gettext(message)

    def domain_ngettext(singular: str, plural: str, count: int) -> str:
        translated = _active.dngettext(domain, singular, plural, count)
        return translated if translated not in (singular, plural) else ngettext(singular, plural, count)

    return domain_gettext, domain_ngettext


def negotiate(query_lang: str | None, accept_language: str | None, default: str) -> str:
    """Pick the locale: ``?lang=`` first, then ``Accept-Language``, then the default."""
    preferred: list[str] = []
    if query_lang:
        preferred.append(query_lang.replace("-", "_"))
    preferred.extend(_accept_language(accept_language or ""))
    return negotiate_locale(preferred, list(LOCALES), sep="_", aliases={"zh": "zh_CN"}) or default


def _accept_language(header: str) -> list[str]:
    ranked: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((quality, tag.replace("-", "_")))
    return [tag for _, tag in sorted(ranked, key=lambda item: -item[0])]


__all__ = ["Catalogs", "current_locale", "gettext", "lazy_gettext", "ngettext", "translator"]
