"""What every standard's conformance tests share: its schemas, examples, generator and endpoint table."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tests.standards.schema_check import errors

STANDARDS = Path(__file__).parents[2] / "standards"
#: A row of a spec's endpoint table: method, path (query left out) and the rest of the row.
TABLE_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`?]+)[^`]*` \|(.*)$", re.MULTILINE)
PARAMETER = re.compile(r"\{[^}]+\}")


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

    def generator(self) -> ModuleType:
        """The standard's ``generate_schemas.py``, loaded as a module of its own."""
        spec = importlib.util.spec_from_file_location(f"generate_{self.name}_schemas", self.root / "generate_schemas.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
