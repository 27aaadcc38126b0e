"""What the sharing pages show: requests waiting for the caller's decision, agreements it is party to, area choices for narrowing.

The lists come from :func:`tulou.exchange.agreements.list_agreements` and the decisions
go through :mod:`tulou.exchange.agreements`, as ``/api/v1/agreements`` does: same
parties, same checks, same audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tulou.areas.codes import is_within
from tulou.areas.models import Area
from tulou.console.actors import actor_names
from tulou.console.translated import in_page_language
from tulou.exchange import agreements
from tulou.exchange.access import now
from tulou.exchange.models import Agreement, AgreementStatus
from tulou.i18n import lazy_gettext
from tulou.security.principal import Principal

LISTED = 100
STATUS_LABELS = {
    AgreementStatus.REQUESTED: lazy_gettext("Waiting for a decision"),
    AgreementStatus.APPROVED: lazy_gettext("Approved"),
    AgreementStatus.REJECTED: lazy_gettext("Rejected"),
    AgreementStatus.REVOKED: lazy_gettext("Revoked"),
}


@dataclass(frozen=True)
class AgreementView:
    """An agreement as a page shows it: names instead of codes and ids, and what the caller may do with it."""

    agreement: Agreement
    dataset_title: str
    state: str
    active: bool
    expired: bool
    requested_by: str
    may_decide: bool

    @property
    def may_revoke(self) -> bool:
        return self.may_decide and self.agreement.status is AgreementStatus.APPROVED


@dataclass(frozen=True)
class AreaChoice:
    """An area the decider may grant: one that was asked for, or a part of one."""

    area: Area
    requested: bool


async def area_names(codes: Iterable[str]) -> dict[str, Area]:
    wanted = set(codes)
    return {area.code: area for area in await Area.filter(code__in=wanted)} if wanted else {}


def state_of(agreement: Agreement, moment: datetime) -> str:
    if agreement.status is AgreementStatus.APPROVED and agreement.expires_at <= moment:
        return str(lazy_gettext("Expired"))
    return str(STATUS_LABELS[agreement.status])


async def views_of(principal: Principal, found: list[Agreement], may_decide: bool) -> list[AgreementView]:
    """``found`` (dataset and grantee fetched) as pages show them; ``may_decide``: the caller holds ``agreement:decide``."""
    moment = now()
    names = await actor_names({agreement.requested_by for agreement in found})
    return [
        AgreementView(
            agreement=agreement, dataset_title=in_page_language(agreement.dataset.title),
            state=state_of(agreement, moment),
            active=agreement.status is AgreementStatus.APPROVED and agreement.expires_at > moment,
            expired=agreement.expires_at <= moment, requested_by=names[agreement.requested_by],
            may_decide=may_decide and agreements.keeps(principal, agreement.dataset),
        )
        for agreement in found
    ]


async def waiting_requests(principal: Principal) -> list[AgreementView]:
    """Requests on the datasets the caller keeps, still waiting for a decision, newest first."""
    found = await agreements.list_agreements(principal, side="keeper", status=AgreementStatus.REQUESTED, limit=LISTED)
    return await views_of(principal, found, may_decide=True)


async def party_agreements(principal: Principal, may_decide: bool) -> list[AgreementView]:
    """Every agreement the caller is party to, as grantee or keeper, newest first."""
    return await views_of(principal, await agreements.list_agreements(principal, limit=LISTED), may_decide)


async def one_agreement(principal: Principal, agreement_id: int, may_decide: bool) -> AgreementView:
    """The agreement if the caller is party to it; 404 otherwise, as the API answers."""
    [view] = await views_of(principal, [await agreements.get_agreement(principal, agreement_id)], may_decide)
    return view


async def area_choices(principal: Principal, agreement: Agreement) -> list[AreaChoice]:
    """The requested areas, each followed by its parts within the caller's areas: what an approval may grant."""
    asked = await area_names(agreement.areas_requested)
    parts = await Area.filter(parent_id__in=list(agreement.areas_requested)).order_by("code")
    choices = []
    for code in agreement.areas_requested:
        if code in asked:
            choices.append(AreaChoice(asked[code], requested=True))
        choices.extend(AreaChoice(part, requested=False) for part in parts
                       if part.parent_id == code and principal.covers(part.code))
    return choices


def outermost(codes: Iterable[str]) -> list[str]:
    """The chosen areas without those inside another chosen one: granting a township grants its villages."""
    chosen = list(dict.fromkeys(code for code in codes if code))
    return [code for code in chosen if not any(other != code and is_within(code, other) for other in chosen)]
