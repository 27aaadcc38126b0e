"""What every standard's conformance tests share: its schemas, examples, generator and endpoint table."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.standards.schema_check import errors

STANDARDS = Path(__file__).parents[2] / "standards"
#: A row of a spec's endpoint table: method, path (query left out) and the rest of the row.
TABLE_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`?]+)[^`]*` \|(.*)$", re.MULTILINE)
PARAMETER = re.compile(r"\{[^}]+\}")
SCHEMA_NAME = re.compile(r"`([a-z][a-z-]*)`")


def endpoint(method: str, path: str) -> tuple[str, str]:
    """``GET /api/v1/people/{person_id:int}`` and ``GET /api/v1/people/{id}`` as one key."""
    return method, PARAMETER.sub("{}", path).rstrip("/")


class Standard:
    """One directory of ``standards/``: ``schemas/``, ``examples/`` and ``generate_schemas.py``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = STANDARDS / name
        self.schemas = self.root / "schemas"
        self.examples = self.root / "examples"

    def schema(self, name: str) -> dict[str, Any]:
        return json.loads((self.schemas / f"{name}.schema.json").read_text(encoding="utf-8"))

    def example(self, file_name: str) -> dict[str, Any]:
        return json.loads((self.examples / file_name).read_text(encoding="utf-8"))

    def conforms(self, response: httpx.Response, name: str, status: int) -> Any:
        """The response's body, after checking its status and that it validates against schema ``name``."""
        assert response.status_code == status, response.text
        body = response.json()
        assert errors(body, self.schema(name)) == []
        return body

    def problem(self, response: httpx.Response, status: int) -> dict[str, Any]:
        """The problem body of an error response, checked against ``problem.schema.json``."""
        assert response.headers["content-type"].startswith("application/problem+json")
        body = self.conforms(response, "problem", status)
        assert body["status"] == status and body["instance"].rstrip("/") == response.request.url.path.rstrip("/")
        return body

    def check_endpoint_table(self, app: Litestar, spec: str, serves: Callable[[str], bool]) -> None:
        """The spec's endpoint table lists every route whose path ``serves`` picks and only those, with the
        status each answers on success, and names in its request and response columns only schemas that exist."""
        served = {
            endpoint(method, route.path): handler.status_code
            for route in app.routes if isinstance(route, HTTPRoute) and serves(route.path)
            for handler in route.route_handlers
            for method in handler.http_methods if method not in {"HEAD", "OPTIONS"}
        }
        rows = TABLE_ROW.findall((self.root / spec).read_text(encoding="utf-8"))
        listed = {(endpoint(method, path), int(rest.split("|")[-2])) for method, path, rest in rows}  # a row per form
        assert {key for key, _status in listed} - set(served) == set(), "listed but not served"
        assert set(served) - {key for key, _status in listed} == set(), "served but not listed"
        assert {(key, status) for key, status in listed if served[key] != status} == set(), "wrong success status"
        shapes = " ".join(" ".join(rest.split("|")[1:3]) for _method, _path, rest in rows)  # request, response
        named = set(SCHEMA_NAME.findall(shapes))
        assert named and all((self.schemas / f"{name}.schema.json").exists() for name in named), named

    def check_every_schema_is_named(self, spec: str) -> None:
        """Every schema of ``schemas/`` is named (as `` `name` ``) somewhere in the spec's text."""
        text = (self.root / spec).read_text(encoding="utf-8")
        named = set(SCHEMA_NAME.findall(text))
        files = {path.name.removesuffix(".schema.json") for path in self.schemas.glob("*.schema.json")}
        assert files - named == set(), "schemas the spec never names"

    def generator(self) -> ModuleType:
        """The standard's ``generate_schemas.py``, loaded as a module of its own."""
        spec = importlib.util.spec_from_file_location(f"generate_{self.name}_schemas", self.root / "generate_schemas.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
