"""Console sessions: one opaque token per signed-in browser, held in a cookie and kept only as its SHA-256.

A session is an :class:`~tulou.identity.accounts_models.AccessToken` of kind ``session``,
so whatever revokes an account's API tokens (signing out, a password change, a removed
role binding, a disabled account) ends its sessions in the same statement. Sessions
are not accepted as bearer tokens, and bearer tokens do not open the console.

A session slides: each request moves its end ``idle`` further, never past ``longest``
after sign-in. Its principal is read from the database on every request rather than
cached, so a revocation or a changed role shows on the very next page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tulou.identity import auth
from tulou.identity.accounts_models import AccessToken, TokenKind
from tulou.security.principal import Principal
from tulou.settings import CoreSettings

#: A session's end is written back only when it moves by more than this, not on every page.
SLIDE_STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a console session lives unused, and at most: ``TULOU_CONSOLE__SESSION_*``."""

    idle: timedelta = timedelta(minutes=30)
    longest: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> SessionPolicy:
        console = settings.console
        return cls(idle=timedelta(minutes=console.session_idle_minutes),
                   longest=timedelta(hours=console.session_max_hours))

    def end(self, started: datetime, now: datetime) -> datetime:
        return min(now + self.idle, started + self.longest)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def open_session(
    username: str, password: str, policy: SessionPolicy, token_policy: auth.TokenPolicy,
) -> str:
    """Sign in as the API does (same lockout, same audit) and return a new session token.

    Raises :class:`~tulou.errors.Unauthorized` for every kind of refusal alike.
    """
    token, now = secrets.token_urlsafe(32), _now()
    async with auth.signing_in(username, password, token_policy, channel="console") as account:
        await AccessToken.create(
            token_hash=auth.token_hash(token), account_id=account.id, kind=TokenKind.SESSION,
            expires_at=policy.end(now, now), token_version=account.token_version,
        )
    return token


async def session_principal(token: str, policy: SessionPolicy) -> Principal | None:
    """The account signed in with ``token`` as of now, its session slid forward; None once it has ended."""
    live = await auth.live_token(token, TokenKind.SESSION)
    now = _now()
    if live is None or live.created_at + policy.longest <= now:
        return None
    ends = policy.end(live.created_at, now)
    if ends - live.expires_at > SLIDE_STEP:
        await AccessToken.filter(id=live.id).update(expires_at=ends)
        live.expires_at = ends
    return await auth.principal_of(live)
