"""``/api/v1/people``, ``organisations`` and ``households``: thin controllers over the identity services.

The guards check permissions; the services check the areas in bodies, queries and
objects, since none of these routes carries an area in its path.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.identity import households, organisations, people
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.models import Household, OrganisationKind
from tulou.identity.schemas import (
    HeadIn, HouseholdIn, HouseholdOut, LookupIn, MemberIn, OrganisationIn, OrganisationOut, Page, PersonIn, PersonOut,
    PersonPatch, PersonTagOut, household_out, organisation_out,
)
from tulou.identity.scope import clamp
from tulou.security.guards import current_principal, requires, signed_in
from tulou.security.principal import Principal

Purpose = Annotated[str | None, QueryParameter(description="why the full numbers are needed; audited", max_length=500)]


async def caller(request: Request) -> Principal:
    principal = await current_principal(request)
    assert principal is not None  # the guard admitted the caller
    return principal


def cipher_for(request: Request) -> PersonalDataCipher:
    return PersonalDataCipher.from_settings(request.app.state.platform.settings)


class PersonController(Controller):
    path = "/api/v1/people"
    tags = ["people"]

    @post("/", guards=[requires("person:write")], summary="Register a resident")
    async def create(self, request: Request, data: JSONBody[PersonIn]) -> PersonOut:
        principal, cipher = await caller(request), cipher_for(request)
        person = await people.create_person(principal, cipher, request.app.state.platform.person_tags, data)
        return await people.person_out(person, principal, cipher, reveal=False)

    @get("/", guards=[requires("person:read")], summary="Search people by name within the caller's areas (masked)")
    async def search(
        self,
        request: Request,
        name: Annotated[str | None, QueryParameter(description="part of the name")] = None,
        area: Annotated[str | None, QueryParameter(description="only this area's subtree")] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> Page:
        principal, cipher = await caller(request), cipher_for(request)
        limit = clamp(limit)
        found, total = await people.search_people(principal, name=name, area=area, limit=limit, offset=offset)
        items = [await people.person_out(p, principal, cipher, reveal=False) for p in found]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/lookup", guards=[requires("person:read")], status_code=200, summary="Find one person by resident ID")
    async def lookup(self, request: Request, data: JSONBody[LookupIn]) -> PersonOut:
        principal, cipher = await caller(request), cipher_for(request)
        person = await people.lookup_by_resident_id(principal, cipher, data.resident_id, data.purpose)
        return await people.person_out(person, principal, cipher, data.purpose)

    @get("/{person_id:int}", guards=[requires("person:read")], summary="One person; full numbers need person:read_sensitive")
    async def read(self, request: Request, person_id: FromPath[int], purpose: Purpose = None) -> PersonOut:
        principal, cipher = await caller(request), cipher_for(request)
        person = await people.get_person(principal, person_id)
        return await people.person_out(person, principal, cipher, purpose)

    @patch("/{person_id:int}", guards=[requires("person:write")], summary="Change some of a person's fields")
    async def update(self, request: Request, person_id: FromPath[int], data: JSONBody[PersonPatch]) -> PersonOut:
        principal, cipher = await caller(request), cipher_for(request)
        person = await people.update_person(principal, cipher, request.app.state.platform.person_tags, person_id, data)
        return await people.person_out(person, principal, cipher, reveal=False)


class PersonTagController(Controller):
    path = "/api/v1/person-tags"
    tags = ["people"]

    @get("/", guards=[signed_in], summary="The tags a person may carry, with titles in the caller's language")
    async def list_tags(self, request: Request) -> list[PersonTagOut]:
        vocabulary = request.app.state.platform.person_tags
        return [
            PersonTagOut(code=code, title=entry.title(), description=str(entry.tag.description), plugin=entry.plugin)
            for code, entry in vocabulary.entries.items()
        ]


class OrganisationController(Controller):
    path = "/api/v1/organisations"
    tags = ["organisations"]

    @post("/", guards=[requires("organisation:write")], summary="Create an organisation")
    async def create(self, request: Request, data: JSONBody[OrganisationIn]) -> OrganisationOut:
        return organisation_out(await organisations.create_organisation(await caller(request), data))

    @get("/", guards=[requires("organisation:read")], summary="Organisations within the caller's areas")
    async def list_organisations(
        self,
        request: Request,
        area: Annotated[str | None, QueryParameter(description="only this area's subtree")] = None,
        kind: Annotated[OrganisationKind | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> Page:
        limit = clamp(limit)
        found, total = await organisations.list_organisations(await caller(request), area, kind, limit, offset)
        return Page(items=[organisation_out(o) for o in found], total=total, limit=limit, offset=offset)

    @get("/{organisation_id:int}", guards=[requires("organisation:read")], summary="One organisation")
    async def read(self, request: Request, organisation_id: FromPath[int]) -> OrganisationOut:
        return organisation_out(await organisations.get_organisation(await caller(request), organisation_id))


async def households_out(found: list[Household]) -> list[HouseholdOut]:
    members = await households.members_of(found)
    return [household_out(household, members[household.id]) for household in found]


class HouseholdController(Controller):
    path = "/api/v1/households"
    tags = ["households"]

    @post("/", guards=[requires("household:write")], summary="Register a household in a village")
    async def create(self, request: Request, data: JSONBody[HouseholdIn]) -> HouseholdOut:
        household = await households.create_household(await caller(request), data)
        return household_out(household, [])

    @get("/", guards=[requires("household:read")], summary="One village's households, with their members' names")
    async def list_households(
        self,
        request: Request,
        village: Annotated[str, QueryParameter(description="12-digit code of a village in the caller's areas")],
        limit: Annotated[int, QueryParameter(ge=1)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> Page:
        limit = clamp(limit)
        found, total = await households.list_households(await caller(request), village, limit, offset)
        return Page(items=await households_out(found), total=total, limit=limit, offset=offset)

    @get("/{household_id:int}", guards=[requires("household:read")], summary="One household and its members")
    async def read(self, request: Request, household_id: FromPath[int]) -> HouseholdOut:
        household = await households.get_household(await caller(request), household_id)
        return (await households_out([household]))[0]

    @post(
        "/{household_id:int}/members", guards=[requires("household:write")], status_code=200,
        summary="Add a resident of the household's village as a member",
    )
    async def add_member(self, request: Request, household_id: FromPath[int], data: JSONBody[MemberIn]) -> HouseholdOut:
        household = await households.add_member(await caller(request), household_id, data.person)
        return (await households_out([household]))[0]

    @delete(
        "/{household_id:int}/members/{person_id:int}", guards=[requires("household:write")], status_code=200,
        summary="Remove a member; removing the head leaves the household without one",
    )
    async def remove_member(self, request: Request, household_id: FromPath[int], person_id: FromPath[int]) -> HouseholdOut:
        household = await households.remove_member(await caller(request), household_id, person_id)
        return (await households_out([household]))[0]

    @put("/{household_id:int}/head", guards=[requires("household:write")], summary="Name a member the household's head")
    async def set_head(self, request: Request, household_id: FromPath[int], data: JSONBody[HeadIn]) -> HouseholdOut:
        household = await households.set_head(await caller(request), household_id, data.person)
        return (await households_out([household]))[0]
