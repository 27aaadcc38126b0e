"""System clients: departments' and vendors' systems that sign in with OAuth2 client credentials.

A client holds its scopes (permission names) in its area's subtree and nowhere else.
Nobody gives a client what they do not hold there themselves, and since whoever
enables a client or rotates its secret could then act as it, those follow the same
rule. Secrets and tokens are random and long, so their SHA-256 is all that is kept.
Disabling a client, rotating its secret or narrowing its scopes kills its tokens at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Forbidden, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.accounts_models import Client, ClientStatus, ClientToken
from tulou.identity.auth import DEFAULT_POLICY, TokenPolicy, token_hash
from tulou.identity.models import Organisation
from tulou.identity.oauth import CLIENT_CREDENTIALS, ClientCredentials, OAuthError, OAuthErrorCode, TokenRequest
from tulou.identity.scope import area_in_scope, in_subtrees, require_permission, within
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed

CLIENT_ID_PREFIX = "tlc_"
#: Client access tokens start with this, so authenticators tell them from account tokens unread.
TOKEN_PREFIX = "tlc."
READ, WRITE = "client:read", "client:write"
_NO_SECRET = token_hash("")  # compared against when the client is unknown, so both take the same path


@dataclass(frozen=True)
class IssuedClientToken:
    access_token: str
    expires_in: int
    scopes: frozenset[str]


def actor(client: Client) -> str:
    return f"client:{client.id}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _name(text: str) -> str:
    name = text.strip()
    if not name:
        raise Invalid(_("A name is required"), field="name")
    return name


def _grantable_scopes(principal: Principal, scopes: Collection[str], area: str, known: Collection[str]) -> list[str]:
    """The scopes, sorted and once each: 422 if empty or unknown, 403 if the caller lacks one in ``area``."""
    wanted = sorted(set(scopes))
    if not wanted:
        raise Invalid(_("A client needs at least one scope"), field="scopes")
    unknown = [scope for scope in wanted if scope not in known]
    if unknown:
        raise Invalid(_("Unknown scopes: %(scopes)s") % {"scopes": ", ".join(unknown)}, field="scopes")
    _require_holding(principal, wanted, area)
    return wanted


def _require_holding(principal: Principal, scopes: Collection[str], area: str) -> None:
    if not all(principal.has_permission(scope, area) for scope in scopes):
        raise Forbidden(_("You cannot give a client permissions you do not hold in its area"), field="scopes")


async def _revoke_tokens(client: Client) -> None:
    """Kill every token the client holds; the caller commits, then calls :func:`principals_changed`."""
    await Client.filter(id=client.id).update(token_version=F("token_version") + 1)
    await ClientToken.filter(client_id=client.id, revoked=False).update(revoked=True)


async def _audit(principal: Principal, action: str, client: Client, detail: dict[str, object] | None = None) -> None:
    await record_audit(principal.id, action, area_code=client.area_id, target_type="client",
                       target_id=str(client.id), detail=detail)


def visible_clients(principal: Principal) -> QuerySet[Client]:
    """The clients whose area lies in the caller's subtrees."""
    return Client.filter(within(principal, "area_id"))


async def create_client(
    principal: Principal, name: str, organisation_id: int, area: str, scopes: Collection[str], known: Collection[str],
) -> tuple[Client, str]:
    """A new active client and its secret, which is shown this once and never stored."""
    name = _name(name)
    place = await area_in_scope(principal, area, "area")
    require_permission(principal, WRITE, place.code)
    granted = _grantable_scopes(principal, scopes, place.code, known)
    if not await Organisation.filter(within(principal, "area_id"), id=organisation_id).exists():
        raise Invalid(_("Organisation %(id)s does not exist") % {"id": organisation_id}, field="organisation")
    secret = secrets.token_urlsafe(32)
    async with in_transaction():
        client = await Client.create(
            client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(12), name=name, secret_hash=token_hash(secret),
            organisation_id=organisation_id, area=place, scopes=granted, created_by=principal.id,
        )
        await _audit(principal, "client.created", client, {
            "client_id": client.client_id, "name": name, "organisation": organisation_id, "scopes": granted,
        })
    return client, secret


async def get_client(principal: Principal, client_id: int) -> Client:
    """One client, or 404 when absent or outside the caller's areas."""
    client = await visible_clients(principal).get_or_none(id=client_id)
    if client is None:
        raise NotFound(_("Client not found"), field="client_id")
    return client


async def list_clients(
    principal: Principal, area: str | None = None, organisation: int | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Client], int]:
    """One page of the caller's clients, optionally one area's subtree or one organisation's."""
    query = visible_clients(principal)
    if area is not None:
        root = await area_in_scope(principal, area, "area")
        query = query.filter(in_subtrees((root.code,), "area_id"))
    if organisation is not None:
        query = query.filter(organisation_id=organisation)
    return await query.order_by("id").offset(offset).limit(limit), await query.count()


async def update_client(
    principal: Principal, client_id: int, known: Collection[str], name: str | None = None,
    scopes: Collection[str] | None = None,
) -> Client:
    """Rename the client or change its scopes; removing a scope kills its tokens."""
    client = await get_client(principal, client_id)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = _name(name)
    removed: list[str] = []
    if scopes is not None:
        granted = _grantable_scopes(principal, scopes, client.area_id, known)
        removed = sorted(set(client.scopes) - set(granted))
        changes["scopes"] = granted
    if not changes:
        return client
    async with in_transaction():
        await Client.filter(id=client.id).update(**changes)
        if removed:
            await _revoke_tokens(client)
        await _audit(principal, "client.changed", client, {
            **changes, "scopes_removed": removed, "tokens_revoked": bool(removed),
        })
    if removed:
        await principals_changed()
    return await Client.get(id=client.id)


async def disable_client(principal: Principal, client_id: int) -> Client:
    """Stop the client signing in; its tokens stop working at once."""
    client = await get_client(principal, client_id)
    if client.status is ClientStatus.DISABLED:
        return client
    async with in_transaction():
        await Client.filter(id=client.id).update(status=ClientStatus.DISABLED)
        await _revoke_tokens(client)
        await _audit(principal, "client.disabled", client)
    await principals_changed()
    return await Client.get(id=client.id)


async def enable_client(principal: Principal, client_id: int) -> Client:
    """Let a disabled client sign in again; the caller must hold its scopes, as when creating it."""
    client = await get_client(principal, client_id)
    _require_holding(principal, client.scopes, client.area_id)
    if client.status is ClientStatus.ACTIVE:
        return client
    async with in_transaction():
        await Client.filter(id=client.id).update(status=ClientStatus.ACTIVE)
        await _audit(principal, "client.enabled", client)
    return await Client.get(id=client.id)


async def rotate_secret(principal: Principal, client_id: int) -> tuple[Client, str]:
    """A new secret, shown this once; the old one and every token issued with it stop working."""
    client = await get_client(principal, client_id)
    _require_holding(principal, client.scopes, client.area_id)
    secret = secrets.token_urlsafe(32)
    async with in_transaction():
        await Client.filter(id=client.id).update(secret_hash=token_hash(secret))
        await _revoke_tokens(client)
        await _audit(principal, "client.secret_rotated", client)
    await principals_changed()
    return await Client.get(id=client.id), secret


async def _refused(client: Client | None, presented_id: str, reason: str) -> OAuthError:
    """Audit a failed client sign-in; unknown ids only by digest, in case a secret was typed there."""
    if client is None:
        await record_audit("anonymous", "auth.client_failed", detail={
            "reason": reason, "client_id_sha256": hashlib.sha256(presented_id.encode()).hexdigest()[:16],
        })
    else:
        await record_audit(actor(client), "auth.client_failed", area_code=client.area_id, target_type="client",
                           target_id=str(client.id), detail={"reason": reason})
    return OAuthError(OAuthErrorCode.INVALID_CLIENT, _("Client authentication failed"))


async def authenticate_client(credentials: ClientCredentials | None) -> Client:
    """The active client these credentials belong to; missing, unknown, wrong and disabled look alike."""
    if credentials is None:
        raise await _refused(None, "", "no_credentials")
    client = await Client.get_or_none(client_id=credentials.client_id)
    matches = hmac.compare_digest(token_hash(credentials.client_secret), client.secret_hash if client else _NO_SECRET)
    if client is None:
        raise await _refused(None, credentials.client_id, "unknown_client")
    if not matches:
        raise await _refused(client, credentials.client_id, "wrong_secret")
    if client.status is not ClientStatus.ACTIVE:
        raise await _refused(client, credentials.client_id, client.status.value)
    return client


def _granted_scopes(client: Client, requested: frozenset[str] | None) -> frozenset[str]:
    """All the client's scopes, or the ones asked for if the client holds every one of them."""
    held = frozenset(client.scopes)
    if requested is None:
        requested = held
    if not requested or not requested <= held:
        raise OAuthError(OAuthErrorCode.INVALID_SCOPE, _("The requested scope is not one the client holds"),
                         field="scope")
    return requested


async def issue_token(request: TokenRequest, policy: TokenPolicy = DEFAULT_POLICY) -> IssuedClientToken:
    """An access token for the client-credentials grant (RFC 6749 section 4.4)."""
    if request.grant_type != CLIENT_CREDENTIALS:
        raise OAuthError(OAuthErrorCode.UNSUPPORTED_GRANT_TYPE,
                         _("Only the client_credentials grant is supported"), field="grant_type")
    client = await authenticate_client(request.credentials)
    scopes = _granted_scopes(client, request.scopes)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with in_transaction():
        await ClientToken.create(token_hash=token_hash(token), client_id=client.id, scopes=sorted(scopes),
                                 expires_at=_now() + policy.client, token_version=client.token_version)
        await record_audit(actor(client), "auth.client_token", area_code=client.area_id, target_type="client",
                           target_id=str(client.id), detail={"scopes": sorted(scopes)})
    return IssuedClientToken(token, int(policy.client.total_seconds()), scopes)


def is_client_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


async def principal_for_client_token(token: str) -> Principal | None:
    """The client behind a live token, holding the token's scopes in the client's area only, acting for its organisation."""
    if not is_client_token(token):
        return None
    found = await ClientToken.get_or_none(token_hash=token_hash(token)).select_related("client")
    if found is None or found.revoked or found.expires_at <= _now():
        return None
    client: Client = found.client
    if client.status is not ClientStatus.ACTIVE or found.token_version != client.token_version:
        return None
    scopes = frozenset(found.scopes) & frozenset(client.scopes)
    return Principal.from_grants(
        actor(client), client.name, ((client.area_id, scopes),), found.expires_at, frozenset({client.organisation_id})
    )
