"""Staff accounts, their role bindings and the roles: the console's face of ``/api/v1/accounts``,
``/api/v1/role-bindings`` and ``/api/v1/roles``.

Each route takes the guard of its API route and calls the same service, so the same
rules hold: accounts managed in the caller's subtrees only, no role granted that the
caller could not hold, every change audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from tulou.console.forms import Form, refusal
from tulou.console.guards import session_holding, session_may
from tulou.console.layout import CONSOLE, page, see_other
from tulou.console.paging import Paging, filters, page_number
from tulou.console.actors import actor_names
from tulou.console.pickers import GRANT, area_options, areas_holding, grantable_roles, may_grant, places
from tulou.errors import NotFound, Problem
from tulou.i18n import gettext
from tulou.i18n import gettext as _
from tulou.identity import account_admin, accounts
from tulou.identity.accounts_models import Account, AccountStatus, RoleBinding
from tulou.identity.custom_roles import list_roles
from tulou.identity.routes import caller
from tulou.security.guards import requires, signed_in

READ, WRITE = "account:read", "account:write"
ACCOUNTS = f"{CONSOLE}/accounts"


@dataclass
class AccountForm:
    username: str = ""
    password: str = ""
    area: str = ""


@dataclass
class BindingForm:
    role: str = ""
    area: str = ""


def status_labels() -> dict[str, str]:
    return {AccountStatus.ACTIVE.value: _("Active"), AccountStatus.LOCKED.value: _("Locked"),
            AccountStatus.DISABLED.value: _("Disabled")}


def done_notice(done: str | None) -> str | None:
    return {
        "created": _("The account has been created. Grant it a role so that it can do something."),
        "disabled": _("The account is disabled: it cannot sign in, and its sessions have ended."),
        "enabled": _("The account is enabled again."),
        "bound": _("The role has been granted."),
        "unbound": _("The role has been removed; the account's sessions have ended."),
    }.get(done or "")


class AccountsController(Controller):
    path = ACCOUNTS
    include_in_schema = False

    @get("/", guards=[requires(READ)])
    async def accounts_page(self, request: Request, username: FromQuery[str | None] = None,
                            status: FromQuery[str | None] = None, page: FromQuery[int | None] = None) -> Any:
        return await self._list(request, username, status, page_number(page))

    @post("/", guards=[requires(WRITE)])
    async def create(self, request: Request, data: Annotated[AccountForm, Form]) -> Any:
        errors = {}
        if not data.area:
            errors["area"] = _("Choose the account's home area")
        else:
            try:
                account = await accounts.create_account(await caller(request), data.username, data.password, data.area)
            except Problem as refused:
                errors = refusal(refused, errors)
            else:
                return see_other(f"{ACCOUNTS}/{account.id}?done=created")
        return await self._list(request, None, None, 1, form=data, errors=errors, status_code=422)

    async def _list(self, request: Request, username: str | None, status: str | None, number: int, *,
                    form: AccountForm | None = None, errors: dict[str, str] | None = None,
                    status_code: int = 200) -> Any:
        wanted = AccountStatus(status) if status in status_labels() else None
        window = Paging(number, 0, filters(username=username, status=wanted.value if wanted else None))
        found, total = await account_admin.list_accounts(
            session_holding(request, READ), username, wanted, limit=window.size, offset=window.offset)
        may_create = session_may(request, WRITE)
        homes = area_options(await areas_holding(session_holding(request, WRITE), WRITE)) if may_create else []
        return await page(
            request, "accounts.html", status=status_code, accounts=found, username=username or "",
            status_filter=wanted.value if wanted else "", statuses=status_labels(),
            paging=Paging(number, total, window.query), homes=homes,
            places=await places(account.home_area_id for account in found),
            form=form or AccountForm(), errors=errors or {},
        )

    @get("/{account_id:int}", guards=[requires(READ)])
    async def account_page(self, request: Request, account_id: FromPath[int],
                           done: FromQuery[str | None] = None) -> Any:
        return await self._account(request, account_id, notice=done_notice(done))

    @post("/{account_id:int}/disable", guards=[requires(WRITE)])
    async def disable(self, request: Request, account_id: FromPath[int]) -> Any:
        return await self._change(request, account_id, account_admin.disable_account, "disabled")

    @post("/{account_id:int}/enable", guards=[requires(WRITE)])
    async def enable(self, request: Request, account_id: FromPath[int]) -> Any:
        return await self._change(request, account_id, account_admin.enable_account, "enabled")

    async def _change(self, request: Request, account_id: int, change: Any, done: str) -> Any:
        try:
            await change(await caller(request), account_id)
        except Problem as refused:
            return await self._account(request, account_id, errors={"form": refused.detail}, status_code=refused.status)
        return see_other(f"{ACCOUNTS}/{account_id}?done={done}")

    @post("/{account_id:int}/bindings", guards=[requires(GRANT)])
    async def bind(self, request: Request, account_id: FromPath[int], data: Annotated[BindingForm, Form]) -> Any:
        principal = await caller(request)
        await account_admin.get_account(principal, account_id)  # 404 outside the caller's areas, before anything
        errors = {}
        if not data.role:
            errors["role"] = _("Choose a role")
        if not data.area:
            errors["area"] = _("Choose the area where the role holds")
        if not errors:
            try:
                await accounts.bind_role(principal, account_id, data.role, data.area)
            except Problem as refused:
                errors = refusal(refused, errors)
            else:
                return see_other(f"{ACCOUNTS}/{account_id}?done=bound")
        return await self._account(request, account_id, form=data, errors=errors, status_code=422)

    @post("/{account_id:int}/bindings/{binding_id:int}/remove", guards=[requires(GRANT)])
    async def unbind(self, request: Request, account_id: FromPath[int], binding_id: FromPath[int]) -> Any:
        principal = await caller(request)
        await account_admin.get_account(principal, account_id)
        if not await RoleBinding.exists(id=binding_id, account_id=account_id):
            raise NotFound(_("Role binding not found"), field="binding_id")
        try:
            await accounts.unbind_role(principal, binding_id)
        except Problem as refused:
            return await self._account(request, account_id, errors={"form": refused.detail}, status_code=refused.status)
        return see_other(f"{ACCOUNTS}/{account_id}?done=unbound")

    async def _account(self, request: Request, account_id: int, *, notice: str | None = None,
                       form: BindingForm | None = None, errors: dict[str, str] | None = None,
                       status_code: int = 200) -> Any:
        reader = session_holding(request, READ)
        account: Account = await account_admin.get_account(reader, account_id)
        bindings, _total = await accounts.list_bindings(reader, account=account.id, limit=200)
        granter = session_holding(request, GRANT)
        may_bind = session_may(request, GRANT)
        return await page(
            request, "account.html", status=status_code, account=account, statuses=status_labels(), notice=notice,
            bindings=bindings, granters=await actor_names({binding.created_by for binding in bindings}),
            places=await places([account.home_area_id, *(binding.area_id for binding in bindings)]),
            removable={b.id for b in bindings if may_bind and may_grant(granter, b.role, b.area_id)},
            may_write=session_may(request, WRITE, account.home_area_id),
            roles=[(role.name, gettext(role.title)) for role in await grantable_roles(granter)] if may_bind else [],
            areas=area_options(await areas_holding(granter, GRANT)) if may_bind else [],
            form=form or BindingForm(), errors=errors or {},
        )


class RolesController(Controller):
    """Every signed-in caller may read the roles, as ``GET /api/v1/roles`` allows."""

    path = f"{CONSOLE}/roles"
    include_in_schema = False

    @get("/", guards=[signed_in])
    async def roles_page(self, request: Request) -> Any:
        return await page(request, "roles.html", roles=await list_roles())
