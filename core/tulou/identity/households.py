"""Households: a village's registered households, their members and their head.

Every change commits together with its audit entry. Member listings carry names and
ids only, read without the ciphertext columns, so nothing here ever decrypts.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Conflict, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.models import Household, Person
from tulou.identity.people import visible_people
from tulou.identity.schemas import HouseholdIn, MemberOut
from tulou.identity.scope import area_in_scope, within
from tulou.security.principal import Principal


def _visible(principal: Principal) -> QuerySet[Household]:
    return Household.filter(within(principal, "village_id"))


def _duplicate_number() -> Conflict:
    return Conflict(_("A household with this number is already registered in the village"), field="number")


async def _audit(principal: Principal, action: str, household: Household, person_id: int | None = None) -> None:
    await record_audit(
        principal.id, action, area_code=household.village_id, target_type="household",
        target_id=str(household.id), detail=None if person_id is None else {"person": person_id},
    )


async def create_household(principal: Principal, data: HouseholdIn) -> Household:
    """Register a household in a village the caller covers; its number is unique within the village."""
    number = data.number.strip()
    if not number:
        raise Invalid(_("A household number is required"), field="number")
    village = await area_in_scope(principal, data.village, "village", village=True)
    if await Household.filter(village_id=village.code, number=number).exists():
        raise _duplicate_number()
    try:
        async with in_transaction():
            household = await Household.create(number=number, address=data.address.strip(), village=village)
            await _audit(principal, "household.created", household)
    except IntegrityError:  # registered concurrently between the check and the insert
        raise _duplicate_number() from None
    return household


async def get_household(principal: Principal, household_id: int) -> Household:
    """One household, or 404 when absent or outside the caller's areas (the same answer, no leak)."""
    household = await _visible(principal).get_or_none(id=household_id)
    if household is None:
        raise NotFound(_("Household not found"), field="household_id")
    return household


async def list_households(
    principal: Principal, village: str, limit: int = 50, offset: int = 0
) -> tuple[list[Household], int]:
    """One page of a village's households, by number; the village must be in the caller's areas."""
    area = await area_in_scope(principal, village, "village", village=True)
    query = Household.filter(village_id=area.code)
    return await query.order_by("number", "id").offset(offset).limit(limit), await query.count()


async def members_of(households: list[Household]) -> dict[int, list[MemberOut]]:
    """Each household's members by id, as names and ids only, in one query."""
    found: dict[int, list[MemberOut]] = {household.id: [] for household in households}
    rows = await Person.filter(household_id__in=list(found)).order_by("id").values("id", "name", "household_id")
    for row in rows:
        found[row["household_id"]].append(MemberOut(id=row["id"], name=row["name"]))
    return found


async def _resident_of(principal: Principal, household: Household, person_id: int) -> Person:
    """A person the caller covers whose home is the household's village, else 422 on ``person``."""
    person = await visible_people(principal).get_or_none(id=person_id)
    if person is None:
        raise Invalid(_("Person %(id)s does not exist") % {"id": person_id}, field="person")
    if person.home_area_id != household.village_id:
        raise Invalid(_("Person %(id)s does not live in the household's village") % {"id": person_id}, field="person")
    return person


async def add_member(principal: Principal, household_id: int, person_id: int) -> Household:
    """Make a resident of the household's village a member; someone in another household is a 409.

    Adding a current member again changes nothing and writes no audit entry.
    """
    household = await get_household(principal, household_id)
    person = await _resident_of(principal, household, person_id)
    if person.household_id == household.id:
        return household
    async with in_transaction():
        # Conditional, so two requests cannot both place one person in different households.
        placed = await Person.filter(id=person.id, household_id=None).update(household_id=household.id)
        if not placed:
            raise Conflict(_("Person %(id)s already belongs to another household") % {"id": person_id}, field="person")
        await _audit(principal, "household.member_added", household, person.id)
    return household


async def _locked(household: Household) -> Household:
    """The household re-read under a row lock (PostgreSQL), so membership and head change in turn."""
    return await Household.filter(id=household.id).select_for_update().get()


async def remove_member(principal: Principal, household_id: int, person_id: int) -> Household:
    """Take a member out of the household; removing the head leaves the household without one."""
    household = await get_household(principal, household_id)
    async with in_transaction():
        household = await _locked(household)
        removed = await Person.filter(id=person_id, household_id=household.id).update(household_id=None)
        if not removed:
            raise NotFound(_("Person %(id)s is not a member of this household") % {"id": person_id}, field="person_id")
        if household.head_id == person_id:
            household.head_id = None
            await household.save(update_fields=["head_id"])
        await _audit(principal, "household.member_removed", household, person_id)
    return household


async def set_head(principal: Principal, household_id: int, person_id: int) -> Household:
    """Name one of the household's members its head."""
    household = await get_household(principal, household_id)
    async with in_transaction():
        household = await _locked(household)
        if not await Person.filter(id=person_id, household_id=household.id).exists():
            raise Invalid(_("The head must be a member of the household"), field="person")
        household.head_id = person_id
        await household.save(update_fields=["head_id"])
        await _audit(principal, "household.head_set", household, person_id)
    return household
