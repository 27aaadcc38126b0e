"""Wire shapes of system clients and of the OAuth2 token endpoint's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from tulou.identity.accounts_models import Client
from tulou.identity.schemas import AreaCode

ClientName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Scope = Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="a permission name")]
Scopes = Annotated[list[Scope], msgspec.Meta(max_length=100)]


class ClientIn(msgspec.Struct, forbid_unknown_fields=True):
    """``area`` is where the client acts: the caller needs ``client:write`` and every scope there."""

    name: ClientName
    organisation: int
    area: AreaCode
    scopes: Scopes


class ClientPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the members present change; removing a scope revokes the client's tokens."""

    name: ClientName | msgspec.UnsetType = msgspec.UNSET
    scopes: Scopes | msgspec.UnsetType = msgspec.UNSET


class ClientOut(msgspec.Struct):
    id: int
    client_id: str
    name: str
    organisation: int
    area: str
    scopes: list[str]
    status: str
    created_by: str
    created_at: datetime


class ClientSecretOut(ClientOut):
    """A client with its secret: the answer to creating it or rotating the secret, and nowhere else."""

    client_secret: str


class ClientTokenOut(msgspec.Struct):
    """RFC 6749 section 5.1: ``scope`` is the granted scopes, separated by spaces."""

    access_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"


def client_out(client: Client) -> ClientOut:
    return ClientOut(
        id=client.id, client_id=client.client_id, name=client.name, organisation=client.organisation_id,
        area=client.area_id, scopes=list(client.scopes), status=client.status.value, created_by=client.created_by,
        created_at=client.created_at,
    )


def client_secret_out(client: Client, secret: str) -> ClientSecretOut:
    return ClientSecretOut(**msgspec.structs.asdict(client_out(client)), client_secret=secret)
