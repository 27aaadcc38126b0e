"""The hook reference keeps up with the hook specifications, and its examples parse.

Every hook in :mod:`tulou.plugins.spec` needs a ``## hook_name(arg1, arg2)`` section in
``docs/plugins/hooks.md`` with the spec's arguments in order, and no section may
describe a hook that does not exist.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from pathlib import Path

import pytest

from tulou.plugins import spec

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins"
HOOKS_DOC = DOCS / "hooks.md"
HOOK_HEADING = re.compile(r"^## (\w+)\((.*)\)\s*$", re.MULTILINE)
CODE_BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
# Besides the standard library, what a hook example may import: the libraries plugins build on.
PLUGIN_LIBRARIES = {"litestar", "tortoise", "pydantic"}


def documented_hooks(text: str) -> dict[str, list[str]]:
    """Hook name to the argument names its heading shows."""
    hooks: dict[str, list[str]] = {}
    for name, arguments in HOOK_HEADING.findall(text):
        assert name not in hooks, f"{name} is documented twice"
        hooks[name] = [argument.strip() for argument in arguments.split(",") if argument.strip()]
    return hooks


def hook_sections(text: str) -> dict[str, str]:
    """Hook name to the text of its section, up to the next level-2 heading."""
    headings = list(HOOK_HEADING.finditer(text))
    sections = {}
    for heading in headings:
        following = re.compile(r"^## ", re.MULTILINE).search(text, heading.end())
        sections[heading.group(1)] = text[
            heading.end() : following.start() if following else len(text)
        ]
    return sections


def spec_arguments(hook: str) -> list[str]:
    return list(inspect.signature(getattr(spec, hook)).parameters)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """Each fenced ``python`` block with the line its code starts on."""
    text = path.read_text()
    return [
        (text.count("\n", 0, match.start(1)) + 1, match.group(1))
        for match in CODE_BLOCK.finditer(text)
    ]


@pytest.fixture(scope="module")
def hooks_doc() -> dict[str, list[str]]:
    return documented_hooks(HOOKS_DOC.read_text())


def test_the_spec_has_hooks() -> None:
    """Guards the tests below against an empty ``HOOK_NAMES`` passing them vacuously."""
    assert "register_routes" in spec.HOOK_NAMES
    assert len(spec.HOOK_NAMES) >= 10


@pytest.mark.parametrize("hook", spec.HOOK_NAMES)
def test_hook_is_documented_with_its_arguments(hook: str, hooks_doc: dict[str, list[str]]) -> None:
    assert hook in hooks_doc, f"docs/plugins/hooks.md has no '## {hook}(...)' section"
    expected = spec_arguments(hook)
    assert hooks_doc[hook] == expected, (
        f"docs/plugins/hooks.md documents {hook}({', '.join(hooks_doc[hook])}) "
        f"but the spec is {hook}({', '.join(expected)})"
    )


def test_no_section_documents_a_hook_that_does_not_exist(hooks_doc: dict[str, list[str]]) -> None:
    assert set(hooks_doc) - set(spec.HOOK_NAMES) == set()


def test_argument_check_catches_drift() -> None:
    """The heading parser sees a changed argument list, so the checks above can fail."""
    drifted = documented_hooks("## module_enabled(area)\n\n## app_started(app, loop)\n")
    assert drifted == {"module_enabled": ["area"], "app_started": ["app", "loop"]}
    assert drifted["module_enabled"] != spec_arguments("module_enabled")
    assert documented_hooks("## plugin_manifest()\n") == {"plugin_manifest": []}


EXAMPLES = [
    pytest.param(path, line, code, id=f"{path.name}:{line}")
    for path in (HOOKS_DOC, DOCS / "tutorial.md")
    for line, code in python_blocks(path)
]


def test_every_hook_section_has_an_example() -> None:
    sections = hook_sections(HOOKS_DOC.read_text())
    assert set(sections) == set(spec.HOOK_NAMES)
    assert [hook for hook, body in sections.items() if "```python" not in body] == []


@pytest.mark.parametrize(("path", "line", "code"), EXAMPLES)
def test_example_parses(path: Path, line: int, code: str) -> None:
    compile(code, f"{path}:{line}", "exec")


@pytest.mark.parametrize(
    ("path", "line", "code"), [example for example in EXAMPLES if example.values[0] == HOOKS_DOC]
)
def test_hook_examples_import_only_the_public_api(path: Path, line: int, code: str) -> None:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            allowed = (
                module == "tulou.api" or top in PLUGIN_LIBRARIES or top in sys.stdlib_module_names
            )
            assert allowed, f"{path.name}:{line} imports {module}; examples import only tulou.api"
