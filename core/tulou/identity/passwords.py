"""Staff passwords: the policy a new password must meet, and argon2id hashing."""

from __future__ import annotations

import asyncio
import secrets
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tulou.errors import Invalid
from tulou.i18n import gettext as _

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 accepts more, but nobody types it and it costs memory per attempt

_hasher = PasswordHasher()  # argon2id with argon2-cffi's current recommended parameters
# Verified against when the username is unknown, so that case costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anybody's, ever")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of refused passwords, lower-cased, read on first use."""
    text = resources.files("tulou.identity").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, username: str = "", field: str = "password") -> None:
    """Raise :class:`Invalid` naming ``field`` unless the password is long, uncommon and not the username."""
    if len(password) < MIN_LENGTH:
        raise Invalid(_("The password must have at least %(count)d characters") % {"count": MIN_LENGTH}, field=field)
    if len(password) > MAX_LENGTH:
        raise Invalid(_("The password must have at most %(count)d characters") % {"count": MAX_LENGTH}, field=field)
    lowered = password.lower()
    if lowered in common_passwords() or (username and username.lower() in lowered):
        raise Invalid(_("This password is too easy to guess: choose another"), field=field)


def generate_password(username: str = "") -> str:
    """A random password meeting the policy, for an administrator to hand over once.

    Drawn again in the rare case it contains the username (likely only for very short ones).
    """
    while True:
        password = secrets.token_urlsafe(18)
        try:
            check_password_policy(password, username)
        except Invalid:
            continue
        return password


async def hash_password(password: str) -> str:
    """An argon2id hash; computed off the event loop since it takes tens of milliseconds by design."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash, spend the same time and answer no."""
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with older parameters and should be replaced at the next login."""
    return _hasher.check_needs_rehash(password_hash)
