"""The plugin's own translation domain, ``notices``.

The lazy form is named ``lazy_gettext`` because that is a keyword ``make i18n``
extracts; texts built at import time (manifest, permissions, menu) must be lazy.
"""

from __future__ import annotations

from pathlib import Path

from tulou.api import translator

DOMAIN = "notices"
LOCALE_DIR = Path(__file__).parent / "locale"

_, lazy_gettext = translator(DOMAIN)
