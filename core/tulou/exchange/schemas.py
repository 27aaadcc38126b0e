"""Wire shapes of the data-exchange standard: datasets, versions, records, changes, imports and agreements."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from tulou.exchange.access import View
from tulou.exchange.models import (
    Agreement, AgreementStatus, Change, Classification, Dataset, DatasetVersion, NewChange, Record,
)
from tulou.identity.models import Organisation

DatasetId = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=100,
                      description="dotted lower-case words: agriculture.plots"),
]
RecordKey = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,100}$", description="the record's id in its dataset")]
AreaCode = Annotated[str, msgspec.Meta(description="12-digit division code")]
FieldName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Note = Annotated[str, msgspec.Meta(max_length=1000)]
SmartDataModel = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Z][A-Za-z0-9]{0,99}$", description="a Smart Data Model entity type: AgriParcel"),
]
AttributeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][A-Za-z0-9_]{0,99}$", description="an NGSI-LD attribute")]


class RelationshipTarget(msgspec.Struct, forbid_unknown_fields=True):
    """A field holding another entity's key: exported as ``urn:ngsi-ld:<entity>:<value>``."""

    attribute: AttributeName
    entity: SmartDataModel


FieldMap = Annotated[
    dict[FieldName, AttributeName | RelationshipTarget],
    msgspec.Meta(description="top-level record field to the Smart Data Model attribute it becomes in NGSI-LD"),
]


class Translated(msgspec.Struct, forbid_unknown_fields=True):
    """A text in the platform's languages; English may be left empty."""

    zh_CN: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    en: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class OrganisationRef(msgspec.Struct):
    id: int
    name: str


class DatasetIn(msgspec.Struct, forbid_unknown_fields=True):
    """A dataset the county declares. With ``owner``, ``manager`` and ``area`` it is published at once."""

    id: DatasetId
    title: Translated
    classification: Classification
    schema: dict[str, Any]
    description: Translated | None = None
    smart_data_model: SmartDataModel | None = None
    field_map: FieldMap = {}
    owner: int | None = None
    manager: int | None = None
    area: AreaCode | None = None


class PublishIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who owns and manages a dataset and where it applies; ``retired`` keeps it readable only.

    ``smart_data_model`` and ``field_map`` left out keep what the dataset has; a ``null``
    model removes its NGSI-LD form (and its field map).
    """

    owner: int
    manager: int
    area: AreaCode
    classification: Classification | None = None
    status: Literal["published", "retired"] = "published"
    smart_data_model: SmartDataModel | None | msgspec.UnsetType = msgspec.UNSET
    field_map: FieldMap | msgspec.UnsetType = msgspec.UNSET


class DatasetOut(msgspec.Struct):
    id: str
    title: dict[str, str]
    description: dict[str, str]
    classification: str
    status: str
    owner: OrganisationRef | None
    manager: OrganisationRef | None
    area: str | None
    plugin: str | None
    smart_data_model: str | None
    field_map: dict[str, str | RelationshipTarget]
    versions: list[str]
    created_at: datetime
    updated_at: datetime


class VersionIn(msgspec.Struct, forbid_unknown_fields=True):
    schema: dict[str, Any]


class VersionOut(msgspec.Struct):
    dataset: str
    version: str
    major: int
    minor: int
    schema: dict[str, Any]
    created_by: str
    created_at: datetime


class RecordIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new record; without ``id`` the server makes one up."""

    area: AreaCode
    data: dict[str, Any]
    id: RecordKey | None = None


class RecordReplace(msgspec.Struct, forbid_unknown_fields=True):
    """The whole new ``data``. A record's area never changes: naming another one is refused."""

    data: dict[str, Any]
    area: AreaCode | None = None


class RecordPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A JSON merge patch (RFC 7396) of the record: keys set to ``null`` in ``data`` are removed."""

    data: dict[str, Any] = {}
    area: AreaCode | None = None


class RecordOut(msgspec.Struct):
    id: str
    area: str
    version: int
    dataset_version: str
    data: dict[str, Any]
    deleted: bool
    created_at: datetime
    updated_at: datetime


class RecordPage(msgspec.Struct):
    """``next`` is the cursor of the following page, ``null`` on the last one."""

    items: list[RecordOut]
    next: str | None
    limit: int


DataPath = Annotated[str, msgspec.Meta(pattern=r"^\$", description="JSON path inside the record's data: $.area_m2")]


class RowError(msgspec.Struct):
    """One fault of an imported row. ``field`` names what is at fault: ``id``, ``area``, or the
    JSON path inside ``data`` (then also in ``path``); ``null`` when the line is not a record at all."""

    field: str | None
    message: str
    path: DataPath | msgspec.UnsetType = msgspec.UNSET

    @classmethod
    def in_data(cls, path: str, message: str) -> RowError:
        return cls(field=path, message=message, path=path)


class BadRow(msgspec.Struct):
    line: Annotated[int, msgspec.Meta(ge=1, description="the line of the file where the row starts, counted from 1")]
    errors: list[RowError]


class ImportReport(msgspec.Struct):
    """What an import wrote; ``invalid`` counts every bad row, ``bad_rows`` lists the first thousand."""

    created: int
    updated: int
    invalid: int
    bad_rows: list[BadRow]


class LineError(RowError, kw_only=True):
    """A fault of a rejected import, with the line of its row."""

    line: Annotated[int, msgspec.Meta(ge=1)]


class ImportProblem(msgspec.Struct):
    """The 422 problem body of an all-or-nothing import with bad rows, nothing written: every fault of
    the first thousand bad rows in ``errors``, and ``invalid``, the number of bad rows."""

    type: Literal["urn:tulou:problem:invalid"]
    title: str
    status: Literal[422]
    detail: str
    instance: str
    errors: Annotated[list[LineError], msgspec.Meta(min_length=1)]
    invalid: Annotated[int, msgspec.Meta(ge=1)]
    request_id: str | msgspec.UnsetType = msgspec.UNSET


class ChangeOut(msgspec.Struct):
    seq: int
    op: str
    id: str
    area: str
    version: int
    dataset_version: str
    data: dict[str, Any] | None
    at: datetime


class ChangePage(msgspec.Struct):
    """Pass ``next`` back as ``after``; ``more`` says whether changes are already waiting past it."""

    changes: list[ChangeOut]
    next: str
    more: bool


class AgreementIn(msgspec.Struct, forbid_unknown_fields=True):
    """An organisation the caller acts for asks to read some fields of a dataset in some areas."""

    dataset: DatasetId
    organisation: int
    fields: Annotated[list[FieldName], msgspec.Meta(min_length=1, max_length=200)]
    areas: Annotated[list[AreaCode], msgspec.Meta(min_length=1, max_length=200)]
    purpose: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    expires_at: datetime


class ApprovalIn(msgspec.Struct, forbid_unknown_fields=True):
    """Approve as asked, or narrower: fewer fields, smaller areas. Never wider."""

    fields: list[FieldName] | None = None
    areas: list[AreaCode] | None = None
    note: Note = ""


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Note = ""


class AgreementOut(msgspec.Struct):
    id: int
    dataset: str
    grantee: OrganisationRef
    fields_requested: list[str]
    areas_requested: list[str]
    fields_granted: list[str]
    areas_granted: list[str]
    purpose: str
    expires_at: datetime
    status: str
    active: bool
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    revoked_by: str | None
    revoked_at: datetime | None
    created_at: datetime


def organisation_ref(organisation: Organisation | None) -> OrganisationRef | None:
    return OrganisationRef(id=organisation.id, name=organisation.name) if organisation is not None else None


def dataset_out(dataset: Dataset, versions: list[str]) -> DatasetOut:
    """``dataset`` with its owner and manager fetched."""
    return DatasetOut(
        id=dataset.id, title=dataset.title, description=dataset.description,
        classification=dataset.classification.value, status=dataset.status.value,
        owner=organisation_ref(dataset.owner), manager=organisation_ref(dataset.manager), area=dataset.area_id,
        plugin=dataset.plugin, smart_data_model=dataset.smart_data_model,
        field_map=msgspec.convert(dataset.field_map or {}, dict[str, str | RelationshipTarget]), versions=versions,
        created_at=dataset.created_at, updated_at=dataset.updated_at,
    )


def version_out(version: DatasetVersion) -> VersionOut:
    return VersionOut(
        dataset=version.dataset_id, version=f"{version.major}.{version.minor}", major=version.major,
        minor=version.minor, schema=version.schema, created_by=version.created_by, created_at=version.created_at,
    )


def record_out(record: Record, view: View) -> RecordOut:
    return RecordOut(
        id=record.key, area=record.area_id, version=record.version, dataset_version=f"{record.major}.{record.minor}",
        data=view.cut(record.data), deleted=record.deleted, created_at=record.created_at, updated_at=record.updated_at,
    )


def change_out(change: Change | NewChange, view: View) -> ChangeOut:
    return ChangeOut(
        seq=change.seq, op=change.op.value, id=change.record_key, area=change.area_code,
        version=change.record_version, dataset_version=f"{change.major}.{change.minor}",
        data=None if change.data is None else view.cut(change.data), at=change.at,
    )


def agreement_out(agreement: Agreement, now: datetime) -> AgreementOut:
    """``agreement`` with its grantee fetched; ``active`` as of ``now``."""
    return AgreementOut(
        id=agreement.id, dataset=agreement.dataset_id,
        grantee=OrganisationRef(id=agreement.grantee.id, name=agreement.grantee.name),
        fields_requested=agreement.fields_requested, areas_requested=agreement.areas_requested,
        fields_granted=agreement.fields_granted, areas_granted=agreement.areas_granted, purpose=agreement.purpose,
        expires_at=agreement.expires_at, status=agreement.status.value,
        active=agreement.status is AgreementStatus.APPROVED and agreement.expires_at > now,
        requested_by=agreement.requested_by, decided_by=agreement.decided_by, decided_at=agreement.decided_at,
        decision_note=agreement.decision_note, revoked_by=agreement.revoked_by, revoked_at=agreement.revoked_at,
        created_at=agreement.created_at,
    )
