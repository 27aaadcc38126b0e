"""Residents: personal numbers encrypted at rest, masked on the way out, every PII access audited.

A read that reveals a full resident ID or phone number writes its audit entry first;
if that write fails the read fails, so no number leaves the server unaudited.
"""

from __future__ import annotations

from typing import Any

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Conflict, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.crypto import EncryptedColumn, PersonalDataCipher
from tulou.identity.masking import mask_phone, mask_resident_id
from tulou.identity.models import Person, Sex
from tulou.identity.resident_id import parse_phone, parse_resident_id
from tulou.identity.schemas import PersonIn, PersonOut, PersonPatch
from tulou.identity.scope import area_in_scope, in_subtrees, within
from tulou.identity.tags import TagVocabulary
from tulou.security.principal import Principal

RESIDENT_ID = "person.resident_id"
PHONE = "person.phone"
READ_SENSITIVE = "person:read_sensitive"
# Every column that holds personal-data tokens; key rotation re-encrypts exactly these.
ENCRYPTED_COLUMNS = (
    EncryptedColumn(Person, "resident_id_cipher", RESIDENT_ID),
    EncryptedColumn(Person, "phone_cipher", PHONE),
)


def visible_people(principal: Principal) -> QuerySet[Person]:
    """The people whose home area lies in the caller's subtrees."""
    return Person.filter(within(principal, "home_area_id"))


def _resident_fields(cipher: PersonalDataCipher, text: str) -> dict[str, Any]:
    resident = parse_resident_id(text)
    return {
        "resident_id_cipher": cipher.encrypt(resident.number, RESIDENT_ID),
        "resident_id_index": cipher.blind_index(resident.number, RESIDENT_ID),
        "birth_date": resident.birth_date,
        "sex": Sex(resident.sex),
    }


def _phone_fields(cipher: PersonalDataCipher, text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {"phone_cipher": None, "phone_index": None}
    phone = parse_phone(text)
    return {"phone_cipher": cipher.encrypt(phone, PHONE), "phone_index": cipher.blind_index(phone, PHONE)}


def _name(text: str) -> str:
    name = text.strip()
    if not name:
        raise Invalid(_("A name is required"), field="name")
    return name


def already_registered() -> Conflict:
    return Conflict(_("A person with this resident ID number is already registered"), field="resident_id")


async def _refuse_duplicate(index: str, exclude: int | None = None) -> None:
    query = Person.filter(resident_id_index=index)
    if exclude is not None:
        query = query.exclude(id=exclude)
    if await query.exists():
        raise already_registered()


def person_fields(cipher: PersonalDataCipher, tags: TagVocabulary, data: PersonIn) -> dict[str, Any]:
    """The columns of a new person, checked, canonical and encrypted; the home area is checked apart.

    Raises :class:`Invalid` at the first bad field. The bulk import builds its rows here
    too, so a person is the same whichever door they came in by.
    """
    return {
        "name": _name(data.name), **_resident_fields(cipher, data.resident_id), **_phone_fields(cipher, data.phone),
        "tags": tags.check(data.tags),
    }


async def create_person(principal: Principal, cipher: PersonalDataCipher, tags: TagVocabulary, data: PersonIn) -> Person:
    """Register a resident of a village the caller covers; the row and its audit entry commit together."""
    fields = person_fields(cipher, tags, data)
    area = await area_in_scope(principal, data.home_area, "home_area", village=True)
    await _refuse_duplicate(fields["resident_id_index"])
    try:
        async with in_transaction():
            person = await Person.create(**fields, home_area=area)
            await record_audit(
                principal.id, "person.created", area_code=area.code, target_type="person", target_id=str(person.id),
            )
    except IntegrityError:  # registered concurrently between the check and the insert
        raise already_registered() from None
    return person


async def get_person(principal: Principal, person_id: int) -> Person:
    """One person, or 404 when absent or outside the caller's areas (the same answer, no leak)."""
    person = await visible_people(principal).get_or_none(id=person_id)
    if person is None:
        raise NotFound(_("Person not found"), field="person_id")
    return person


async def search_people(
    principal: Principal, name: str | None = None, area: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Person], int]:
    """One page of the caller's people whose name contains ``name``, optionally in one area's subtree."""
    query = visible_people(principal)
    if name:
        query = query.filter(name__contains=name.strip())
    if area is not None:
        root = await area_in_scope(principal, area, "area")
        query = query.filter(in_subtrees((root.code,), "home_area_id"))
    return await query.order_by("id").offset(offset).limit(limit), await query.count()


async def lookup_by_resident_id(
    principal: Principal, cipher: PersonalDataCipher, number: str, purpose: str | None = None
) -> Person:
    """Exact match through the blind index, within scope; the lookup itself is audited.

    The entry keeps only a short prefix of the index, enough to correlate repeated
    lookups of one number, and never the number.
    """
    index = cipher.blind_index(parse_resident_id(number).number, RESIDENT_ID)
    person = await visible_people(principal).get_or_none(resident_id_index=index)
    await record_audit(
        principal.id, "person.lookup", area_code=person.home_area_id if person else None, target_type="person",
        target_id=str(person.id) if person else None, purpose=purpose,
        detail={"index_prefix": index[:8], "found": person is not None},
    )
    if person is None:
        raise NotFound(_("Person not found"), field="resident_id")
    return person


async def update_person(
    principal: Principal, cipher: PersonalDataCipher, tags: TagVocabulary, person_id: int, patch: PersonPatch
) -> Person:
    """Change the given fields; the audit entry names them but never their values."""
    person = await get_person(principal, person_id)
    changes: dict[str, Any] = {}
    if patch.name is not msgspec.UNSET:
        changes["name"] = _name(patch.name)
    if patch.resident_id is not msgspec.UNSET:
        changes.update(_resident_fields(cipher, patch.resident_id))
        await _refuse_duplicate(changes["resident_id_index"], exclude=person.id)
    if patch.phone is not msgspec.UNSET:
        changes.update(_phone_fields(cipher, patch.phone))
    if patch.tags is not msgspec.UNSET:
        changes["tags"] = tags.check(patch.tags)
    if patch.home_area is not msgspec.UNSET:
        area = await area_in_scope(principal, patch.home_area, "home_area", village=True)
        if person.household_id is not None and area.code != person.home_area_id:
            raise Invalid(_("Remove the person from their household before moving them"), field="home_area")
        changes["home_area_id"] = area.code
    changed = sorted({_public_name(key) for key in changes})
    try:
        async with in_transaction():
            await Person.filter(id=person.id).update(**changes)
            await record_audit(
                principal.id, "person.updated", area_code=person.home_area_id, target_type="person",
                target_id=str(person.id), detail={"fields": changed},
            )
    except IntegrityError:
        raise already_registered() from None
    return await Person.get(id=person.id)


def _public_name(column: str) -> str:
    """``resident_id_cipher`` to ``resident_id``: the audit names fields as the API does."""
    for prefix in ("resident_id", "phone", "home_area"):
        if column.startswith(prefix):
            return prefix
    return "resident_id" if column in {"birth_date", "sex"} else column


def may_read_sensitive(principal: Principal, person: Person) -> bool:
    return principal.has_permission(READ_SENSITIVE, person.home_area_id)


async def person_out(
    person: Person, principal: Principal, cipher: PersonalDataCipher, purpose: str | None = None,
    *, reveal: bool = True,
) -> PersonOut:
    """The person as the caller may see them: full numbers only with ``person:read_sensitive``
    for the person's area and ``reveal``, and then only after the read is audited."""
    resident_id = cipher.decrypt(person.resident_id_cipher, RESIDENT_ID)
    phone = cipher.decrypt(person.phone_cipher, PHONE) if person.phone_cipher else None
    unmasked = reveal and may_read_sensitive(principal, person)
    if unmasked:
        await record_audit(
            principal.id, "person.read_sensitive", area_code=person.home_area_id, target_type="person",
            target_id=str(person.id), purpose=purpose,
        )
    else:
        resident_id = mask_resident_id(resident_id)
        phone = mask_phone(phone) if phone else None
    return PersonOut(
        id=person.id, name=person.name, resident_id=resident_id, phone=phone, masked=not unmasked,
        birth_date=person.birth_date if unmasked else None, sex=person.sex.value, home_area=person.home_area_id,
        household=person.household_id, tags=list(person.tags), created_at=person.created_at,
        updated_at=person.updated_at,
    )
