"""The user guides and the architecture page name only things the code has.

Each check reads the Markdown the way a reader would follow it: the ``TULOU_*``
variables they are told to set, the ``tulou`` commands they are told to run, the
HTTP routes they are told to call, and the files they are pointed to.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from tests.conftest import builtin_plugins
from tests.deploy.test_deploy_files import SETTING_NAME, setting_exists
from tulou.cli import cli
from tulou.platform import build_platform
from tulou.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
USER_DOCS = [
    REPO / "docs" / "architecture.md",
    *sorted((REPO / "docs" / "guides").glob("*.md")),
    REPO / "deploy" / "README.md",
    REPO / "deploy" / "mosquitto" / "README.md",
]
#: Variables the docs may name that are not settings, and the file that reads each.
SWITCHES = {"TULOU_DEBUG": REPO / "core" / "tulou" / "cli" / "__init__.py"}

COMMAND = re.compile(
    r"(?:^[ \t]*|`|/bin/)(?:tulou-admin|tulou)[ ]+([a-z][a-z-]*)(?:[ ]+([a-z][a-z-]*))?",
    re.MULTILINE,
)
ROUTE_IN_PROSE = re.compile(r"\b(GET|POST|PUT|DELETE|PATCH)[ `]+(/[^\s`\"')?]+)")
CURL_METHOD = re.compile(r"-X[ ]+([A-Z]+)")
CURL_PATH = re.compile(r"\$TULOU(/[^\s\"'?]+)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def doc_text(path: Path) -> str:
    """The text with shell line continuations joined, so one command is one line."""
    return path.read_text().replace("\\\n", " ")


def doc_ids(paths: list[Path]) -> list[str]:
    return [path.relative_to(REPO).as_posix() for path in paths]


@pytest.fixture(scope="module")
def settings_class() -> type[BaseModel]:
    """The settings class with the built-in plugins' sections, as a server builds it."""
    return type(build_platform(builtin_plugins(), database={"url": "sqlite://:memory:"}).settings)


@pytest.fixture(scope="module")
def routes() -> list[tuple[set[str], list[str]]]:
    app = create_app(
        plugins=builtin_plugins(), database={"url": "sqlite://:memory:"}, jobs={"enabled": False}
    )
    return [
        (set(route.methods), route.path.strip("/").split("/"))
        for route in app.routes
        if hasattr(route, "methods")
    ]


def route_exists(routes: list[tuple[set[str], list[str]]], method: str, path: str) -> bool:
    segments = path.strip("/").split("/")
    for methods, template in routes:
        if method in methods and len(template) == len(segments):
            if all(t.startswith("{") or t == s for t, s in zip(template, segments, strict=True)):
                return True
    return False


def test_route_check_tells_real_routes_from_made_up(
    routes: list[tuple[set[str], list[str]]],
) -> None:
    assert route_exists(routes, "PUT", "/api/v1/areas/350899100000/modules/notices")
    assert not route_exists(routes, "POST", "/api/v1/areas/350899100000/modules/notices")
    assert not route_exists(routes, "GET", "/api/v1/townships")


@pytest.mark.parametrize("path", USER_DOCS, ids=doc_ids(USER_DOCS))
def test_docs_name_only_real_settings(path: Path, settings_class: type[BaseModel]) -> None:
    for name, reader in SWITCHES.items():
        assert name in reader.read_text(), (
            f"{name} is documented as read by {reader}, which does not read it"
        )
    unknown = {
        name
        for name in SETTING_NAME.findall(doc_text(path))
        if name not in SWITCHES and not setting_exists(name, settings_class)
    }
    assert sorted(unknown) == []


@pytest.mark.parametrize("path", USER_DOCS, ids=doc_ids(USER_DOCS))
def test_docs_name_only_real_commands(path: Path) -> None:
    context = click.Context(cli)
    wrong = []
    for name, sub in COMMAND.findall(doc_text(path)):
        command = cli.get_command(context, name)
        if command is None:
            wrong.append(name)
        elif isinstance(command, click.Group) and command.get_command(context, sub) is None:
            wrong.append(f"{name} {sub}")
    assert wrong == []


@pytest.mark.parametrize("path", USER_DOCS, ids=doc_ids(USER_DOCS))
def test_docs_call_only_real_routes(path: Path, routes: list[tuple[set[str], list[str]]]) -> None:
    text = doc_text(path)
    calls = [(m, p) for m, p in ROUTE_IN_PROSE.findall(text)]
    for line in text.splitlines():
        if "curl" in line and (found := CURL_PATH.search(line)):
            method = CURL_METHOD.search(line)
            calls.append((method.group(1) if method else "GET", found.group(1)))
    calls = [(m, p) for m, p in calls if "…" not in p and "<" not in p]
    assert sorted({f"{m} {p}" for m, p in calls if not route_exists(routes, m, p)}) == []


@pytest.mark.parametrize("path", USER_DOCS, ids=doc_ids(USER_DOCS))
def test_docs_link_to_files_that_exist(path: Path) -> None:
    targets = [
        t.split("#")[0]
        for t in LINK.findall(path.read_text())
        if "://" not in t and not t.startswith("#")
    ]
    assert [t for t in targets if not (path.parent / t).exists()] == []


def test_the_commands_documented_cover_the_ones_an_operator_needs() -> None:
    text = doc_text(REPO / "docs" / "guides" / "county-it.md")
    documented = {" ".join(filter(None, found)) for found in COMMAND.findall(text)}
    assert {"migrate", "serve", "config show", "areas import", "plugins list"} <= documented
