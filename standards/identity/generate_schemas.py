"""Write one JSON Schema per identity wire shape into ``schemas/``, from the msgspec Structs.

The schemas are generated, never edited by hand, so they cannot drift from the code:
``tests/standards/test_identity_conformance.py`` fails when this script's output and the
committed files differ. Run it after changing a wire shape::

    .venv/bin/python standards/identity/generate_schemas.py

``problem.schema.json`` (the RFC 9457 error body) is hand-written and not touched here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec
from tulou.areas.schemas import AreaNode, AreaOut
from tulou.areas.schemas import Page as AreaPageShape
from tulou.identity import account_schemas as accounts
from tulou.identity import client_schemas as clients
from tulou.identity import schemas as identity
from tulou.identity.membership_routes import MembershipIn, MembershipOut
from tulou.wire_schemas import documents, file_stem, page_of, render, write  # noqa: F401 - render: the conformance test renders with it

SCHEMAS = Path(__file__).parent / "schemas"

SHAPES: tuple[type[msgspec.Struct], ...] = (
    AreaOut, AreaNode,
    identity.OrganisationIn, identity.OrganisationOut,
    identity.PersonIn, identity.PersonPatch, identity.LookupIn, identity.PersonOut, identity.PersonTagOut,
    identity.HouseholdIn, identity.MemberIn, identity.HeadIn, identity.HouseholdOut,
    accounts.LoginIn, accounts.RefreshIn, accounts.TokenOut, accounts.PasswordChangeIn,
    accounts.AccountIn, accounts.AccountOut, accounts.BindingIn, accounts.BindingOut, accounts.MeOut,
    accounts.PasswordResetIn, accounts.PasswordResetOut, accounts.RoleIn, accounts.RolePatch, accounts.RoleOut,
    clients.ClientIn, clients.ClientPatch, clients.ClientOut, clients.ClientSecretOut, clients.ClientTokenOut,
    MembershipIn, MembershipOut,
)


def area_detail() -> dict[str, Any]:
    """``GET /api/v1/areas/{code}``: an ``AreaOut`` plus its ``ancestors`` and ``children``."""
    schema = msgspec.json.schema(AreaOut)
    shape = schema["$defs"]["AreaOut"]
    related = {"type": "array", "items": {"$ref": "#/$defs/AreaOut"}}
    schema["$defs"]["AreaDetail"] = {
        "title": "AreaDetail",
        "description": "One area with the chain of its ancestors (root first) and its direct children.",
        "type": "object",
        "properties": {**shape["properties"], "ancestors": related, "children": related},
        "required": [*shape["required"], "ancestors", "children"],
    }
    schema["$ref"] = "#/$defs/AreaDetail"
    return schema


def generated() -> dict[str, dict[str, Any]]:
    """File name to schema, for every generated file."""
    raw: dict[str, dict[str, Any]] = {file_stem(shape.__name__): msgspec.json.schema(shape) for shape in SHAPES}
    pages = {
        "AreaPage": (AreaPageShape, AreaOut),
        "PersonPage": (identity.Page, identity.PersonOut),
        "OrganisationPage": (identity.Page, identity.OrganisationOut),
        "HouseholdPage": (identity.Page, identity.HouseholdOut),
        "AccountPage": (identity.Page, accounts.AccountOut),
        "BindingPage": (identity.Page, accounts.BindingOut),
        "ClientPage": (identity.Page, clients.ClientOut),
    }
    for name, (page, item) in pages.items():
        raw[file_stem(name)] = msgspec.json.schema(page_of(name, page, item))
    raw["area-tree"] = msgspec.json.schema(list[AreaNode])
    raw["role-list"] = msgspec.json.schema(list[accounts.RoleOut])
    raw["person-tag-list"] = msgspec.json.schema(list[identity.PersonTagOut])
    raw["membership-list"] = msgspec.json.schema(list[MembershipOut])
    raw["area-detail"] = area_detail()
    return documents("identity", raw)


if __name__ == "__main__":
    sys.exit(write(SCHEMAS, generated()))
