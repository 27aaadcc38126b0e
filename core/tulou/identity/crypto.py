"""Personal data encrypted at rest, with a blind index for exact lookup.

Each value becomes a token ``v1.<key id>.<base64url(nonce + ciphertext)>`` under
AES-256-GCM. The column's name (``person.resident_id``) is the associated data, so
a token copied into another column does not decrypt; the key id lets an old key
keep decrypting after a new one becomes active. The blind index is an HMAC of the
canonical value under a separate key: equal values give equal indexes, and without
the key the index reveals nothing, not even to someone who tries every phone number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tulou.errors import Unavailable
from tulou.i18n import gettext as _
from tulou.settings import CoreSettings, decode_base64url

if TYPE_CHECKING:
    from tortoise.models import Model

TOKEN_VERSION = "v1"
NONCE_BYTES = 12


class UnreadableToken(Exception):
    """A stored token does not decrypt: altered, moved from another column, or its key is gone.

    Not a :class:`~tulou.errors.Problem`: the caller can do nothing about it, the
    operator must (it is logged as a server error).
    """


@dataclass(frozen=True)
class EncryptedColumn:
    """Where tokens are stored: a model's column and the context its tokens are sealed to.

    Declaring each column once lets key rotation find every token without knowing the models.
    """

    model: type[Model]
    column: str
    context: str


class PersonalDataCipher:
    """Encrypts and decrypts one column's values and computes their blind index."""

    def __init__(self, keys: Mapping[str, bytes], active_key: str, blind_index_key: bytes) -> None:
        if active_key not in keys:
            raise ValueError(f"active key {active_key!r} is not in the key ring")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key = active_key
        self._blind_index_key = blind_index_key

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> PersonalDataCipher:
        """The cipher for ``TULOU_IDENTITY__*``; :class:`Unavailable` when no keys are set."""
        identity = settings.identity
        blind_index_key = identity.blind_index_secret()
        if not identity.configured or identity.active_key is None or blind_index_key is None:
            raise Unavailable(
                _(
                    "Personal data cannot be stored: no encryption keys are configured "
                    "(TULOU_IDENTITY__ENCRYPTION_KEYS). Create them with: tulou identity new-keys"
                )
            )
        return cls(identity.keyring(), identity.active_key, blind_index_key)

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every key in the ring, the active one included."""
        return frozenset(self._ciphers)

    def encrypt(self, plaintext: str, context: str) -> str:
        """A fresh token for ``plaintext`` in the column ``context``; never the same twice."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.active_key].encrypt(
            nonce, plaintext.encode(), _associated_data(context)
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{TOKEN_VERSION}.{self.active_key}.{payload}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of a token written for the column ``context``, under any known key."""
        key_id, payload = _split(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnreadableToken(
                _(
                    "Personal data was encrypted with key %(key_id)s, which is not in "
                    "TULOU_IDENTITY__ENCRYPTION_KEYS."
                )
                % {"key_id": key_id}
            )
        try:
            raw = decode_base64url(payload)
            plaintext = cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(context)
            )
        except (ValueError, InvalidTag):
            raise UnreadableToken(
                _(
                    "Encrypted personal data for %(context)s does not decrypt: "
                    "it was altered or belongs elsewhere."
                )
                % {"context": context}
            ) from None
        return plaintext.decode()

    def needs_rotation(self, token: str) -> bool:
        """Whether the token was written under a key other than the active one."""
        return token_key_id(token) != self.active_key

    def blind_index(self, value: str, context: str) -> str:
        """The lookup index of a canonical value (``parse_resident_id(...).number``) in a column.

        Pass the canonical form: the index only folds Unicode width and outer spaces.
        """
        canonical = unicodedata.normalize("NFKC", value).strip()
        message = f"{context}\x00{canonical}".encode()
        return hmac.new(self._blind_index_key, message, hashlib.sha256).hexdigest()


def _associated_data(context: str) -> bytes:
    return f"tulou-personal-data.{TOKEN_VERSION}.{context}".encode()


def token_key_id(token: str) -> str:
    """The id of the key a token was written under; :class:`UnreadableToken` if it is no token."""
    return _split(token)[0]


def _split(token: str) -> tuple[str, str]:
    version, _dot, rest = token.partition(".")
    key_id, _dot, payload = rest.partition(".")
    if version != TOKEN_VERSION or not key_id or not payload or "." in payload:
        raise UnreadableToken(_("This is not an encrypted personal data token."))
    return key_id, payload


def new_key() -> str:
    """A fresh random 32-byte key, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def new_key_id(today: date | None = None) -> str:
    """A key id that says when the key was made and does not collide on the same day."""
    return f"k{(today or date.today()):%Y%m%d}{secrets.token_hex(2)}"
