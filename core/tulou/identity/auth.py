"""Password login, opaque bearer tokens, their rotation and their revocation.

Tokens are random strings handed out once; the database keeps only their SHA-256.
Every token carries the account's ``token_version`` when issued: bumping the version
(logout, password change, binding removed, refresh token replayed) kills them all at once,
the admin console's sessions included: they are tokens of a third kind (:mod:`tulou.console.sessions`).
Unknown users, wrong passwords and locked accounts get the same answer.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Unauthorized
from tulou.i18n import gettext as _
from tulou.identity.accounts_models import AccessToken, Account, AccountMembership, AccountStatus, RoleBinding, TokenKind
from tulou.identity.passwords import hash_password, needs_rehash, verify_password
from tulou.security.principal import Grant, Principal
from tulou.security.principal_cache import principals_changed
from tulou.settings import CoreSettings

LOCK_BASE = timedelta(minutes=1)
LOCK_MAX = timedelta(hours=24)


@dataclass(frozen=True)
class TokenPolicy:
    """How long tokens live and when sign-in locks: ``TULOU_IDENTITY__*`` settings, these by default."""

    access: timedelta = timedelta(minutes=15)
    refresh: timedelta = timedelta(days=30)
    client: timedelta = timedelta(minutes=15)
    failures_before_lock: int = 5

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> TokenPolicy:
        identity = settings.identity
        return cls(
            access=timedelta(minutes=identity.access_token_minutes),
            refresh=timedelta(days=identity.refresh_token_days),
            client=timedelta(minutes=identity.client_token_minutes),
            failures_before_lock=identity.lockout_after_failures,
        )


DEFAULT_POLICY = TokenPolicy()


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lock_duration(failures: int, policy: TokenPolicy = DEFAULT_POLICY) -> timedelta:
    """Doubles with every failure past the threshold: 1 min, 2 min, 4 min, ... up to a day."""
    return min(LOCK_BASE * 2 ** max(0, failures - policy.failures_before_lock), LOCK_MAX)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _refused() -> Unauthorized:
    return Unauthorized(_("Wrong username or password"))


def _actor(account: Account) -> str:
    return f"account:{account.id}"


async def _issue(account: Account, policy: TokenPolicy) -> IssuedTokens:
    access, refresh, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _now()
    await AccessToken.bulk_create([
        AccessToken(token_hash=token_hash(access), account_id=account.id, kind=TokenKind.ACCESS,
                    expires_at=now + policy.access, token_version=account.token_version),
        AccessToken(token_hash=token_hash(refresh), account_id=account.id, kind=TokenKind.REFRESH,
                    expires_at=now + policy.refresh, token_version=account.token_version),
    ])
    return IssuedTokens(access, refresh, int(policy.access.total_seconds()))


async def _login_failed(account: Account | None, username: str, reason: str, policy: TokenPolicy) -> None:
    """Count the failure, lock past the threshold, audit it; unknown names are audited by digest only.

    A password typed into the username box must not land in the log in clear, so
    for unknown usernames the entry keeps a SHA-256 prefix, enough to see repeats.
    """
    if account is None:
        await record_audit("anonymous", "auth.login_failed", detail={
            "reason": reason, "username_sha256": hashlib.sha256(username.encode()).hexdigest()[:16],
        })
        return
    detail: dict[str, object] = {"reason": reason}
    async with in_transaction():
        if reason == "wrong_password":
            failures = account.failed_logins + 1
            changes: dict[str, object] = {"failed_logins": F("failed_logins") + 1}
            if failures >= policy.failures_before_lock:
                changes["locked_until"] = _now() + lock_duration(failures, policy)
                detail["locked_for_seconds"] = int(lock_duration(failures, policy).total_seconds())
            await Account.filter(id=account.id).update(**changes)
        await record_audit(_actor(account), "auth.login_failed", target_type="account",
                           target_id=str(account.id), detail=detail)


async def _checked_account(username: str, password: str, policy: TokenPolicy) -> Account:
    """The account ``password`` opens, or the one 401 every failure shares, counted and audited."""
    account = await Account.get_or_none(username=username)
    matches = await verify_password(account.password_hash if account else None, password)
    if account is None:
        await _login_failed(None, username, "unknown_user", policy)
        raise _refused()
    if account.status is not AccountStatus.ACTIVE:
        await _login_failed(account, username, account.status.value, policy)
        raise _refused()
    if account.locked_until is not None and account.locked_until > _now():
        await _login_failed(account, username, "locked", policy)
        raise _refused()
    if not matches:
        await _login_failed(account, username, "wrong_password", policy)
        raise _refused()
    return account


@asynccontextmanager
async def signing_in(
    username: str, password: str, policy: TokenPolicy = DEFAULT_POLICY, channel: str | None = None,
) -> AsyncIterator[Account]:
    """The account behind a username and password, inside the transaction that signs it in.

    The API and the console both sign in here, so both count failures, lock and audit
    alike. The caller issues its credential in the block; the sign-in is audited (with
    ``channel`` when it is not the API) and committed with it, or not at all.
    """
    account = await _checked_account(username, password, policy)
    changes: dict[str, object] = {"failed_logins": 0, "locked_until": None}
    if needs_rehash(account.password_hash):
        changes["password_hash"] = await hash_password(password)
    async with in_transaction():
        await Account.filter(id=account.id).update(**changes)
        yield account
        await record_audit(_actor(account), "auth.login", target_type="account", target_id=str(account.id),
                           detail={"channel": channel} if channel else None)


async def login(username: str, password: str, policy: TokenPolicy = DEFAULT_POLICY) -> IssuedTokens:
    """A fresh access and refresh token, or the one 401 every failure shares."""
    async with signing_in(username, password, policy) as account:
        tokens = await _issue(account, policy)
    return tokens


async def live_token(token: str, kind: TokenKind) -> AccessToken | None:
    """The stored token if it is unexpired, unrevoked, current and its account active."""
    found = await AccessToken.get_or_none(token_hash=token_hash(token), kind=kind).select_related("account")
    if found is None or found.revoked or found.expires_at <= _now():
        return None
    account: Account = found.account
    if found.token_version != account.token_version or account.status is not AccountStatus.ACTIVE:
        return None
    return found


async def refresh(token: str, policy: TokenPolicy = DEFAULT_POLICY) -> IssuedTokens:
    """Swap a refresh token for a new pair; replaying a used one revokes every token of the account."""
    stored = await AccessToken.get_or_none(token_hash=token_hash(token), kind=TokenKind.REFRESH).select_related("account")
    if stored is not None and stored.revoked and stored.token_version == stored.account.token_version:
        # A rotated-away token came back while its family still lives: one of the two holders is a thief.
        async with in_transaction():
            await revoke_all(stored.account_id)
            await record_audit(f"account:{stored.account_id}", "auth.refresh_reused", target_type="account",
                               target_id=str(stored.account_id))
        await principals_changed()
        raise Unauthorized(_("The token is invalid or has expired"))
    live = await live_token(token, TokenKind.REFRESH)
    if live is None:
        raise Unauthorized(_("The token is invalid or has expired"))
    async with in_transaction():
        if not await AccessToken.filter(id=live.id, revoked=False).update(revoked=True):
            raise Unauthorized(_("The token is invalid or has expired"))  # used concurrently
        return await _issue(live.account, policy)


async def revoke_all(account_id: int) -> None:
    """Kill every token the account holds; callers then announce :func:`principals_changed` after commit."""
    await Account.filter(id=account_id).update(token_version=F("token_version") + 1)
    await AccessToken.filter(account_id=account_id, revoked=False).update(revoked=True)


async def logout(principal: Principal) -> None:
    account_id = account_id_of(principal)
    if account_id is None:
        return
    async with in_transaction():
        await revoke_all(account_id)
        await record_audit(principal.id, "auth.logout", target_type="account", target_id=str(account_id))
    await principals_changed()


def account_id_of(principal: Principal) -> int | None:
    kind, _sep, value = principal.id.partition(":")
    return int(value) if kind == "account" and value.isdigit() else None


async def grants_of(account_id: int) -> tuple[Grant, ...]:
    """One grant per bound area: the union of the permissions of the roles bound there."""
    merged: dict[str, set[str]] = {}
    for binding in await RoleBinding.filter(account_id=account_id).select_related("role"):
        merged.setdefault(binding.area_id, set()).update(binding.role.permissions)
    return tuple((area, frozenset(held)) for area, held in sorted(merged.items()))


async def organisations_of(account_id: int) -> frozenset[int]:
    """The organisations the account acts for."""
    members = await AccountMembership.filter(account_id=account_id).values_list("organisation_id", flat=True)
    return frozenset(members)


async def principal_of(live: AccessToken) -> Principal:
    """The account behind a live token, with its grants and organisations as of now."""
    account: Account = live.account
    return Principal.from_grants(
        _actor(account), account.username, await grants_of(account.id), live.expires_at,
        await organisations_of(account.id),
    )


async def principal_for_token(token: str) -> Principal | None:
    """The account behind a live access token, with its grants and organisations as of this request."""
    live = await live_token(token, TokenKind.ACCESS)
    return None if live is None else await principal_of(live)
