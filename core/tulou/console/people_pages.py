"""The people and households pages: thin handlers over :mod:`tulou.console.people_directory` and
:mod:`tulou.console.people_imports`.

Each takes the guard of its API route (``person:read``, ``household:read``, and for
showing full numbers ``person:read_sensitive``); the services then keep to the caller's
areas, so another township's resident is "not found", as through the API.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, FromQuery

from tulou.console import people_directory as directory
from tulou.console.area_pages import uploaded_file
from tulou.console.layout import CONSOLE, fragment, page, see_other
from tulou.console.people_imports import ERRORS_SHOWN, JobState, PeopleImports
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.identity.people import READ_SENSITIVE
from tulou.identity.routes import caller, cipher_for
from tulou.security.guards import requires

READ_PEOPLE = requires("person:read")
READ_HOUSEHOLDS = requires("household:read")
REVEAL = requires(READ_SENSITIVE)
IMPORT_PEOPLE = requires("person:write")
#: A page with full numbers on it is kept by no cache, the browser's included.
NOT_STORED = CacheControlHeader(no_store=True)


def from_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


class PeopleController(Controller):
    path = f"{CONSOLE}/people"
    include_in_schema = False

    @get("/", guards=[READ_PEOPLE])
    async def search_page(self, request: Request, name: FromQuery[str | None] = None,
                          area: FromQuery[str | None] = None, offset: FromQuery[int] = 0) -> Any:
        principal = await caller(request)
        try:
            found = await directory.search_by_name(principal, cipher_for(request), name, area, max(0, offset))
        except Invalid as refused:
            errors = {refused.field or "name": refused.detail}
            return await self._results(request, directory.FoundPeople([], 0, 0), name, area, errors)
        return await self._results(request, found, name, area)

    @post("/", guards=[READ_PEOPLE])
    async def lookup(self, request: Request) -> Any:
        """By resident ID, sent in a form so the number never sits in an address, a log or the history."""
        number = str((await request.form()).get("resident_id") or "").strip()
        try:
            if not number:
                raise Invalid(_("Enter the 18 characters of the resident ID number"), field="resident_id")
            found = await directory.search_by_resident_id(await caller(request), cipher_for(request), number)
        except Invalid as refused:
            return await self._results(request, None, None, None, {"resident_id": refused.detail})
        response = await self._results(request, found, None, None)
        response.headers["Cache-Control"] = NOT_STORED.to_header()
        return response

    async def _results(self, request: Request, found: directory.FoundPeople | None, name: str | None,
                       area: str | None, errors: dict[str, str] | None = None) -> Any:
        found = found or directory.FoundPeople([], 0, 0)
        areas = await directory.areas_named(person.home_area for person in found.people)
        return await page(request, "people.html", status=422 if errors else 200, found=found, areas=areas,
                          errors=errors or {}, name=name or "", area=area or "",
                          may_import=(await caller(request)).has_permission("person:write"))

    @get("/{person_id:int}", guards=[READ_PEOPLE])
    async def person_page(self, request: Request, person_id: FromPath[int]) -> Any:
        card = await directory.person_card(await caller(request), cipher_for(request), person_id)
        return await self._person(request, card)

    @post("/{person_id:int}/reveal", guards=[REVEAL])
    async def reveal(self, request: Request, person_id: FromPath[int]) -> Any:
        """Full numbers, after the read is audited with the purpose given; shown once, never cached or redirected to."""
        principal, cipher = await caller(request), cipher_for(request)
        purpose = str((await request.form()).get("purpose") or "").strip()
        if not purpose or len(purpose) > directory.PURPOSE_LENGTH:
            card = await directory.person_card(principal, cipher, person_id)
            message = _("Say why you need the full numbers (at most %(max)d characters)") % {
                "max": directory.PURPOSE_LENGTH}
            return await self._person(request, card, errors={"purpose": message}, status=422)
        card = await directory.person_card(principal, cipher, person_id, purpose)
        response = await self._person(request, card)
        response.headers["Cache-Control"] = NOT_STORED.to_header()
        return response

    async def _person(self, request: Request, card: directory.PersonCard, errors: dict[str, str] | None = None,
                      status: int = 200) -> Any:
        areas = await directory.areas_named([card.person.home_area])
        vocabulary = request.app.state.platform.person_tags
        tags = [vocabulary.entries[code].title() if code in vocabulary.entries else code for code in card.person.tags]
        return await page(request, "person.html", status=status, card=card, area=areas.get(card.person.home_area),
                          tags=tags, head_name=directory.head_name, errors=errors or {},
                          may_read_households=(await caller(request)).has_permission("household:read"))


class PeopleImportController(Controller):
    path = f"{CONSOLE}/people/import"
    include_in_schema = False

    @get("/", guards=[IMPORT_PEOPLE])
    async def import_page(self, request: Request, job: FromQuery[str | None] = None) -> Any:
        """The upload form, or with ``job`` its progress (a fragment when htmx polls) and then its report."""
        if job is None:
            return await page(request, "people_import.html", errors={}, job=None, shown=ERRORS_SHOWN)
        found = imports(request).get(job, await caller(request))
        context = {"job": found, "shown": ERRORS_SHOWN, "checking": found.state is JobState.CHECKING}
        if from_htmx(request):
            return fragment(request, "people_import_status.html", **context)
        return await page(request, "people_import.html", errors={}, **context)

    @post("/", guards=[IMPORT_PEOPLE])
    async def upload(self, request: Request) -> Any:
        principal = await caller(request)
        platform = request.app.state.platform
        try:
            upload = await uploaded_file(request)
            skip_invalid = (await request.form()).get("skip_invalid") == "on"
            job = imports(request).start(principal, cipher_for(request), platform.person_tags, upload.filename,
                                         await upload.read(), skip_invalid=skip_invalid)
        except Invalid as refused:
            return await page(request, "people_import.html", status=422, errors={"file": refused.detail}, job=None,
                              shown=ERRORS_SHOWN)
        return see_other(f"{self.path}?job={job.id}")


def imports(request: Request) -> PeopleImports:
    return request.app.state.people_imports


class HouseholdsController(Controller):
    path = f"{CONSOLE}/households"
    include_in_schema = False

    @get("/", guards=[READ_HOUSEHOLDS])
    async def households_page(self, request: Request, village: FromQuery[str | None] = None,
                              offset: FromQuery[int] = 0) -> Any:
        principal = await caller(request)
        villages = await directory.villages_in_scope(principal)
        chosen, found, total = None, [], 0
        if village:
            found, total = await directory.village_households(principal, village, max(0, offset))
            chosen = next((area for area in villages if area.code == village), None)
        return await page(request, "households.html", villages=villages, chosen=chosen, households=found,
                          total=total, offset=max(0, offset), page_size=directory.PAGE_SIZE, head_name=directory.head_name)

    @get("/{household_id:int}", guards=[READ_HOUSEHOLDS])
    async def household_page(self, request: Request, household_id: FromPath[int]) -> Any:
        principal = await caller(request)
        household = await directory.household_card(principal, household_id)
        village = (await directory.areas_named([household.village]))[household.village]
        return await page(request, "household.html", household=household, village=village,
                          head_name=directory.head_name, may_read_people=principal.has_permission("person:read"))
