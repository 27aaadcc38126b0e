"""Wire shapes of sign-in, accounts and role bindings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
Secret = Annotated[str, msgspec.Meta(max_length=256)]
RoleName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
RoleTitle = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Permission = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


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
    """``home_area``: the area whose administrators manage the account; null when only the county does."""

    id: int
    username: str
    status: str
    person: int | None
    home_area: str | None
    locked_until: datetime | None
    created_at: datetime


class PasswordResetIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either the ``password`` an administrator chose, or ``generate: true`` for one made up and shown once."""

    password: Secret | None = None
    generate: bool = False


class PasswordResetOut(msgspec.Struct):
    """``generated_password`` is shown in this response only: nothing keeps it."""

    account: AccountOut
    generated_password: str | None


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    name: RoleName
    title: RoleTitle
    permissions: list[Permission]


class RolePatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the members present change."""

    title: RoleTitle | msgspec.UnsetType = msgspec.UNSET
    permissions: list[Permission] | msgspec.UnsetType = msgspec.UNSET


class RoleOut(msgspec.Struct):
    name: str
    title: str
    permissions: list[str]
    builtin: bool


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
