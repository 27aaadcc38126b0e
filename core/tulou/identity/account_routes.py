"""``/api/v1/auth``, ``/api/v1/me``, ``/api/v1/accounts`` and ``/api/v1/role-bindings``.

Signing in is the only route open to anybody; the services check areas and escalation.
"""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from tulou.i18n import gettext
from tulou.identity import accounts, auth
from tulou.identity.account_schemas import (
    AccountIn, AccountOut, BindingIn, BindingOut, GrantOut, LoginIn, MeOut, PasswordChangeIn, RefreshIn, TokenOut,
)
from tulou.identity.accounts_models import Account, RoleBinding
from tulou.identity.routes import caller
from tulou.security.guards import PUBLIC, requires, signed_in



def token_out(tokens: auth.IssuedTokens) -> TokenOut:
    return TokenOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


def account_out(account: Account) -> AccountOut:
    return AccountOut(id=account.id, username=account.username, status=account.status.value, person=account.person_id)


def binding_out(binding: RoleBinding) -> BindingOut:
    return BindingOut(
        id=binding.id, account=binding.account_id, role=binding.role.name, role_title=gettext(binding.role.title),
        area=binding.area_id, created_by=binding.created_by,
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/token", status_code=200, opt=PUBLIC, summary="Sign in with a username and password")
    async def token(self, data: JSONBody[LoginIn]) -> TokenOut:
        return token_out(await auth.login(data.username, data.password))

    @post("/refresh", status_code=200, opt=PUBLIC, summary="Swap a refresh token for a new pair")
    async def refresh(self, data: JSONBody[RefreshIn]) -> TokenOut:
        return token_out(await auth.refresh(data.refresh_token))

    @post("/logout", status_code=204, guards=[signed_in], summary="Revoke every token of the caller's account")
    async def logout(self, request: Request) -> None:
        await auth.logout(await caller(request))


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["auth"]

    @get("/", guards=[signed_in], summary="The caller: account, role bindings and permissions per area")
    async def me(self, request: Request) -> MeOut:
        principal = await caller(request)
        account_id = auth.account_id_of(principal)
        account = await Account.get_or_none(id=account_id) if account_id is not None else None
        bindings = await accounts.bindings_of(account.id) if account else []
        if principal.grants is None:
            grants = [GrantOut(area=None, permissions=sorted(principal.permissions))]
        else:
            grants = [GrantOut(area=root, permissions=sorted(held)) for root, held in principal.grants]
        return MeOut(
            principal=principal.id, display_name=principal.display_name,
            account=account_out(account) if account else None,
            bindings=[binding_out(b) for b in bindings], grants=grants,
        )

    @post("/password", status_code=204, guards=[signed_in], summary="Change the caller's password")
    async def change_password(self, request: Request, data: JSONBody[PasswordChangeIn]) -> None:
        await accounts.change_password(await caller(request), data.current_password, data.new_password)


class AccountController(Controller):
    path = "/api/v1/accounts"
    tags = ["accounts"]

    @post("/", guards=[requires("account:write")], summary="Create a staff account")
    async def create(self, request: Request, data: JSONBody[AccountIn]) -> AccountOut:
        return account_out(await accounts.create_account(await caller(request), data.username, data.password, data.area))


class RoleBindingController(Controller):
    path = "/api/v1/role-bindings"
    tags = ["accounts"]

    @post("/", guards=[requires("role:grant")], summary="Grant a role to an account in an area's subtree")
    async def create(self, request: Request, data: JSONBody[BindingIn]) -> BindingOut:
        binding = await accounts.bind_role(await caller(request), data.account, data.role, data.area)
        await binding.fetch_related("role")
        return binding_out(binding)

    @delete("/{binding_id:int}", guards=[requires("role:grant")], summary="Remove a role binding")
    async def remove(self, request: Request, binding_id: FromPath[int]) -> None:
        await accounts.unbind_role(await caller(request), binding_id)
