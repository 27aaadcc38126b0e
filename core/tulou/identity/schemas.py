"""Wire shapes of organisations, people and households."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from tulou.identity.models import Household, Organisation, OrganisationKind

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Tag = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
AreaCode = Annotated[str, msgspec.Meta(description="12-digit division code")]


class OrganisationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: OrganisationKind
    area: AreaCode
    parent: int | None = None


class OrganisationOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    area: str
    parent: int | None
    created_at: datetime


def organisation_out(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=organisation.id, name=organisation.name, kind=organisation.kind.value, area=organisation.area_id,
        parent=organisation.parent_id, created_at=organisation.created_at,
    )


class PersonIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    resident_id: str
    home_area: AreaCode
    phone: str | None = None
    tags: list[Tag] = []


class PersonPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change; ``phone: null`` removes the phone number."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    resident_id: str | msgspec.UnsetType = msgspec.UNSET
    home_area: AreaCode | msgspec.UnsetType = msgspec.UNSET
    phone: str | None | msgspec.UnsetType = msgspec.UNSET
    tags: list[Tag] | msgspec.UnsetType = msgspec.UNSET


class LookupIn(msgspec.Struct, forbid_unknown_fields=True):
    """A resident ID in the body, never in the URL, so it stays out of access logs."""

    resident_id: str
    purpose: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class PersonOut(msgspec.Struct):
    id: int
    name: str
    resident_id: str
    phone: str | None
    masked: bool
    birth_date: date | None  # withheld when masked: with the visible digits it rebuilds the number
    sex: str
    home_area: str
    household: int | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class PersonTagOut(msgspec.Struct):
    code: str
    title: str
    description: str
    plugin: str | None  # null for the core's own tags


class HouseholdIn(msgspec.Struct, forbid_unknown_fields=True):
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    village: AreaCode
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""


class MemberIn(msgspec.Struct, forbid_unknown_fields=True):
    person: int


class HeadIn(msgspec.Struct, forbid_unknown_fields=True):
    person: int


class MemberOut(msgspec.Struct):
    id: int
    name: str


class HouseholdOut(msgspec.Struct):
    id: int
    number: str
    address: str
    village: str
    head: int | None
    members: list[MemberOut]
    created_at: datetime


def household_out(household: Household, members: list[MemberOut]) -> HouseholdOut:
    return HouseholdOut(
        id=household.id, number=household.number, address=household.address, village=household.village_id,
        head=household.head_id, members=members, created_at=household.created_at,
    )


class Page(msgspec.Struct):
    items: list[Any]
    total: int
    limit: int
    offset: int
