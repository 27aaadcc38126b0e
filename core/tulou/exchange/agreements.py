"""Sharing agreements: an organisation asks to read some fields of a dataset in some areas, for a purpose, until a date.

The request comes from a member of the grantee organisation holding
``agreement:request`` in the areas asked for. The dataset's keepers (members of its
owner or manager organisation, or holders of ``*`` over its area) with
``agreement:decide`` there approve it as asked or narrower, reject it, or later
revoke it. Each step is audited with the purpose; what an agreement lets its
grantee read is decided in :mod:`tulou.exchange.access`.
"""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from tulou.areas.codes import is_within
from tulou.areas.models import Area
from tulou.areas.service import valid_code
from tulou.audit.service import record_audit
from tulou.errors import Conflict, Forbidden, Invalid, NotFound
from tulou.exchange.access import covered, is_keeper, now, overlapping
from tulou.exchange.models import Agreement, AgreementStatus, Dataset, DatasetStatus, DatasetVersion
from tulou.exchange.schemas import AgreementIn, ApprovalIn
from tulou.i18n import gettext as _
from tulou.security.principal import ALL_PERMISSIONS, Principal


def _not_found() -> NotFound:
    return NotFound(_("Agreement not found"), field="agreement_id")


async def _requestable(principal: Principal, dataset_id: str) -> Dataset:
    """A published dataset meeting the caller's areas. Asked for by id: sensitive ones are not listed."""
    dataset = await Dataset.get_or_none(id=dataset_id)
    if dataset is None or dataset.status is not DatasetStatus.PUBLISHED or not overlapping(dataset.area_id, principal.area_roots):
        raise NotFound(_("Dataset not found"), field="dataset")
    return dataset


async def _known_fields(dataset: Dataset, names: Iterable[str]) -> list[str]:
    """The requested fields, each a top-level property of some version of the dataset's schema."""
    known: set[str] = set()
    for schema in await DatasetVersion.filter(dataset_id=dataset.id).values_list("schema", flat=True):
        known.update(schema.get("properties", {}))  # type: ignore[union-attr]
    wanted = sorted(set(names))
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise Invalid(_("Unknown fields: %(names)s") % {"names": ", ".join(unknown)}, field="fields")
    return wanted


async def _requested_area(principal: Principal, dataset: Dataset, code: str) -> str:
    valid_code(code, "areas")
    if not principal.covers(code):
        raise NotFound(_("Area not found"), field="areas")
    if not await Area.exists(code=code):
        raise Invalid(_("Area %(code)s does not exist") % {"code": code}, field="areas")
    if dataset.area_id is None or not is_within(code, dataset.area_id):
        raise Invalid(_("%(code)s is outside the dataset's area") % {"code": code}, field="areas")
    return code


async def request_agreement(principal: Principal, data: AgreementIn) -> Agreement:
    """Ask, for an organisation the caller acts for, to read ``fields`` of a dataset in ``areas``.

    A dataset the caller cannot ask for is a 404 whoever it names as grantee.
    """
    dataset = await _requestable(principal, data.dataset)
    if data.organisation not in principal.organisations:
        raise Forbidden(_("You do not act for this organisation"), field="organisation")
    fields = await _known_fields(dataset, data.fields)
    areas = [await _requested_area(principal, dataset, code) for code in dict.fromkeys(data.areas)]
    if data.expires_at.tzinfo is None or data.expires_at <= now():
        raise Invalid(_("The expiry must be a future time with its time zone"), field="expires_at")
    async with in_transaction():
        agreement = await Agreement.create(
            dataset_id=dataset.id, grantee_id=data.organisation, fields_requested=fields, areas_requested=areas,
            purpose=data.purpose.strip(), expires_at=data.expires_at, requested_by=principal.id,
        )
        await record_audit(
            principal.id, "agreement.requested", area_code=dataset.area_id, target_type="agreement",
            target_id=str(agreement.id), purpose=agreement.purpose,
            detail={"dataset": dataset.id, "grantee": data.organisation, "fields": fields, "areas": areas},
        )
    return agreement


def keeps(principal: Principal, dataset: Dataset) -> bool:
    """Whether the caller decides on the dataset's agreements: a keeper, or ``*`` over its area."""
    return is_keeper(principal, dataset) or (
        dataset.area_id is not None and covered(dataset.area_id, principal.roots_holding(ALL_PERMISSIONS))
    )


async def _party_to(principal: Principal, agreement_id: int) -> Agreement:
    """The agreement, if the caller acts for its grantee or keeps its dataset; 404 otherwise."""
    agreement = await Agreement.get_or_none(id=agreement_id).select_related("dataset", "grantee")
    if agreement is None:
        raise _not_found()
    if agreement.grantee_id not in principal.organisations and not keeps(principal, agreement.dataset):
        raise _not_found()
    return agreement


async def _to_decide(principal: Principal, agreement_id: int, status: AgreementStatus) -> Agreement:
    agreement = await _party_to(principal, agreement_id)
    if not keeps(principal, agreement.dataset):
        raise Forbidden(_("Only the dataset's owner or manager decides on its agreements"))
    if agreement.status is not status:
        raise Conflict(_("The agreement is %(status)s") % {"status": agreement.status.value}, field="status")
    return agreement


def _narrowed_fields(agreement: Agreement, fields: list[str] | None) -> list[str]:
    granted = sorted(set(fields)) if fields is not None else list(agreement.fields_requested)
    wider = [name for name in granted if name not in agreement.fields_requested]
    if not granted or wider:
        raise Invalid(_("Grant some of the requested fields and no others"), field="fields")
    return granted


def _narrowed_areas(principal: Principal, agreement: Agreement, areas: list[str] | None) -> list[str]:
    granted = list(dict.fromkeys(valid_code(code, "areas") for code in areas)) if areas is not None \
        else list(agreement.areas_requested)
    if not granted or not all(any(is_within(code, asked) for asked in agreement.areas_requested) for code in granted):
        raise Invalid(_("Grant some of the requested areas, or parts of them, and nothing else"), field="areas")
    if not all(principal.covers(code) for code in granted):
        raise Forbidden(_("You cannot decide for areas outside yours"), field="areas")
    return granted


async def _decide(principal: Principal, agreement: Agreement, action: str, changes: dict[str, object]) -> Agreement:
    """Write the decision and its audit entry together."""
    async with in_transaction():
        await Agreement.filter(id=agreement.id).update(**changes)
        await record_audit(
            principal.id, action, area_code=agreement.dataset.area_id, target_type="agreement",
            target_id=str(agreement.id), purpose=agreement.purpose,
            detail={"dataset": agreement.dataset_id, "grantee": agreement.grantee_id,
                    **{key: value for key, value in changes.items() if key in ("fields_granted", "areas_granted")}},
        )
    return await Agreement.get(id=agreement.id).select_related("dataset", "grantee")


async def approve(principal: Principal, agreement_id: int, data: ApprovalIn) -> Agreement:
    """Approve as requested or narrower; the grantee reads under it from its next request."""
    agreement = await _to_decide(principal, agreement_id, AgreementStatus.REQUESTED)
    if agreement.expires_at <= now():
        raise Conflict(_("The request has expired"), field="expires_at")
    return await _decide(principal, agreement, "agreement.approved", {
        "status": AgreementStatus.APPROVED, "fields_granted": _narrowed_fields(agreement, data.fields),
        "areas_granted": _narrowed_areas(principal, agreement, data.areas),
        "decided_by": principal.id, "decided_at": now(), "decision_note": data.note,
    })


async def reject(principal: Principal, agreement_id: int, note: str) -> Agreement:
    agreement = await _to_decide(principal, agreement_id, AgreementStatus.REQUESTED)
    return await _decide(principal, agreement, "agreement.rejected", {
        "status": AgreementStatus.REJECTED, "decided_by": principal.id, "decided_at": now(), "decision_note": note,
    })


async def revoke(principal: Principal, agreement_id: int, note: str) -> Agreement:
    """End an approved agreement: its grantee reads nothing more under it, from the next request on."""
    agreement = await _to_decide(principal, agreement_id, AgreementStatus.APPROVED)
    return await _decide(principal, agreement, "agreement.revoked", {
        "status": AgreementStatus.REVOKED, "revoked_by": principal.id, "revoked_at": now(), "decision_note": note,
    })


async def get_agreement(principal: Principal, agreement_id: int) -> Agreement:
    return await _party_to(principal, agreement_id)


async def _kept_datasets(principal: Principal) -> Q | None:
    """Datasets whose agreements the caller decides on, as a filter on agreements; ``None`` for all of them."""
    organisations = list(principal.organisations)
    kept = Q(dataset__owner_id__in=organisations) | Q(dataset__manager_id__in=organisations)
    everything = principal.roots_holding(ALL_PERMISSIONS)
    if everything is None:
        return None
    if everything:
        areas = await Dataset.filter(area_id__not_isnull=True).values_list("id", "area_id")
        kept |= Q(dataset_id__in=[key for key, area in areas if covered(area, everything)])
    return kept


async def list_agreements(principal: Principal, side: str | None = None, dataset: str | None = None,
                          status: AgreementStatus | None = None, limit: int = 50, offset: int = 0) -> list[Agreement]:
    """The agreements the caller is party to, newest first: as grantee (``side="grantee"``), as keeper, or both."""
    parties = [Q(grantee_id__in=list(principal.organisations))] if side in (None, "grantee") else []
    if side in (None, "keeper"):
        kept = await _kept_datasets(principal)
        parties.append(kept if kept is not None else Q(id__gt=0))
    query = Agreement.filter(Q(*parties, join_type=Q.OR))
    if dataset is not None:
        query = query.filter(dataset_id=dataset)
    if status is not None:
        query = query.filter(status=status)
    return await query.select_related("dataset", "grantee").order_by("-id").offset(offset).limit(limit)
