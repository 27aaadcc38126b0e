"""The OAuth 2.0 token endpoint's wire rules (RFC 6749): its form body, client credentials and errors.

Only the client-credentials grant exists (section 4.4). Errors are RFC 9457 problem
bodies like every other Tulou error, carrying OAuth's ``error`` code (section 5.2) as
an extension member, so OAuth libraries and Tulou's own clients both understand them.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from tulou.errors import Problem
from tulou.i18n import gettext as _

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
CLIENT_CREDENTIALS = "client_credentials"
#: Response headers of every token response (RFC 6749 section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthErrorCode(str, enum.Enum):
    """The error codes of RFC 6749 section 5.2."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_GRANT = "invalid_grant"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_SCOPE = "invalid_scope"


class OAuthError(Problem):
    """A token endpoint error: 400, or 401 with a Basic challenge when the client failed to authenticate.

    The problem ``type`` is ``urn:tulou:problem:oauth-<code>``, and ``error`` the code itself.
    """

    def __init__(self, code: OAuthErrorCode, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.code = code
        self.slug = "oauth-" + code.value.replace("_", "-")
        if code is OAuthErrorCode.INVALID_CLIENT:
            self.status = 401
            self.headers = {"WWW-Authenticate": 'Basic realm="tulou", charset="UTF-8"'}

    @property
    def extensions(self) -> dict[str, Any]:
        return {"error": self.code.value}


def invalid_request(detail: str, field: str | None = None) -> OAuthError:
    return OAuthError(OAuthErrorCode.INVALID_REQUEST, detail, field=field)


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class TokenRequest:
    """A well-formed token request: its grant type, the scopes asked for (None: all) and the credentials."""

    grant_type: str
    scopes: frozenset[str] | None
    credentials: ClientCredentials | None


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """The form's parameters; empty ones count as absent, repeated ones are refused (RFC 6749 3.2)."""
    if content_type.split(";")[0].strip().lower() != FORM_MEDIA_TYPE:
        raise invalid_request(_("The token request must be sent as %(type)s") % {"type": FORM_MEDIA_TYPE})
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise invalid_request(_("The token request body is not valid form data")) from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise invalid_request(_("The parameter %(name)s is repeated") % {"name": name}, field=name)
        form[name] = value
    return {name: value for name, value in form.items() if value}


def basic_credentials(authorization: str) -> ClientCredentials | None:
    """The id and secret of an HTTP Basic header, each form-urlencoded first (RFC 6749 2.3.1); None if unreadable."""
    scheme, _sep, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return ClientCredentials(unquote_plus(client_id), unquote_plus(secret)) if colon else None


def token_request(content_type: str, authorization: str | None, body: bytes) -> TokenRequest:
    """Parse a token request; the client's credentials come from one place only, Basic or the body.

    Credentials that cannot be read count as none: the client then fails to authenticate.
    """
    form = parse_form(content_type, body)
    if "grant_type" not in form:
        raise invalid_request(_("The parameter grant_type is required"), field="grant_type")
    in_body = "client_id" in form or "client_secret" in form
    if authorization and in_body:
        raise invalid_request(_("Send the client's credentials either in the Authorization header or in the body, not both"))
    if authorization:
        credentials = basic_credentials(authorization)
    else:
        credentials = ClientCredentials(form.get("client_id", ""), form.get("client_secret", "")) if in_body else None
    scope = form.get("scope")
    return TokenRequest(form["grant_type"], frozenset(scope.split(" ")) - {""} if scope else None, credentials)
