"""``/api/v1/auth``, ``/api/v1/me``, ``/api/v1/accounts`` and ``/api/v1/role-bindings``.

Signing in is the only route open to anybody; the services check areas and escalation.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, delete, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.i18n import gettext
from tulou.identity import account_admin, accounts, auth
from tulou.identity.account_schemas import (
    AccountIn, AccountOut, BindingIn, BindingOut, GrantOut, LoginIn, MeOut, PasswordChangeIn, PasswordResetIn,
    PasswordResetOut, RefreshIn, TokenOut,
)
from tulou.identity.accounts_models import Account, AccountStatus, RoleBinding
from tulou.identity.routes import caller
from tulou.identity.schemas import Page
from tulou.identity.scope import clamp
from tulou.security.guards import PUBLIC, requires, signed_in

Limit = Annotated[int, QueryParameter(ge=1)]
Offset = Annotated[int, QueryParameter(ge=0)]
AreaFilter = Annotated[str | None, QueryParameter(description="only this area's subtree")]

def token_policy(request: Request) -> auth.TokenPolicy:
    return auth.TokenPolicy.from_settings(request.app.state.platform.settings)


def token_out(tokens: auth.IssuedTokens) -> TokenOut:
    return TokenOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id, username=account.username, status=account.status.value, person=account.person_id,
        home_area=account.home_area_id, locked_until=account.locked_until, created_at=account.created_at,
    )


def binding_out(binding: RoleBinding) -> BindingOut:
    return BindingOut(
        id=binding.id, account=binding.account_id, role=binding.role.name, role_title=gettext(binding.role.title),
        area=binding.area_id, created_by=binding.created_by,
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/token", status_code=200, opt=PUBLIC, summary="Sign in with a username and password")
    async def token(self, request: Request, data: JSONBody[LoginIn]) -> TokenOut:
        return token_out(await auth.login(data.username, data.password, token_policy(request)))

    @post("/refresh", status_code=200, opt=PUBLIC, summary="Swap a refresh token for a new pair")
    async def refresh(self, request: Request, data: JSONBody[RefreshIn]) -> TokenOut:
        return token_out(await auth.refresh(data.refresh_token, token_policy(request)))

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

    @get("/", guards=[requires("account:read")], summary="Accounts managed in the caller's areas")
    async def list_accounts(
        self,
        request: Request,
        username: Annotated[str | None, QueryParameter(description="part of the username", max_length=64)] = None,
        status: Annotated[AccountStatus | None, QueryParameter()] = None,
        area: AreaFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page:
        limit = clamp(limit)
        found, total = await account_admin.list_accounts(await caller(request), username, status, area, limit, offset)
        return Page(items=[account_out(a) for a in found], total=total, limit=limit, offset=offset)

    @get("/{account_id:int}", guards=[requires("account:read")], summary="One account")
    async def read(self, request: Request, account_id: FromPath[int]) -> AccountOut:
        return account_out(await account_admin.get_account(await caller(request), account_id))

    @post("/{account_id:int}/disable", status_code=200, guards=[requires("account:write")],
          summary="Stop an account signing in and revoke its tokens")
    async def disable(self, request: Request, account_id: FromPath[int]) -> AccountOut:
        return account_out(await account_admin.disable_account(await caller(request), account_id))

    @post("/{account_id:int}/enable", status_code=200, guards=[requires("account:write")],
          summary="Let a disabled account sign in again")
    async def enable(self, request: Request, account_id: FromPath[int]) -> AccountOut:
        return account_out(await account_admin.enable_account(await caller(request), account_id))

    @post("/{account_id:int}/unlock", status_code=200, guards=[requires("account:write")],
          summary="Clear failed sign-ins and the lockout")
    async def unlock(self, request: Request, account_id: FromPath[int]) -> AccountOut:
        return account_out(await account_admin.unlock_account(await caller(request), account_id))

    @post("/{account_id:int}/password", status_code=200, guards=[requires("account:write")],
          cache_control=CacheControlHeader(no_store=True),
          summary="Set or generate a new password for an account and revoke its tokens")
    async def reset_password(
        self, request: Request, account_id: FromPath[int], data: JSONBody[PasswordResetIn]
    ) -> PasswordResetOut:
        account, generated = await account_admin.reset_password(
            await caller(request), account_id, data.password, data.generate
        )
        return PasswordResetOut(account=account_out(account), generated_password=generated)


class RoleBindingController(Controller):
    path = "/api/v1/role-bindings"
    tags = ["accounts"]

    @get("/", guards=[requires("account:read")], summary="Role bindings in the caller's areas")
    async def list_bindings(
        self,
        request: Request,
        account: Annotated[int | None, QueryParameter(description="only this account's")] = None,
        area: AreaFilter = None,
        role: Annotated[str | None, QueryParameter(description="only this role's", max_length=64)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page:
        limit = clamp(limit)
        found, total = await accounts.list_bindings(await caller(request), account, area, role, limit, offset)
        return Page(items=[binding_out(b) for b in found], total=total, limit=limit, offset=offset)

    @post("/", guards=[requires("role:grant")], summary="Grant a role to an account in an area's subtree")
    async def create(self, request: Request, data: JSONBody[BindingIn]) -> BindingOut:
        binding = await accounts.bind_role(await caller(request), data.account, data.role, data.area)
        await binding.fetch_related("role")
        return binding_out(binding)

    @delete("/{binding_id:int}", guards=[requires("role:grant")], summary="Remove a role binding")
    async def remove(self, request: Request, binding_id: FromPath[int]) -> None:
        await accounts.unbind_role(await caller(request), binding_id)
