"""Staff accounts, roles, role bindings and the tokens accounts sign in with."""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class AccountStatus(str, enum.Enum):
    ACTIVE = "active"
    LOCKED = "locked"
    DISABLED = "disabled"


class TokenKind(str, enum.Enum):
    ACCESS = "access"
    REFRESH = "refresh"
    SESSION = "session"  # the admin console's cookie (tulou.console.sessions)


class Account(Model):
    """A member of staff who signs in with a password. Bumping token_version revokes all their tokens.

    The home area is the area whose administrators manage the account (list, lock,
    reset). It says nothing about what the account may do, which only bindings grant.
    Accounts made before home areas existed have none and are managed county-wide.
    """

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    person_id = fields.IntField(null=True)
    status = fields.CharEnumField(AccountStatus, max_length=16, default=AccountStatus.ACTIVE)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    token_version = fields.IntField(default=0)
    home_area: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="accounts", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    home_area_id: str | None

    class Meta:
        table = "core_account"
        ordering = ["id"]


class Role(Model):
    """A named set of permissions, granted to accounts in an area's subtree by a binding."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=200)
    permissions = fields.JSONField(default=list)
    builtin = fields.BooleanField(default=False)

    class Meta:
        table = "core_role"
        ordering = ["id"]


class RoleBinding(Model):
    """An account holds a role's permissions in one area and everything under it."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "tulou.Account", related_name="bindings", on_delete=fields.CASCADE
    )
    role: fields.ForeignKeyRelation[Role] = fields.ForeignKeyField(
        "tulou.Role", related_name="bindings", on_delete=fields.RESTRICT
    )
    area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="role_bindings", on_delete=fields.RESTRICT
    )
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int
    role_id: int
    area_id: str

    class Meta:
        table = "core_role_binding"
        unique_together = (("account", "role", "area"),)
        ordering = ["id"]


class AccountMembership(Model):
    """An account acts for an organisation, such as a bureau's staff for the bureau.

    Membership says on whose behalf the account works (whose datasets it keeps, whose
    sharing agreements it reads under). What it may do, and where, only bindings grant.
    """

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "tulou.Account", related_name="memberships", on_delete=fields.CASCADE
    )
    organisation: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="members", on_delete=fields.RESTRICT
    )
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int
    organisation_id: int

    class Meta:
        table = "core_account_membership"
        unique_together = (("account", "organisation"),)
        ordering = ["id"]


class AccessToken(Model):
    """An issued access or refresh token, kept only as the SHA-256 of the opaque value handed out."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "tulou.Account", related_name="tokens", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(TokenKind, max_length=16)
    expires_at = fields.DatetimeField(db_index=True)
    revoked = fields.BooleanField(default=False)
    token_version = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int

    class Meta:
        table = "core_access_token"
        ordering = ["id"]


class ClientStatus(str, enum.Enum):
    ACTIVE = "active"
    DISABLED = "disabled"


class Client(Model):
    """A department's or vendor's system that signs in with OAuth2 client credentials.

    Its scopes are permission names and hold only in its area's subtree. The secret is
    random and long, so a SHA-256 digest is enough to keep it, and it is shown only once.
    """

    id = fields.IntField(primary_key=True)
    client_id = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    secret_hash = fields.CharField(max_length=64)
    organisation: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="clients", on_delete=fields.RESTRICT
    )
    area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="clients", on_delete=fields.RESTRICT
    )
    scopes = fields.JSONField(default=list)
    status = fields.CharEnumField(ClientStatus, max_length=16, default=ClientStatus.ACTIVE)
    token_version = fields.IntField(default=0)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    organisation_id: int
    area_id: str

    class Meta:
        table = "core_client"
        ordering = ["id"]


class ClientToken(Model):
    """An access token issued to a client, kept only as the SHA-256 of the opaque value."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "tulou.Client", related_name="tokens", on_delete=fields.CASCADE
    )
    scopes = fields.JSONField(default=list)
    expires_at = fields.DatetimeField(db_index=True)
    revoked = fields.BooleanField(default=False)
    token_version = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    client_id: int

    class Meta:
        table = "core_client_token"
        ordering = ["id"]
