"""Every message in the code is translated in zh_CN and en, for the core and each plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "lazy": None, "ngettext": (1, 2)}


def catalogues() -> list[tuple[str, Path, Path]]:
    """(domain, source directory, locale directory) for the core and every built-in plugin."""
    found = [("tulou", ROOT / "core" / "tulou", ROOT / "core" / "tulou" / "i18n" / "locale")]
    for project in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        name = project.parent.name
        package = project.parent / f"tulou_{name}"
        found.append((name, package, package / "locale"))
    return found


def extracted(source: Path) -> set[str]:
    """Every message of the Python code and the console's templates, as ``make i18n`` finds them (babel.cfg)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(str(source), method_map, options_map, keywords=KEYWORDS)
    }


@pytest.mark.parametrize(("domain", "source", "locale_dir"), catalogues(), ids=lambda v: str(v)[-30:])
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_catalogue_is_complete(domain: str, source: Path, locale_dir: Path, locale: str) -> None:
    po_path = locale_dir / locale / "LC_MESSAGES" / f"{domain}.po"
    with po_path.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    in_code = extracted(source)
    in_catalogue = {message.id if isinstance(message.id, str) else message.id[0] for message in catalogue if message.id}
    assert in_code, f"no messages found in {source}"
    assert in_code - in_catalogue == set(), f"run make i18n: {po_path} lacks messages"
    untranslated = [m.id for m in catalogue if m.id and (not m.string or not all(m.string) or m.fuzzy)]
    assert untranslated == [], f"{po_path} has untranslated or fuzzy messages"
    assert (po_path.with_suffix(".mo")).is_file(), "compiled catalogue missing (make translations)"
