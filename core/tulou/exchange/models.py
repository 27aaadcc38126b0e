"""The data-exchange catalogue, its records, change feed, sharing agreements and deliveries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Classification(str, enum.Enum):
    PUBLIC = "public"
    INTERNAL = "internal"
    SENSITIVE = "sensitive"
    PERSONAL = "personal"


class DatasetStatus(str, enum.Enum):
    DRAFT = "draft"  # registered by a plugin, no owner assigned yet: nobody may write records
    PUBLISHED = "published"
    RETIRED = "retired"  # read-only, kept for its history


class ChangeOp(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class AgreementStatus(str, enum.Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class Dataset(Model):
    """A catalogue entry: what the data is, who owns and who manages it, where it applies.

    ``feed_seq`` is the number of the dataset's last change. Every write bumps it in
    its own transaction, so writers of one dataset take turns and the change feed's
    order is the commit order.
    """

    id = fields.CharField(max_length=100, primary_key=True)
    title = fields.JSONField(default=dict)
    description = fields.JSONField(default=dict)
    classification = fields.CharEnumField(Classification, max_length=16)
    status = fields.CharEnumField(DatasetStatus, max_length=16, default=DatasetStatus.DRAFT)
    owner: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="owned_datasets", null=True, on_delete=fields.RESTRICT
    )
    manager: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="managed_datasets", null=True, on_delete=fields.RESTRICT
    )
    area: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="datasets", null=True, on_delete=fields.RESTRICT
    )
    plugin = fields.CharField(max_length=64, null=True)
    smart_data_model = fields.CharField(max_length=100, null=True)
    field_map = fields.JSONField(null=True)  # record field to NGSI-LD attribute (tulou.exchange.ngsi)
    feed_seq = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    owner_id: int | None
    manager_id: int | None
    area_id: str | None

    class Meta:
        table = "core_dataset"
        ordering = ["id"]


class DatasetVersion(Model):
    """One version of a dataset's record schema. Minor versions of a major only add optional fields."""

    id = fields.IntField(primary_key=True)
    dataset: fields.ForeignKeyRelation[Dataset] = fields.ForeignKeyField(
        "tulou.Dataset", related_name="versions", on_delete=fields.CASCADE
    )
    major = fields.IntField()
    minor = fields.IntField()
    schema = fields.JSONField()
    fingerprint = fields.CharField(max_length=64)  # SHA-256 of the canonical schema: names its compiled validator
    property_order = fields.JSONField(null=True)  # top-level properties as declared: PostgreSQL's JSONB keeps no key order
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    dataset_id: str

    class Meta:
        table = "core_dataset_version"
        unique_together = (("dataset", "major", "minor"),)
        ordering = ["dataset_id", "major", "minor"]


class Record(Model):
    """A record of a dataset in one area. Deleting keeps a tombstone so the feed can report it.

    Its key is unique within the dataset's major version: majors are served side by
    side, so one plot may have a record in each. ``minor`` is the schema version the
    data was last validated against.
    """

    id = fields.BigIntField(primary_key=True)
    dataset: fields.ForeignKeyRelation[Dataset] = fields.ForeignKeyField(
        "tulou.Dataset", related_name="records", on_delete=fields.RESTRICT
    )
    key = fields.CharField(max_length=100)
    major = fields.IntField()
    minor = fields.IntField()
    area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="records", on_delete=fields.RESTRICT
    )
    data = fields.JSONField()
    version = fields.IntField(default=1)
    deleted = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=100)
    updated_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    dataset_id: str
    area_id: str

    class Meta:
        table = "core_record"
        unique_together = (("dataset", "major", "key"),)
        indexes = (("dataset_id", "major", "id"),)  # pages of records in id order
        ordering = ["id"]


class Change(Model):
    """One create, update or delete of a record, numbered per dataset in commit order.

    It keeps the record as it was written, so a consumer replaying the feed sees each
    version even when later ones followed.
    """

    id = fields.BigIntField(primary_key=True)
    dataset: fields.ForeignKeyRelation[Dataset] = fields.ForeignKeyField(
        "tulou.Dataset", related_name="changes", on_delete=fields.RESTRICT
    )
    seq = fields.BigIntField()
    op = fields.CharEnumField(ChangeOp, max_length=8)
    record_key = fields.CharField(max_length=100)
    record_version = fields.IntField()
    major = fields.IntField()
    minor = fields.IntField()
    area_code = fields.CharField(max_length=12)
    data = fields.JSONField(null=True)
    actor = fields.CharField(max_length=100)
    at = fields.DatetimeField()

    dataset_id: str

    class Meta:
        table = "core_change"
        unique_together = (("dataset", "seq"),)
        ordering = ["dataset_id", "seq"]


@dataclass(frozen=True, slots=True)
class NewChange:
    """A change as it is written to the feed: a :class:`Change` without the ORM object.

    It has the attributes of :class:`Change` that readers of a change use (the
    outbox, :func:`tulou.exchange.schemas.change_out`), so they take either.
    """

    dataset_id: str
    seq: int
    op: ChangeOp
    record_key: str
    record_version: int
    major: int
    minor: int
    area_code: str
    data: dict[str, Any] | None
    actor: str
    at: datetime


class Agreement(Model):
    """An organisation's right to read some fields of a dataset in some areas, for a stated purpose.

    Requested by the grantee, decided by the dataset's owner or manager, who may
    narrow the fields and areas. It holds only while approved and unexpired.
    """

    id = fields.IntField(primary_key=True)
    dataset: fields.ForeignKeyRelation[Dataset] = fields.ForeignKeyField(
        "tulou.Dataset", related_name="agreements", on_delete=fields.RESTRICT
    )
    grantee: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="agreements", on_delete=fields.RESTRICT
    )
    fields_requested = fields.JSONField(default=list)
    areas_requested = fields.JSONField(default=list)
    fields_granted = fields.JSONField(default=list)
    areas_granted = fields.JSONField(default=list)
    purpose = fields.TextField()
    expires_at = fields.DatetimeField()
    status = fields.CharEnumField(AgreementStatus, max_length=16, default=AgreementStatus.REQUESTED)
    requested_by = fields.CharField(max_length=100)
    decided_by = fields.CharField(max_length=100, null=True)
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.TextField(default="")
    revoked_by = fields.CharField(max_length=100, null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    dataset_id: str
    grantee_id: int

    class Meta:
        table = "core_agreement"
        ordering = ["id"]


class IdempotentRequest(Model):
    """The first answer to a write sent with an ``Idempotency-Key``, replayed for 24 hours.

    The row is inserted before the write runs (``response_status`` still null), so
    a concurrent request with the same key finds it and does not write a second time.
    """

    id = fields.BigIntField(primary_key=True)
    principal = fields.CharField(max_length=100)
    key = fields.CharField(max_length=255)
    fingerprint = fields.CharField(max_length=64)
    response_status = fields.IntField(null=True)
    response_body = fields.BinaryField(null=True)
    response_headers = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "core_idempotent_request"
        unique_together = (("principal", "key"),)


class Subscription(Model):
    """A URL told about a dataset's changes, signed with a secret only Tulou and the subscriber know."""

    id = fields.IntField(primary_key=True)
    dataset: fields.ForeignKeyRelation[Dataset] = fields.ForeignKeyField(
        "tulou.Dataset", related_name="subscriptions", on_delete=fields.RESTRICT
    )
    subscriber = fields.CharField(max_length=100)
    organisation: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="subscriptions", null=True, on_delete=fields.RESTRICT
    )
    url = fields.CharField(max_length=2000)
    secret_cipher = fields.TextField()
    conditions = fields.JSONField(default=dict)  # the optional filter on records (``filter`` is taken by Model)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    dataset_id: str
    organisation_id: int | None

    class Meta:
        table = "core_subscription"
        ordering = ["id"]


class Delivery(Model):
    """An event waiting in the outbox, or delivered, or given up on after too many failures.

    Written in the transaction of the change it reports, so no committed change is
    ever without its events, and no event exists for a change that rolled back.
    """

    id = fields.BigIntField(primary_key=True)
    subscription: fields.ForeignKeyRelation[Subscription] = fields.ForeignKeyField(
        "tulou.Subscription", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id = fields.UUIDField(unique=True)
    seq = fields.BigIntField()
    payload = fields.JSONField()
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    last_error = fields.TextField(default="")
    last_status = fields.IntField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    subscription_id: int

    class Meta:
        table = "core_delivery"
        ordering = ["id"]
