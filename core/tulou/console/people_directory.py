"""What the people and households pages show: the identity services' answers, with the areas' names.

Every read goes through :mod:`tulou.identity.people` and :mod:`tulou.identity.households`,
as the API's routes do: the same scope (404 outside the caller's areas), the same
masking, the same audit of lookups by resident ID and of every unmasked read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.areas.service import in_subtrees
from tulou.errors import NotFound
from tulou.identity import households, people
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.models import Household
from tulou.identity.schemas import HouseholdOut, PersonOut, household_out
from tulou.security.principal import Principal

PAGE_SIZE = 50
PURPOSE_LENGTH = 500


@dataclass(frozen=True)
class FoundPeople:
    """One page of a search, masked; ``by_id`` when it was an exact lookup by resident ID."""

    people: list[PersonOut]
    total: int
    offset: int
    by_id: bool = False

    @property
    def next_offset(self) -> int | None:
        return self.offset + PAGE_SIZE if self.offset + PAGE_SIZE < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - PAGE_SIZE) if self.offset else None


@dataclass(frozen=True)
class PersonCard:
    """A person as the caller may see them, their household and its members."""

    person: PersonOut
    household: HouseholdOut | None
    may_reveal: bool


async def areas_named(codes: Iterable[str]) -> dict[str, Area]:
    return {area.code: area for area in await Area.filter(code__in=sorted(set(codes)))}


async def search_by_name(principal: Principal, cipher: PersonalDataCipher, name: str | None, area: str | None,
                         offset: int) -> FoundPeople:
    """A page of the caller's people whose name contains ``name``: the API's search, masked."""
    found, total = await people.search_people(principal, name=name, area=area, limit=PAGE_SIZE, offset=offset)
    shown = [await people.person_out(person, principal, cipher, reveal=False) for person in found]
    return FoundPeople(shown, total, offset)


async def search_by_resident_id(principal: Principal, cipher: PersonalDataCipher, number: str) -> FoundPeople:
    """The one person with this resident ID, through the blind index; the lookup is audited, found or not."""
    try:
        person = await people.lookup_by_resident_id(principal, cipher, number)
    except NotFound:
        return FoundPeople([], 0, 0, by_id=True)
    return FoundPeople([await people.person_out(person, principal, cipher, reveal=False)], 1, 0, by_id=True)


async def person_card(principal: Principal, cipher: PersonalDataCipher, person_id: int,
                      purpose: str | None = None) -> PersonCard:
    """The person, masked unless ``purpose`` is given and the caller holds ``person:read_sensitive`` there.

    An unmasked card is audited with its purpose before it is built (:func:`people.person_out`).
    """
    person = await people.get_person(principal, person_id)
    shown = await people.person_out(person, principal, cipher, purpose, reveal=purpose is not None)
    household = None
    if person.household_id is not None:
        found = await Household.get(id=person.household_id)
        household = household_out(found, (await households.members_of([found]))[found.id])
    return PersonCard(shown, household, people.may_read_sensitive(principal, person))


async def villages_in_scope(principal: Principal) -> list[Area]:
    """The villages and communities in the caller's areas, for the households page's picker."""
    query = Area.filter(level=AreaLevel.VILLAGE)
    if principal.area_roots is not None:
        query = query.filter(in_subtrees(principal.area_roots, "code"))
    return await query.order_by("code")


async def village_households(principal: Principal, village: str, offset: int) -> tuple[list[HouseholdOut], int]:
    """A page of one village's households with their members' names; the village must be the caller's."""
    found, total = await households.list_households(principal, village, PAGE_SIZE, offset)
    members = await households.members_of(found)
    return [household_out(household, members[household.id]) for household in found], total


async def household_card(principal: Principal, household_id: int) -> HouseholdOut:
    household = await households.get_household(principal, household_id)
    return household_out(household, (await households.members_of([household]))[household.id])


def head_name(household: HouseholdOut) -> str | None:
    return next((member.name for member in household.members if member.id == household.head), None)

