"""System clients in the caller's areas: the console's face of ``/api/v1/clients``.

A new client's secret, and a rotated one, is shown once, in the answer to the form
that made it: never in an address (it would stay in the history and the server's
logs), never stored, never retrievable later. The page is marked not to be cached.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from tulou.console.forms import refusal
from tulou.console.guards import session_holding, session_may
from tulou.console.layout import CONSOLE, page, see_other
from tulou.console.paging import Paging, page_number
from tulou.console.pickers import area_options, areas_holding, places
from tulou.errors import Problem
from tulou.i18n import gettext as _
from tulou.identity import clients, organisations
from tulou.identity.accounts_models import Client
from tulou.identity.roles import known_permissions
from tulou.identity.routes import caller
from tulou.security.guards import requires

READ, WRITE = clients.READ, clients.WRITE
CLIENTS = f"{CONSOLE}/clients"
NOT_KEPT = {"Cache-Control": "no-store"}


def known_scopes(request: Request) -> frozenset[str]:
    return known_permissions(request.app.state.platform.registry)


def done_notice(done: str | None) -> str | None:
    return {
        "disabled": _("The client is disabled: it cannot sign in, and its tokens have stopped working."),
        "enabled": _("The client is enabled again."),
    }.get(done or "")


def new_client_errors(form: dict[str, Any]) -> dict[str, str]:
    """What the form lacks before the service is asked."""
    errors = {}
    if not str(form.get("organisation", "")).isdigit():
        errors["organisation"] = _("Choose the organisation the client acts for")
    if not form.get("area"):
        errors["area"] = _("Choose the area where the client acts")
    return errors


class ClientsController(Controller):
    path = CLIENTS
    include_in_schema = False

    @get("/", guards=[requires(READ)])
    async def clients_page(self, request: Request, page: FromQuery[int | None] = None,
                           done: FromQuery[str | None] = None) -> Any:
        return await self._list(request, page_number(page), notice=done_notice(done))

    @post("/", guards=[requires(WRITE)])
    async def create(self, request: Request) -> Any:
        form = await request.form()
        fields = {"name": form.get("name", ""), "organisation": form.get("organisation", ""),
                  "area": form.get("area", ""), "scopes": form.getall("scopes") if "scopes" in form else []}
        errors = new_client_errors(fields)
        if not errors:
            try:
                client, secret = await clients.create_client(
                    await caller(request), str(fields["name"]), int(fields["organisation"]), str(fields["area"]),
                    [str(scope) for scope in fields["scopes"]], known_scopes(request))
            except Problem as refused:
                errors = refusal(refused, errors)
            else:
                return await self._secret(request, client, secret, created=True)
        return await self._list(request, 1, form=fields, errors=errors, status_code=422)

    async def _list(self, request: Request, number: int, *, notice: str | None = None,
                    form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                    status_code: int = 200) -> Any:
        window = Paging(number, 0)
        found, total = await clients.list_clients(session_holding(request, READ), limit=window.size,
                                                  offset=window.offset)
        context: dict[str, Any] = {"areas": [], "organisations": [], "scopes": []}
        if session_may(request, WRITE):
            writer = session_holding(request, WRITE)
            owners, _total = await organisations.list_organisations(writer, limit=200)
            context = {
                "areas": area_options(await areas_holding(writer, WRITE)),
                "organisations": [(str(owner.id), owner.name) for owner in owners],
                "scopes": sorted(name for name in known_scopes(request) if writer.has_permission(name)),
            }
        return await page(
            request, "clients.html", status=status_code, clients=found, places=await places(c.area_id for c in found),
            paging=Paging(number, total), notice=notice,
            form=form or {"name": "", "organisation": "", "area": "", "scopes": []}, errors=errors or {}, **context,
        )

    @get("/{client_id:int}", guards=[requires(READ)])
    async def client_page(self, request: Request, client_id: FromPath[int], done: FromQuery[str | None] = None) -> Any:
        return await self._client(request, client_id, notice=done_notice(done))

    async def _client(self, request: Request, client_id: int, *, notice: str | None = None,
                      error: str | None = None, status_code: int = 200) -> Any:
        client = await clients.get_client(session_holding(request, READ), client_id)
        owner = await client.organisation
        return await page(request, "client.html", status=status_code, client=client, owner=owner, notice=notice,
                          places=await places([client.area_id]),
                          error=error, may_write=session_may(request, WRITE, client.area_id))

    @post("/{client_id:int}/rotate-secret", guards=[requires(WRITE)])
    async def rotate_secret(self, request: Request, client_id: FromPath[int]) -> Any:
        try:
            client, secret = await clients.rotate_secret(await caller(request), client_id)
        except Problem as refused:
            return await self._client(request, client_id, error=refused.detail, status_code=refused.status)
        return await self._secret(request, client, secret, created=False)

    @post("/{client_id:int}/disable", guards=[requires(WRITE)])
    async def disable(self, request: Request, client_id: FromPath[int]) -> Any:
        return await self._switch(request, client_id, clients.disable_client, "disabled")

    @post("/{client_id:int}/enable", guards=[requires(WRITE)])
    async def enable(self, request: Request, client_id: FromPath[int]) -> Any:
        return await self._switch(request, client_id, clients.enable_client, "enabled")

    async def _switch(self, request: Request, client_id: int, switch: Any, done: str) -> Any:
        try:
            await switch(await caller(request), client_id)
        except Problem as refused:
            return await self._client(request, client_id, error=refused.detail, status_code=refused.status)
        return see_other(f"{CLIENTS}/{client_id}?done={done}")

    async def _secret(self, request: Request, client: Client, secret: str, *, created: bool) -> Any:
        """The one page that ever shows the secret: the answer to the form, not to be cached or reloaded."""
        return await page(request, "client_secret.html", headers=NOT_KEPT, client=client, secret=secret,
                          created=created)
