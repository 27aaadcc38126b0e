"""``/api/v1/clients`` (registering system clients) and ``/api/v1/oauth/token`` (their sign-in).

The token route reads its form body itself, so that every malformed request gets an
OAuth ``error`` code as RFC 6749 wants, rather than Litestar's validation problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Request, Response, get, patch, post
from litestar.openapi.spec.enums import OpenAPIType
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.identity import clients, oauth
from tulou.identity.auth import TokenPolicy
from tulou.identity.client_schemas import (
    ClientIn, ClientOut, ClientPatch, ClientSecretOut, ClientTokenOut, client_out, client_secret_out,
)
from tulou.identity.roles import known_permissions
from tulou.identity.routes import caller
from tulou.identity.schemas import Page
from tulou.identity.scope import clamp
from tulou.security.guards import PUBLIC, requires


def known_scopes(request: Request) -> frozenset[str]:
    return known_permissions(request.app.state.platform.registry)


class ClientController(Controller):
    path = "/api/v1/clients"
    tags = ["clients"]

    @post("/", guards=[requires("client:write")], summary="Register a system client; its secret is shown only here")
    async def create(self, request: Request, data: JSONBody[ClientIn]) -> ClientSecretOut:
        client, secret = await clients.create_client(
            await caller(request), data.name, data.organisation, data.area, data.scopes, known_scopes(request),
        )
        return client_secret_out(client, secret)

    @get("/", guards=[requires("client:read")], summary="System clients within the caller's areas")
    async def list_clients(
        self,
        request: Request,
        area: Annotated[str | None, QueryParameter(description="only this area's subtree")] = None,
        organisation: Annotated[int | None, QueryParameter(description="only this organisation's clients")] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> Page:
        limit = clamp(limit)
        found, total = await clients.list_clients(await caller(request), area, organisation, limit, offset)
        return Page(items=[client_out(c) for c in found], total=total, limit=limit, offset=offset)

    @get("/{client_id:int}", guards=[requires("client:read")], summary="One system client")
    async def read(self, request: Request, client_id: FromPath[int]) -> ClientOut:
        return client_out(await clients.get_client(await caller(request), client_id))

    @patch("/{client_id:int}", guards=[requires("client:write")], summary="Rename a client or change its scopes")
    async def update(self, request: Request, client_id: FromPath[int], data: JSONBody[ClientPatch]) -> ClientOut:
        client = await clients.update_client(
            await caller(request), client_id, known_scopes(request),
            name=data.name if isinstance(data.name, str) else None,
            scopes=data.scopes if isinstance(data.scopes, list) else None,
        )
        return client_out(client)

    @post("/{client_id:int}/disable", guards=[requires("client:write")], status_code=200,
          summary="Stop a client signing in and revoke its tokens")
    async def disable(self, request: Request, client_id: FromPath[int]) -> ClientOut:
        return client_out(await clients.disable_client(await caller(request), client_id))

    @post("/{client_id:int}/enable", guards=[requires("client:write")], status_code=200,
          summary="Let a disabled client sign in again")
    async def enable(self, request: Request, client_id: FromPath[int]) -> ClientOut:
        return client_out(await clients.enable_client(await caller(request), client_id))

    @post("/{client_id:int}/rotate-secret", guards=[requires("client:write")], status_code=200,
          summary="Give a client a new secret, shown only here; the old one and its tokens stop working")
    async def rotate_secret(self, request: Request, client_id: FromPath[int]) -> ClientSecretOut:
        client, secret = await clients.rotate_secret(await caller(request), client_id)
        return client_secret_out(client, secret)


TEXT = Schema(type=OpenAPIType.STRING)
TOKEN_FORM = Schema(
    type=OpenAPIType.OBJECT, required=["grant_type"],
    properties={"grant_type": Schema(type=OpenAPIType.STRING, const=oauth.CLIENT_CREDENTIALS),
                "scope": TEXT, "client_id": TEXT, "client_secret": TEXT},
)


@dataclass
class TokenOperation(Operation):
    """The token route's OpenAPI entry, with the form body the route reads itself."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={oauth.FORM_MEDIA_TYPE: OpenAPIMediaType(schema=TOKEN_FORM)})


class OAuthController(Controller):
    path = "/api/v1/oauth"
    tags = ["auth"]

    @post("/token", status_code=200, opt=PUBLIC, operation_class=TokenOperation,
          summary="OAuth 2.0 client-credentials grant (RFC 6749 4.4), form-encoded, client by HTTP Basic")
    async def token(self, request: Request) -> Response[ClientTokenOut]:
        asked = oauth.token_request(
            request.headers.get("content-type", ""), request.headers.get("authorization"), await request.body(),
        )
        issued = await clients.issue_token(asked, TokenPolicy.from_settings(request.app.state.platform.settings))
        body = ClientTokenOut(access_token=issued.access_token, expires_in=issued.expires_in,
                              scope=" ".join(sorted(issued.scopes)))
        return Response(body, headers=oauth.NO_STORE)
