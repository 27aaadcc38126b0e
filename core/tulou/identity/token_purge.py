"""Dropping the rows of tokens that can no longer be used, so the token tables do not grow forever.

An expired token is refused whether or not its row exists. Rows are kept for a day
past expiry, long enough to see in the database why a recent request was refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tulou.identity.accounts_models import AccessToken, ClientToken

KEPT_AFTER_EXPIRY = timedelta(days=1)


async def purge_expired_tokens() -> int:
    """Delete account and client token rows expired for more than a day; the number deleted."""
    cutoff = datetime.now(timezone.utc) - KEPT_AFTER_EXPIRY
    deleted = await AccessToken.filter(expires_at__lt=cutoff).delete()
    return deleted + await ClientToken.filter(expires_at__lt=cutoff).delete()
