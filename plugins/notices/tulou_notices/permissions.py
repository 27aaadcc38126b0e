"""The permissions the notice board checks."""

from __future__ import annotations

from tulou.api import Permission
from tulou_notices.i18n import lazy_gettext

PUBLISH = "notices:publish"

PERMISSIONS = (
    Permission(
        name=PUBLISH,
        title=lazy_gettext("Publish and withdraw notices"),
        description=lazy_gettext("Post notices to a village or township board and take them down"),
    ),
)
