"""``/api/v1/roles``: every signed-in caller may read the roles; ``role:manage`` makes and changes custom ones."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from tulou.i18n import gettext
from tulou.identity import custom_roles
from tulou.identity.account_schemas import RoleIn, RoleOut, RolePatch
from tulou.identity.accounts_models import Role
from tulou.identity.roles import known_permissions
from tulou.identity.routes import caller
from tulou.security.guards import requires, signed_in


def role_out(role: Role) -> RoleOut:
    return RoleOut(name=role.name, title=gettext(role.title), permissions=sorted(role.permissions), builtin=role.builtin)


def known(request: Request) -> frozenset[str]:
    return known_permissions(request.app.state.platform.registry)


class RoleController(Controller):
    path = "/api/v1/roles"
    tags = ["accounts"]

    @get("/", guards=[signed_in], summary="Every role, built-in and custom, with its permissions")
    async def list_roles(self) -> list[RoleOut]:
        return [role_out(role) for role in await custom_roles.list_roles()]

    @get("/{name:str}", guards=[signed_in], summary="One role")
    async def read(self, name: FromPath[str]) -> RoleOut:
        return role_out(await custom_roles.get_role(name))

    @post("/", guards=[requires("role:manage")], summary="Create a custom role")
    async def create(self, request: Request, data: JSONBody[RoleIn]) -> RoleOut:
        return role_out(await custom_roles.create_role(await caller(request), data, known(request)))

    @patch("/{name:str}", guards=[requires("role:manage")], summary="Change a custom role's title or permissions")
    async def update(self, request: Request, name: FromPath[str], data: JSONBody[RolePatch]) -> RoleOut:
        return role_out(await custom_roles.update_role(await caller(request), name, data, known(request)))

    @delete("/{name:str}", guards=[requires("role:manage")], summary="Delete a custom role nobody holds")
    async def remove(self, request: Request, name: FromPath[str]) -> None:
        await custom_roles.delete_role(await caller(request), name)
