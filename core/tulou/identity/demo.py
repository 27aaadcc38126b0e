"""The demo county's organisations: its bureaus, a government for each township, a
committee for each village, a vendor and a telecom integrator.

They give a trial instance someone to own datasets, to run system clients and to
employ staff. The names are fictional, like the county. Loading twice changes nothing.
"""

from __future__ import annotations

from tulou.areas.codes import AreaLevel
from tulou.areas.demo import DEMO_COUNTY_CODE
from tulou.areas.models import Area
from tulou.identity.models import Organisation, OrganisationKind
from tulou.identity.organisations import create_organisation
from tulou.identity.schemas import OrganisationIn
from tulou.security.principal import Principal

COUNTY_BODIES: tuple[tuple[str, OrganisationKind], ...] = (
    ("云溪县农业农村局", OrganisationKind.DEPARTMENT),
    ("云溪县民政局", OrganisationKind.DEPARTMENT),
    ("云溪县大数据中心", OrganisationKind.DEPARTMENT),
    ("云溪智农科技有限公司", OrganisationKind.VENDOR),
    ("云溪县通信网络集成服务公司", OrganisationKind.INTEGRATOR),
)


def _body_of(area: Area) -> tuple[str, OrganisationKind]:
    """The government of a township, or the committee of a village or urban community."""
    if area.level == AreaLevel.TOWNSHIP:
        return f"{area.name}人民政府", OrganisationKind.TOWNSHIP_GOVERNMENT
    committee = "居民委员会" if area.name.endswith("社区") else "村民委员会"
    return f"{area.name}{committee}", OrganisationKind.VILLAGE_COMMITTEE


async def load_demo_organisations(principal: Principal) -> int:
    """Create whichever demo organisations are missing; the number created."""
    wanted = [(name, kind, DEMO_COUNTY_CODE) for name, kind in COUNTY_BODIES]
    below = await Area.filter(code__startswith=DEMO_COUNTY_CODE[:6]).exclude(code=DEMO_COUNTY_CODE).order_by("code")
    wanted += [(*_body_of(area), area.code) for area in below]
    existing = set(await Organisation.all().values_list("name", "area_id"))
    created = 0
    for name, kind, area in wanted:
        if (name, area) not in existing:
            await create_organisation(principal, OrganisationIn(name=name, kind=kind, area=area))
            created += 1
    return created
