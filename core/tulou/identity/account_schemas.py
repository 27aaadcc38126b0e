"""Wire shapes of sign-in, accounts and role bindings."""

from __future__ import annotations

from typing import Annotated

import msgspec

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
Secret = Annotated[str, msgspec.Meta(max_length=256)]


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=64)]
    password: Secret


class RefreshIn(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(max_length=200)]


class TokenOut(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


class PasswordChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Secret
    new_password: Secret


class AccountIn(msgspec.Struct, forbid_unknown_fields=True):
    """``area`` is where the caller acts when creating the account: it needs ``account:write`` there."""

    username: Username
    password: Secret
    area: str


class AccountOut(msgspec.Struct):
    id: int
    username: str
    status: str
    person: int | None


class BindingIn(msgspec.Struct, forbid_unknown_fields=True):
    account: int
    role: Annotated[str, msgspec.Meta(max_length=64)]
    area: str


class BindingOut(msgspec.Struct):
    id: int
    account: int
    role: str
    role_title: str
    area: str
    created_by: str


class GrantOut(msgspec.Struct):
    area: str | None
    permissions: list[str]


class MeOut(msgspec.Struct):
    principal: str
    display_name: str
    account: AccountOut | None
    bindings: list[BindingOut]
    grants: list[GrantOut]
