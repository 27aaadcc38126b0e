"""The console's Jinja environment: autoescaped, strict about undefined names, translated through :mod:`tulou.i18n`.

Templates call ``_("...")`` (and ``ngettext``) like Python code does, so ``make i18n``
extracts their strings into the core's catalogue and pages come out in the request's language.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from collections.abc import Mapping
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine

from tulou.areas.models import Area
from tulou.i18n import current_locale, gettext, ngettext
from tulou.settings import CoreSettings


def area_label(area: Area) -> str:
    """An area's name in the page's language, falling back to its Chinese name."""
    return area.name_en if current_locale.get() == "en" and area.name_en else area.name


def template_engine(settings: CoreSettings, plugin_templates: Mapping[str, Path] | None = None) -> JinjaTemplateEngine:
    """The core's templates as ``console/<name>``, and each plugin's (``register_console_templates``) as ``<plugin>/<name>``."""
    plugins = PrefixLoader({plugin: FileSystemLoader(directory) for plugin, directory in (plugin_templates or {}).items()})
    environment = Environment(
        loader=ChoiceLoader([PackageLoader("tulou.console", "templates"), plugins]),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    zone = ZoneInfo(settings.console.timezone)

    def when(moment: datetime | None) -> str:
        """A time in the county's time zone, written the way the page's language writes it."""
        if moment is None:
            return ""
        return format_datetime(moment, "medium", tzinfo=zone, locale=current_locale.get())

    environment.filters["when"] = when
    environment.globals["area_label"] = area_label
    return JinjaTemplateEngine.from_environment(environment)
