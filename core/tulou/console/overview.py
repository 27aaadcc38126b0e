"""The overview: the caller's part of the area tree, each township's modules, devices, alerts and failing jobs,
and recent audit events.

Everything is counted within the caller's areas only, and device counts, failing jobs and
audit events only where the caller holds ``device:read``, ``jobs:manage`` and ``audit:read``,
as the API's routes and the jobs page require: a township's staff never see another township, not even as a number.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tortoise.expressions import Q
from tortoise.functions import Count, Max

from tulou.areas.codes import AreaLevel, township_code
from tulou.areas.models import Area
from tulou.areas.service import in_subtrees
from tulou.audit.models import AuditEntry
from tulou.audit.service import scoped_entries
from tulou.console.actors import actor_names
from tulou.console.audit_labels import action_label
from tulou.console.job_board import MANAGE as JOBS_MANAGE
from tulou.devices.alert_models import Alert
from tulou.devices.models import Connection, Device, DeviceStatus
from tulou.jobs.models import JobOutcome, JobRun
from tulou.modules.models import ModuleActivation
from tulou.platform import Platform
from tulou.plugins.manifest import ActivationPolicy
from tulou.security.principal import Principal

RECENT_EVENTS = 10


@dataclass
class DeviceCounts:
    online: int = 0
    offline: int = 0
    unknown: int = 0
    open_alerts: int = 0


@dataclass
class TownshipSummary:
    """What the overview says of one township."""

    modules_on: int
    modules_off: int
    may_manage_modules: bool
    devices: DeviceCounts | None  # None: the caller may not read the township's devices
    failing_jobs: int | None = None  # None: the caller may not see the jobs page


@dataclass
class AreaNode:
    area: Area
    children: list[AreaNode] = field(default_factory=list)
    township: TownshipSummary | None = None


@dataclass(frozen=True)
class RecentEvent:
    entry: AuditEntry
    actor: str
    label: str
    area: Area | None


@dataclass
class Overview:
    tree: list[AreaNode]
    events: list[RecentEvent] | None  # None: the caller may not read the audit log


def _scope_filter(roots: tuple[str, ...] | None, column: str) -> Q:
    return Q() if roots is None else in_subtrees(roots, column)


def build_tree(areas: list[Area]) -> list[AreaNode]:
    """Nest areas under their parents; an area whose parent is not in the list is a root."""
    nodes = {area.code: AreaNode(area) for area in areas}
    roots: list[AreaNode] = []
    for area in areas:  # in code order, so parents come before children
        parent = nodes.get(area.parent_id or "")
        (parent.children if parent else roots).append(nodes[area.code])
    return roots


async def _modules_on(platform: Platform, roots: tuple[str, ...] | None) -> Counter[str]:
    """Working optional and automatic modules switched on, per township in scope."""
    usable = {record.name for record in platform.plugins.usable()}
    pairs = await ModuleActivation.filter(_scope_filter(roots, "area_id")).values_list("area_id", "plugin")
    return Counter(area for area, plugin in pairs if plugin in usable)


async def _device_counts(principal: Principal) -> dict[str, DeviceCounts]:
    """Active devices by connection state, per township where the caller may read devices."""
    roots = principal.roots_holding("device:read")
    if roots == ():
        return {}
    rows = await (
        Device.filter(_scope_filter(roots, "area_id"), status=DeviceStatus.ACTIVE)
        .annotate(count=Count("id")).group_by("area_id", "connection").values("area_id", "connection", "count")
    )
    counts: dict[str, DeviceCounts] = {}
    for row in rows:
        township = township_code(row["area_id"])
        if township is None:
            continue
        found = counts.setdefault(township, DeviceCounts())
        state = Connection(row["connection"]).value
        setattr(found, state, getattr(found, state) + row["count"])
    await _count_open_alerts(roots, counts)
    return counts


async def _count_open_alerts(roots: tuple[str, ...] | None, counts: dict[str, DeviceCounts]) -> None:
    """Add each township's open alerts (read, as devices are, with ``device:read``) to its counts."""
    rows = await (
        Alert.filter(_scope_filter(roots, "area_id"), cleared_at=None)
        .annotate(count=Count("id")).group_by("area_id").values("area_id", "count")
    )
    for row in rows:
        township = township_code(row["area_id"])
        if township is not None:
            counts.setdefault(township, DeviceCounts()).open_alerts += row["count"]


async def _failing_jobs(principal: Principal) -> Counter[str]:
    """Per township, the jobs whose latest run there failed, among the runs the jobs page shows the caller."""
    roots = principal.roots_holding(JOBS_MANAGE)
    latest = await (
        JobRun.filter(_scope_filter(roots, "area_code"), area_code__isnull=False)
        .annotate(last=Max("id")).group_by("job_id", "area_code").values_list("job_id", "area_code", "last")
    )
    failed = await JobRun.filter(id__in=[last for _job, _area, last in latest], outcome=JobOutcome.FAILED
                                 ).values_list("area_code", flat=True)
    return Counter(town for code in failed if (town := township_code(str(code))) is not None)


async def _summaries(platform: Platform, principal: Principal, townships: list[Area]) -> dict[str, TownshipSummary]:
    usable = platform.plugins.usable()
    required = sum(record.activation is ActivationPolicy.REQUIRED for record in usable)
    switched_on = await _modules_on(platform, principal.area_roots)
    devices = await _device_counts(principal)
    failing = await _failing_jobs(principal) if principal.has_permission(JOBS_MANAGE) else None
    summaries = {}
    for township in townships:
        on = required + switched_on[township.code]
        may_read_devices = principal.has_permission("device:read", township.code)
        summaries[township.code] = TownshipSummary(
            modules_on=on, modules_off=len(usable) - on,
            may_manage_modules=principal.has_permission("modules:manage", township.code),
            devices=devices.get(township.code, DeviceCounts()) if may_read_devices else None,
            failing_jobs=failing[township.code] if failing is not None else None,
        )
    return summaries


async def _recent_events(principal: Principal, areas: dict[str, Area]) -> list[RecentEvent] | None:
    if not principal.has_permission("audit:read"):
        return None
    entries = await (await scoped_entries(principal.narrowed_to("audit:read"))).order_by("-id").limit(RECENT_EVENTS)
    names = await actor_names({entry.actor for entry in entries})
    return [
        RecentEvent(entry, names[entry.actor], action_label(entry.action), areas.get(entry.area_code or ""))
        for entry in entries
    ]


async def overview(platform: Platform, principal: Principal) -> Overview:
    """The overview of everything in the caller's areas."""
    areas = await Area.filter(_scope_filter(principal.area_roots, "code")).order_by("code")
    townships = [area for area in areas if area.level is AreaLevel.TOWNSHIP]
    tree = build_tree(areas)
    summaries = await _summaries(platform, principal, townships)
    _attach(tree, summaries)
    return Overview(tree=tree, events=await _recent_events(principal, {area.code: area for area in areas}))


def _attach(nodes: list[AreaNode], summaries: dict[str, TownshipSummary]) -> None:
    for node in nodes:
        node.township = summaries.get(node.area.code)
        _attach(node.children, summaries)
