"""The catalogue's translated texts (``{"zh_CN": ..., "en": ...}``) in the page's language."""

from __future__ import annotations

from tulou.i18n import current_locale


def in_page_language(text: dict[str, str] | None) -> str:
    """The text in the page's language, else in Chinese, the catalogue's first language."""
    text = text or {}
    return text.get(current_locale.get()) or text.get("zh_CN") or ""
