"""Organisations: created, read and changed only within the caller's areas."""

from __future__ import annotations

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.models import Organisation, OrganisationKind
from tulou.identity.schemas import OrganisationIn
from tulou.identity.scope import area_in_scope, in_subtrees, within
from tulou.security.principal import Principal


async def create_organisation(principal: Principal, data: OrganisationIn) -> Organisation:
    """A new organisation in an area the caller covers; its parent must be visible to the caller too."""
    name = data.name.strip()
    if not name:
        raise Invalid(_("A name is required"), field="name")
    area = await area_in_scope(principal, data.area, "area")
    if data.parent is not None and not await _visible(principal).filter(id=data.parent).exists():
        raise Invalid(_("Parent organisation %(id)s does not exist") % {"id": data.parent}, field="parent")
    async with in_transaction():
        organisation = await Organisation.create(name=name, kind=data.kind, area=area, parent_id=data.parent)
        await record_audit(
            principal.id, "organisation.created", area_code=area.code, target_type="organisation",
            target_id=str(organisation.id), detail={"kind": data.kind.value},
        )
    return organisation


def _visible(principal: Principal) -> QuerySet[Organisation]:
    return Organisation.filter(within(principal, "area_id"))


async def get_organisation(principal: Principal, organisation_id: int) -> Organisation:
    organisation = await _visible(principal).get_or_none(id=organisation_id)
    if organisation is None:
        raise NotFound(_("Organisation not found"), field="organisation_id")
    return organisation


async def update_organisation(
    principal: Principal, organisation_id: int, name: str, kind: OrganisationKind
) -> Organisation:
    """Rename an organisation or change its kind; it stays in its area, so it cannot leave the caller's scope."""
    organisation = await get_organisation(principal, organisation_id)
    name = name.strip()
    if not name:
        raise Invalid(_("A name is required"), field="name")
    changes = {key: value for key, value in (("name", name), ("kind", kind))
               if getattr(organisation, key) != value}
    if not changes:
        return organisation
    async with in_transaction():
        await Organisation.filter(id=organisation.id).update(**changes)
        await record_audit(
            principal.id, "organisation.changed", area_code=organisation.area_id, target_type="organisation",
            target_id=str(organisation.id),
            detail={key: getattr(value, "value", value) for key, value in changes.items()},
        )
    return await Organisation.get(id=organisation.id)


async def list_organisations(
    principal: Principal, area: str | None = None, kind: OrganisationKind | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Organisation], int]:
    """One page of the organisations in the caller's areas, optionally one area's subtree or one kind."""
    query = _visible(principal)
    if area is not None:
        root = await area_in_scope(principal, area, "area")
        query = query.filter(in_subtrees((root.code,), "area_id"))
    if kind is not None:
        query = query.filter(kind=kind)
    return await query.order_by("id").offset(offset).limit(limit), await query.count()

