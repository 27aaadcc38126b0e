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


class Account(Model):
    """A member of staff who signs in with a password. Bumping token_version revokes all their tokens."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    person_id = fields.IntField(null=True)
    status = fields.CharEnumField(AccountStatus, max_length=16, default=AccountStatus.ACTIVE)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    token_version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

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
