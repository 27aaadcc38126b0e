"""How the isolation matrix aims every route of the app at another township, and judges the answer.

The tables here say, for each path parameter, query parameter and request body the
routes take, how to make it name township B's objects. A route the tables cannot aim
makes ``test_every_route_can_be_aimed`` fail with a message saying which line to add:
nobody adds a route that escapes the matrix without noticing.
"""

from __future__ import annotations

import json
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from litestar import Litestar
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from tortoise import Tortoise, connections
from tortoise.expressions import Q

from tests.core.test_accounts import PASSWORD
from tests.core.test_people import resident_id
from tests.core.test_route_guards import API_DOCS_PREFIX
from tests.exchange.conftest import PLOTS_SCHEMA, plot
from tulou.areas.codes import subtree_prefix
from tulou.devices.telemetry_store import RAW_TABLE
from tulou.plugins.registry import LITESTAR_OPTIONS_HANDLER
from tulou.security.guards import signed_in
from tulou.security.principal import ALL_PERMISSIONS

NOTICES = "notices"


@dataclass(frozen=True)
class Township:
    """One township's objects that routes can address, and the strings that give its data away."""

    code: str
    village: str
    head_name: str  # the name of the resident heading the household
    member: int  # another member of the household
    newcomer: int  # a resident of the village in no household
    resident_id: str  # the head's full resident ID number
    household: int
    organisation: int
    account: int  # the township clerk's account, homed here
    username: str  # the clerk's
    binding: int  # the clerk's role binding here, the only binding of ``role``
    role: str  # a custom role, bound in the township only
    client: int  # a system client of the organisation, acting in the township
    notice: int  # a current notice on the township's board, published by the clerk
    token: str  # the clerk's access token
    government: int  # the township government: owns and manages ``dataset``, the clerk is its member
    dataset: str  # published, internal, area the township: the catalogue shows it only within
    record: str  # the key of a live record of ``dataset`` in ``village``
    agreement: int  # the cooperative's request to read ``dataset``: the aim approves, then revokes it
    rejectable: int  # another such request, for the aim to reject
    webhook: str  # where the township's subscriptions send events: a receiver that always fails
    subscription: int  # the government's subscription to ``dataset``, made by the county administrator
    delivery: int  # a dead delivery of ``subscription``, for the aim to retry
    device_model: str  # a county model of soil sensor, made for the township's devices
    device: str  # the id of a sensor in ``village``, owned by ``organisation``: online, it has reported
    device_token: str  # the sensor's token
    provisioning_key: int  # a key claiming sensors of ``device_model`` into ``village``
    provisioning_secret: str  # the key's secret
    alert: int  # an open alert of the sensor's own version of its model's rule ``dry``
    personal: tuple[str, ...] = ()  # names, numbers, usernames: in no answer to an outsider, not even an error
    unpublished: tuple[str, ...] = ()  # the rest that no public route may show: households, withdrawn notices...

    @property
    def private(self) -> tuple[str, ...]:
        """Everything another township's staff must never see, down to the township's area codes."""
        return (*self.personal, *self.unpublished, subtree_prefix(self.code))

    def gives_away(self, text: str, markers: tuple[str, ...] | None = None) -> list[str]:
        """Which of ``markers`` (by default everything private) appear in ``text``."""
        return [marker for marker in (self.private if markers is None else markers) if marker in text]


#: Path parameter name -> the township's object it names. Every path parameter of every
#: route must be here; a route's own names must mean the same thing across routes.
PATH_PARAMS: dict[str, Callable[[Township], object]] = {
    "code": lambda t: t.code,
    "area": lambda t: t.code,
    "plugin": lambda t: NOTICES,
    "person_id": lambda t: t.member,
    "household_id": lambda t: t.household,
    "organisation_id": lambda t: t.organisation,
    "binding_id": lambda t: t.binding,
    "notice_id": lambda t: t.notice,
    "account_id": lambda t: t.account,
    "client_id": lambda t: t.client,
    "name": lambda t: t.role,
    "dataset_id": lambda t: t.dataset,
    "version": lambda t: "1.0",
    "key": lambda t: t.record,
    "agreement_id": lambda t: t.agreement,
    "subscription_id": lambda t: t.subscription,
    "delivery_id": lambda t: t.delivery,
    "model_id": lambda t: t.device_model,
    "device_id": lambda t: t.device,
    "key_id": lambda t: t.provisioning_key,
    "alert_id": lambda t: t.alert,
    "rule_id": lambda t: DRY_RULE,
}

#: "METHOD route path" -> path parameters naming another object on that route than elsewhere:
#: an agreement is decided once, so rejecting needs a request nobody approves.
ROUTE_PATH_PARAMS: dict[str, dict[str, Callable[[Township], object]]] = {
    "POST /api/v1/agreements/{agreement_id:int}/reject": {"agreement_id": lambda t: t.rejectable},
}

#: Path parameters naming a county-wide object (a role, a device model), which the
#: township's staff share with everybody: any signed-in caller reads it, but a caller from
#: another township changing or deleting one used in the township is refused (403, not 404:
#: all staff can see that it exists).
COUNTY_WIDE = {"name", "model_id"}


@dataclass(frozen=True)
class Param:
    """A query parameter aimed at a township. ``scope`` parameters name an area the caller must
    cover (outside it: 404); the others search for the township's data (outside it: nothing found)."""

    value: Callable[[Township], object]
    scope: bool = False


#: Query parameter name -> how to aim it, or None when it says nothing about a township
#: (paging, formats, filters by kind). Optional aimed parameters are tried one at a time.
QUERY_PARAMS: dict[str, Param | None] = {
    "area": Param(lambda t: t.code, scope=True),
    "village": Param(lambda t: t.village, scope=True),
    "within": Param(lambda t: t.code, scope=True),
    "parent": Param(lambda t: t.code, scope=True),
    "name": Param(lambda t: t.head_name),
    "include": Param(lambda t: "all"),  # withdrawn and past notices
    "username": Param(lambda t: t.username),
    "status": Param(lambda t: "active"),  # the clerk's status
    "account": Param(lambda t: t.account),
    "role": Param(lambda t: t.role),
    "organisation": Param(lambda t: t.organisation),
    "dataset": Param(lambda t: t.dataset),
    "side": Param(lambda t: "keeper"),  # the agreements of datasets the caller keeps
    "include_deleted": Param(lambda t: "true"),  # tombstones too
    "model": Param(lambda t: t.device_model),  # the township's devices' model
    "state": Param(lambda t: "active"),  # the sensor's life
    "connection": Param(lambda t: "online"),  # the sensor has reported
    "device": Param(lambda t: t.device),
    "action": None, "kind": None, "level": None, "format": None, "purpose": None, "limit": None, "offset": None,
    "major": None, "skip_invalid": None, "version": None, "after": None, "cursor": None, "category": None, "from": None, "to": None,
    "property": None, "agg": None, "interval": None, "severity": None,
}

#: "METHOD route path" -> query parameters meaning something else on that route than in the table above.
ROUTE_QUERY_PARAMS: dict[str, dict[str, Param | None]] = {
    "GET /api/v1/alerts": {"state": Param(lambda t: "open")},
    "GET /api/v1/agreements": {"status": Param(lambda t: "requested")},
    "GET /api/v1/datasets/{dataset_id:str}/subscriptions/{subscription_id:int}/deliveries": {
        "status": Param(lambda t: "dead")},
}

#: Header parameters, which say nothing about a township: a precondition on the ETag last read.
HEADER_PARAMS = {"If-Match"}


@dataclass(frozen=True)
class Body:
    """A request body aimed at a township; ``aimed=False`` for bodies that cannot name one
    (signing in, the caller's own password).

    ``across`` builds a second body, for a route whose body names an area and another object:
    acting in the caller's own township (``home``) on the target township's object, which must
    be as unknown there as one that does not exist. ``home_path`` names the path parameters
    that, in that second call, name ``home``'s objects (its account, its dataset).
    ``form`` sends the body form-encoded, ``ndjson`` as one line of NDJSON.
    """

    build: Callable[[Township], dict[str, Any]]
    aimed: bool = True
    across: Callable[[Township, Township], dict[str, Any]] | None = None
    home_path: frozenset[str] = frozenset()
    form: bool = False
    ndjson: bool = False


#: Writes that answer with counts only (an import's report): for them, succeeding is the proof of aim.
REPORTS_ONLY = frozenset({"POST /api/v1/datasets/{dataset_id:str}/records:import"})

#: A version the plots schema can take next: one more optional field.
NEXT_PLOTS_SCHEMA = {**PLOTS_SCHEMA, "properties": {**PLOTS_SCHEMA["properties"], "variety": {"type": "string"}}}
A_YEAR_ON = (datetime.now(timezone.utc) + timedelta(days=365)).isoformat()


def _dataset_body(t: Township, suffix: str, area: str) -> dict[str, Any]:
    return {"id": f"{t.dataset}_{suffix}", "title": {"zh_CN": "新数据集"}, "classification": "internal",
            "schema": PLOTS_SCHEMA, "owner": t.government, "manager": t.government, "area": area}


def _agreement_body(t: Township, organisation: int) -> dict[str, Any]:
    return {"dataset": t.dataset, "organisation": organisation, "fields": ["name"], "areas": [t.village],
            "purpose": "矩阵核对", "expires_at": A_YEAR_ON}


def _device_body(t: Township, suffix: str, area: str, **extra: Any) -> dict[str, Any]:
    return {"model": t.device_model, "serialNumber": f"MATRIX-{suffix}", "name": "新装的传感器", "area": area, **extra}


def _key_body(t: Township, area: str, **extra: Any) -> dict[str, Any]:
    return {"model": t.device_model, "area": area, "uses": 3, "label": "矩阵钥匙", **extra}


#: A telemetry property of the township's sensors: ``tests.core.test_isolation_matrix`` declares it.
MOISTURE = {"moisture": {"type": "number", "unit": "P1", "minimum": 0, "maximum": 100}}
#: The sensors' model's alert rule, which each sensor has its own version of.
DRY_RULE = "dry"


def dry_rule(description: str = "") -> dict[str, Any]:
    return {"id": DRY_RULE, "kind": "threshold", "property": "moisture", "operator": "<", "value": 40,
            "description": description}


#: "METHOD route path" -> the body to send. Every route that reads a body must be here.
BODIES: dict[str, Body] = {
    "POST /api/v1/people": Body(lambda t: {"name": "新来的人", "resident_id": resident_id(301), "home_area": t.village}),
    "POST /api/v1/people/lookup": Body(lambda t: {"resident_id": t.resident_id, "purpose": "matrix"}),
    "PATCH /api/v1/people/{person_id:int}": Body(lambda t: {"name": "改过的名字", "tags": ["veteran"]}),
    "POST /api/v1/organisations": Body(lambda t: {"name": "新合作社", "kind": "other", "area": t.code}),
    "POST /api/v1/households": Body(lambda t: {"number": "NEW-1", "village": t.village}),
    "POST /api/v1/households/{household_id:int}/members": Body(lambda t: {"person": t.newcomer}),
    "PUT /api/v1/households/{household_id:int}/head": Body(lambda t: {"person": t.member}),
    "POST /api/v1/accounts": Body(lambda t: {"username": "new-clerk", "password": PASSWORD, "area": t.code}),
    "POST /api/v1/role-bindings": Body(
        lambda t: {"account": t.account, "role": "kiosk", "area": t.code},
        across=lambda t, home: {"account": t.account, "role": "kiosk", "area": home.code},
    ),
    "POST /api/v1/accounts/{account_id:int}/password": Body(lambda t: {"generate": True}),
    "POST /api/v1/clients": Body(
        lambda t: {"name": "新系统", "organisation": t.organisation, "area": t.code, "scopes": ["person:read"]},
        across=lambda t, home: {"name": "新系统", "organisation": t.organisation, "area": home.code,
                                "scopes": ["person:read"]},
    ),
    "PATCH /api/v1/clients/{client_id:int}": Body(lambda t: {"name": "改过的系统", "scopes": ["person:read"]}),
    # A new role names no township: it grants nothing until bound, under the binding rules.
    "POST /api/v1/roles": Body(
        lambda t: {"name": "matrix_role", "title": "矩阵角色", "permissions": ["person:read"]}, aimed=False),
    "PATCH /api/v1/roles/{name:str}": Body(lambda t: {"title": "改过的角色", "permissions": ["person:read"]}),
    "POST /api/v1/notices/areas/{area:str}/notices": Body(lambda t: {"title": "新通知", "body": "明天停水"}),
    "POST /api/v1/auth/token": Body(lambda t: {"username": "nobody-at-all", "password": PASSWORD}, aimed=False),
    "POST /api/v1/auth/refresh": Body(lambda t: {"refresh_token": "not-a-refresh-token"}, aimed=False),
    "POST /api/v1/me/password": Body(
        lambda t: {"current_password": "not the current password", "new_password": "a brand new passphrase"},
        aimed=False,
    ),
    # Like signing in above, a client nobody registered: the township's own client with its
    # secret rightly gets a token (the secret is its credential, no way across), and with a
    # wrong secret rightly leaves an audit entry in the township.
    "POST /api/v1/oauth/token": Body(
        lambda t: {"grant_type": "client_credentials", "client_id": "tlc_nobody", "client_secret": "not-a-secret"},
        aimed=False, form=True,
    ),
    # Joining the township's organisation: its account, and an account of the caller's own.
    "POST /api/v1/accounts/{account_id:int}/organisations": Body(
        lambda t: {"organisation": t.organisation}, across=lambda t, home: {"organisation": t.organisation},
        home_path=frozenset({"account_id"}),
    ),
    "POST /api/v1/datasets": Body(
        lambda t: _dataset_body(t, "declared", t.code), across=lambda t, home: _dataset_body(t, "across", home.code),
    ),
    # Publishing the township's dataset, and the caller's own dataset with the township's government as its keeper.
    "PUT /api/v1/datasets/{dataset_id:str}": Body(
        lambda t: {"owner": t.government, "manager": t.government, "area": t.code},
        across=lambda t, home: {"owner": t.government, "manager": t.government, "area": home.code},
        home_path=frozenset({"dataset_id"}),
    ),
    "POST /api/v1/datasets/{dataset_id:str}/versions": Body(lambda t: {"schema": NEXT_PLOTS_SCHEMA}),
    "POST /api/v1/datasets/{dataset_id:str}/records": Body(
        lambda t: {"id": f"{t.record}-new", "area": t.village, "data": plot("新开的茶园")}),
    "POST /api/v1/datasets/{dataset_id:str}/records:import": Body(
        lambda t: {"id": f"{t.record}-imported", "area": t.village, "data": plot("导入的茶园")}, ndjson=True),
    "PUT /api/v1/datasets/{dataset_id:str}/records/{key:str}": Body(lambda t: {"data": plot("改过的茶园")}),
    "PATCH /api/v1/datasets/{dataset_id:str}/records/{key:str}": Body(lambda t: {"data": {"crop": "油茶"}}),
    # Asking for the township's dataset for its cooperative, and for the caller's own government.
    "POST /api/v1/agreements": Body(
        lambda t: _agreement_body(t, t.organisation), across=lambda t, home: _agreement_body(t, home.government),
    ),
    "POST /api/v1/agreements/{agreement_id:int}/approve": Body(lambda t: {"note": "同意"}),
    "POST /api/v1/agreements/{agreement_id:int}/reject": Body(lambda t: {"note": "不同意"}),
    "POST /api/v1/agreements/{agreement_id:int}/revoke": Body(lambda t: {"note": "到此为止"}),
    # The township's dataset for its government, and the caller's own dataset filtered to the township's village.
    "POST /api/v1/datasets/{dataset_id:str}/subscriptions": Body(
        lambda t: {"url": t.webhook, "organisation": t.government, "conditions": {"area": t.village}},
        across=lambda t, home: {"url": home.webhook, "conditions": {"area": t.village}},
        home_path=frozenset({"dataset_id"}),
    ),
    "PATCH /api/v1/datasets/{dataset_id:str}/subscriptions/{subscription_id:int}": Body(lambda t: {"active": False}),
    # A device model names no township: only the county adds one.
    "POST /api/v1/device-models": Body(
        lambda t: {"id": "matrix.new-model", "category": "sensor", "manufacturerName": "矩阵仪器",
                   "modelName": "M-1", "telemetry": MOISTURE}, aimed=False),
    "PATCH /api/v1/device-models/{model_id:str}": Body(lambda t: {"description": "改过的型号"}),
    # A sensor in the township's village, and one in the caller's own village owned by the township's cooperative.
    "POST /api/v1/devices": Body(
        lambda t: _device_body(t, "placed", t.village),
        across=lambda t, home: _device_body(t, "across", home.village, owner=t.organisation),
    ),
    "PATCH /api/v1/devices/{device_id:str}": Body(
        lambda t: {"name": "改过的传感器"}, across=lambda t, home: {"owner": t.organisation},
        home_path=frozenset({"device_id"}),
    ),
    "POST /api/v1/provisioning-keys": Body(
        lambda t: _key_body(t, t.village), across=lambda t, home: _key_body(t, home.village, owner=t.organisation),
    ),
    "POST /api/v1/devices:claim": Body(lambda t: {"serialNumber": "MATRIX-claimed"}),
    "POST /api/v1/telemetry": Body(lambda t: {"device": t.device, "values": {"moisture": 30.5}}),
    "PUT /api/v1/devices/{device_id:str}/alert-rules/{rule_id:str}": Body(lambda t: dry_rule("改过的告警")),
}

#: Routes taking a credential of their own instead of a staff token: "METHOD path" -> the
#: township's. Staff tokens are refused there (401) whatever the request names, and the aim
#: is proved with the township's credential. These are sent first, while the credentials
#: still work: other routes re-key, disable and retire the sensor and revoke the key. A
#: device naming another township's device is tests/devices' business (test_ingest.py).
OWN_CREDENTIALS: dict[str, Callable[[Township], str]] = {
    "POST /api/v1/devices:claim": lambda t: t.provisioning_secret,
    "POST /api/v1/telemetry": lambda t: t.device_token,
}

#: Routes anyone may call. A new public route must be added here, and so gets checked
#: to show nothing personal of anybody.
PUBLIC_ROUTES = {
    "GET /healthz", "GET /readyz", "GET /metrics", "GET /api/v1/plugins",
    "GET /api/v1/areas", "GET /api/v1/areas/{code:str}", "GET /api/v1/areas/{code:str}/modules",
    "POST /api/v1/auth/token", "POST /api/v1/auth/refresh", "POST /api/v1/oauth/token",
    "GET /api/v1/notices/areas/{area:str}/notices", "GET /api/v1/notices/areas/{area:str}/notices/{notice_id:int}",
}

#: Sent after everything else, in this order: a retired sensor can be neither enabled nor
#: re-keyed; a role goes once its binding is removed; the others end the module or the caller's session.
RUN_LAST = (
    "POST /api/v1/devices/{device_id:str}/decommission",
    "DELETE /api/v1/roles/{name:str}", "DELETE /api/v1/areas/{code:str}/modules/{plugin:str}",
    "POST /api/v1/auth/logout",
)
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


def _in_column(column: str) -> Callable[[str], Q]:
    return lambda prefix: Q(**{f"{column}__startswith": prefix})


def _in_any(*columns: str) -> Callable[[str], Q]:
    return lambda prefix: Q(*(Q(**{f"{column}__startswith": prefix}) for column in columns), join_type=Q.OR)


async def _callers_in(prefix: str) -> Q:
    """Rows kept for the township's own callers: accounts homed there, system clients acting there."""
    models = _models()
    accounts = await models["Account"].filter(home_area_id__startswith=prefix).values_list("id", flat=True)
    clients = await models["Client"].filter(area_id__startswith=prefix).values_list("id", flat=True)
    return Q(principal__in=[*(f"account:{n}" for n in accounts), *(f"client:{n}" for n in clients)])


#: Model -> the filter finding a township's rows (given its code prefix). Every table must
#: be here or in UNWATCHED, so a write into the other township cannot go unseen.
TOWNSHIP_ROWS: dict[str, Callable[[str], Q | Awaitable[Q]]] = {
    "Area": _in_column("code"),
    "ActivationEvent": _in_column("area_id"),
    "ModuleActivation": _in_column("area_id"),
    "JobRun": _in_column("area_code"),
    "AuditEntry": _in_column("area_code"),
    "Household": _in_column("village_id"),
    "Organisation": _in_column("area_id"),
    "Person": _in_column("home_area_id"),
    "Account": _in_column("home_area_id"),
    "AccessToken": _in_column("account__home_area_id"),
    "Client": _in_column("area_id"),
    "ClientToken": _in_column("client__area_id"),
    "RoleBinding": _in_column("area_id"),
    "Role": _in_column("bindings__area_id"),  # county-wide; those bound in the township say what its staff may do
    "Notice": _in_column("area_id"),
    "AccountMembership": _in_any("organisation__area_id", "account__home_area_id"),
    "Dataset": _in_any("area_id", "owner__area_id", "manager__area_id"),
    "DatasetVersion": _in_column("dataset__area_id"),
    "Record": _in_column("area_id"),
    "Change": _in_column("area_code"),
    "Agreement": _in_any("dataset__area_id", "grantee__area_id"),
    "Subscription": _in_any("dataset__area_id", "organisation__area_id"),
    "Delivery": _in_column("subscription__dataset__area_id"),
    "IdempotentRequest": _callers_in,  # a replay of an answer is its caller's
    "DeviceModel": lambda prefix: Q(),  # county-wide: no township's staff may change a device model
    "TelemetryProperty": lambda prefix: Q(),  # county-wide: the numbering of property names
    "Device": _in_column("area_id"),
    "ProvisioningKey": _in_column("area_id"),
    "DeviceEventRecord": _in_column("device__area_id"),
    "TelemetryLatest": _in_column("device__area_id"),
    "Alert": _in_column("area_id"),
    "DeviceAlertRule": _in_column("device__area_id"),
    "DeviceErrorRecord": _in_column("device__area_id"),
}
UNWATCHED = {"AuditHead": "the chain's head moves with every audit entry, wherever it is written"}


@dataclass(frozen=True)
class Call:
    """One request of the matrix: one route and method, aimed at a township."""

    route: str  # "METHOD path" as the tables name it
    url: str
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    aimed: bool = False  # names the township's area or objects: expect 404 (or 403)
    area_in_path: bool = False  # the path names the area itself: 404 before any permission check
    county_wide: bool = False  # changes a county-wide object used in the township: expect 403
    across: bool = False  # acts at home on the township's object: expect what an unknown one gets
    form: bool = False
    ndjson: bool = False
    public: bool = False
    permission: str | None = None  # what the route's guard asks for; None for "signed in" routes
    credential: str | None = None  # the township's own credential, on a route that takes no staff token

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.method} {self.url}{'?' + query if query else ''}{' (acting at home)' if self.across else ''}"

    async def send(self, client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> httpx.Response:
        if self.ndjson:
            headers = {**(headers or {}), "Content-Type": "application/x-ndjson"}
            body: dict[str, Any] = {"content": json.dumps(self.body, ensure_ascii=False) + "\n"}
        else:
            body = {"data": self.body} if self.form else {"json": self.body}
        return await client.request(self.method, self.url, params=self.query, headers=headers, **body)


def required_permission(handler: HTTPRouteHandler) -> str | None:
    """The permission a ``requires(...)`` guard of the handler checks, read from the guard's closure."""
    for guard in handler.resolve_guards():
        if not inspect.isfunction(guard):
            continue
        held = inspect.getclosurevars(guard).nonlocals.get("permission")
        if isinstance(held, str):
            return held
    return None


#: The console's pages take a session cookie, not a token: tests/console/test_console_guards.py checks them.
CONSOLE_PREFIX = "/console"


def handlers(app: Litestar) -> list[tuple[str, HTTPRoute, HTTPRouteHandler, Any]]:
    """("METHOD path", route, handler, kwargs model) of every API route, Litestar's own OPTIONS, docs and console aside."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith((API_DOCS_PREFIX, CONSOLE_PREFIX)):
            continue
        for method, (handler, kwargs) in route.route_handler_map.items():
            if handler.fn.__qualname__ != LITESTAR_OPTIONS_HANDLER:
                found.append((f"{method} {route.path}", route, handler, kwargs))
    return found


def takes_staff(handler: HTTPRouteHandler) -> bool:
    """Whether the handler's guards admit staff: it requires a permission, or only a signed-in caller."""
    return required_permission(handler) is not None or signed_in in handler.resolve_guards()


def _path_params(key: str, kwargs: Any) -> dict[str, Callable[[Township], object]]:
    names = {p.field_name for p in kwargs.expected_path_params}
    return {name: {**PATH_PARAMS, **ROUTE_PATH_PARAMS.get(key, {})}[name] for name in names}


def _calls_for(
    key: str, route: HTTPRoute, handler: HTTPRouteHandler, kwargs: Any, town: Township, home: Township,
) -> list[Call]:
    """The route's call with its required parameters, then one more per optional aimed query
    parameter, and one acting at ``home`` if its body can."""
    params = _path_params(key, kwargs)
    path = {name: value(town) for name, value in params.items()}
    body = BODIES.get(key)
    county_wide = bool(COUNTY_WIDE & set(path)) and not key.startswith("GET ")
    base = Call(
        route=key, url=route.path_format.format(**path), body=body.build(town) if body else None,
        aimed=bool(set(path) - COUNTY_WIDE) or county_wide or bool(body and body.aimed),
        area_in_path=bool({"area", "code"} & set(path)), county_wide=county_wide, form=bool(body and body.form),
        ndjson=bool(body and body.ndjson),
        public=key in PUBLIC_ROUTES, permission=required_permission(handler),
        credential=OWN_CREDENTIALS[key](town) if key in OWN_CREDENTIALS else None,
    )
    across = []
    if body and body.across:
        at_home = {**path, **{name: params[name](home) for name in body.home_path}}
        across = [replace(base, url=route.path_format.format(**at_home), body=body.across(town, home), across=True)]
    query_params = {**QUERY_PARAMS, **ROUTE_QUERY_PARAMS.get(key, {})}
    aims = {p.field_alias: (query_params[p.field_alias], p.is_required) for p in kwargs.expected_query_params}
    required = {name: aim for name, (aim, is_required) in aims.items() if aim and is_required}
    optional = [(name, aim) for name, (aim, is_required) in aims.items() if aim and not is_required]
    variants = [required] + [{**required, name: aim} for name, aim in optional]
    return [
        replace(base, query={name: str(aim.value(town)) for name, aim in variant.items()},
                aimed=base.aimed or any(aim.scope for aim in variant.values()))
        for variant in variants
    ] + across


def _problems_of(key: str, handler: HTTPRouteHandler, kwargs: Any) -> list[str]:
    problems = [f"{key}: path parameter {p.field_name!r}: add it to PATH_PARAMS"
                for p in kwargs.expected_path_params if p.field_name not in PATH_PARAMS]
    problems += [f"{key}: query parameter {p.field_alias!r}: add it to QUERY_PARAMS"
                 for p in kwargs.expected_query_params if p.field_alias not in QUERY_PARAMS]
    problems += [f"{key}: header or cookie parameter {p.field_alias!r}: teach the matrix to aim it"
                 for p in (*kwargs.expected_header_params, *kwargs.expected_cookie_params)
                 if p.field_alias not in HEADER_PARAMS]
    reads_body = "data" in kwargs.expected_reserved_kwargs or kwargs.expected_form_data or kwargs.expected_msgpack_data
    if reads_body and key not in BODIES:
        problems.append(f"{key}: reads a request body: add one aimed at township B to BODIES")
    if handler.opt.get("public") and key not in PUBLIC_ROUTES:
        problems.append(f"{key}: is public: add it to PUBLIC_ROUTES")
    elif not handler.opt.get("public") and not takes_staff(handler) and key not in OWN_CREDENTIALS:
        problems.append(f"{key}: takes no staff token: add the township's own credential to OWN_CREDENTIALS")
    return problems


def unaimable(app: Litestar) -> list[str]:
    """Why the tables above cannot aim some routes: each line names the route and the table to extend."""
    found = handlers(app)
    keys = {key for key, *_rest in found}
    problems = [problem for key, _route, handler, kwargs in found for problem in _problems_of(key, handler, kwargs)]
    problems += [f"{key}: is in BODIES but is no route" for key in BODIES if key not in keys]
    problems += [f"{key}: is in PUBLIC_ROUTES but is no route" for key in PUBLIC_ROUTES if key not in keys]
    problems += [f"{key}: is in OWN_CREDENTIALS but is no route" for key in OWN_CREDENTIALS if key not in keys]
    return problems


def _send_order(call: Call) -> tuple[int, int]:
    if call.credential is not None:
        return 0, 0
    if call.route in RUN_LAST:
        return 2, RUN_LAST.index(call.route)
    return 1, METHOD_ORDER[call.method]


def plan(app: Litestar, town: Township, home: Township) -> list[Call]:
    """Every route and method of ``app`` aimed at ``town`` by a caller from ``home``, in the order they are sent."""
    calls = [call for found in handlers(app) for call in _calls_for(*found, town, home)]
    return sorted(calls, key=_send_order)


def holds(permissions: set[str], permission: str) -> bool:
    return ALL_PERMISSIONS in permissions or permission in permissions


#: What a route answers about an object that does not exist: 404, or 422 on the body's field.
UNKNOWN = (404, 422)


def expected_status(call: Call, permissions: set[str] | None) -> tuple[int, ...] | None:
    """What a caller from another township may get; None where a page without the target's data is fine.

    ``permissions`` is None for an anonymous caller, else what the caller's role holds at home.
    A staff token opens no route that takes a credential of its own.
    """
    if permissions is None or call.credential is not None:
        return (401,)
    missing = call.permission is not None and not holds(permissions, call.permission)
    if not call.aimed:
        return (403,) if missing else None  # a list, or the caller's own business
    if call.area_in_path:
        return (404,)
    if missing or call.county_wide:
        return (403,)
    return UNKNOWN if call.across else (404,)


def judge(
    call: Call, response: httpx.Response, permissions: set[str] | None, target: Township, others: tuple[Township, ...],
) -> str | None:
    """What is wrong with ``response`` to a caller from another township than ``target``, or None."""
    status, text = response.status_code, response.text
    if status >= 500:
        return f"server error {status}"
    if call.public:
        leaked = [m for town in (target, *others) for m in town.gives_away(text, (*town.personal, *town.unpublished))]
        return f"a public route shows {leaked}" if leaked else None
    if leaked := target.gives_away(text, target.personal if status >= 300 else None):
        return f"{status} shows township B's data {leaked}"
    expected = expected_status(call, permissions)
    if expected is not None and status not in expected:
        return f"expected {' or '.join(map(str, expected))}, got {status}: {text[:300]}"
    return None


def _models() -> dict[str, Any]:
    assert Tortoise.apps is not None
    return {model.__name__: model for model in Tortoise.apps.get_models_iterable()}


def unwatched_tables() -> list[str]:
    return sorted(name for name in _models() if name not in TOWNSHIP_ROWS and name not in UNWATCHED)


async def _rows_of(name: str, prefix: str) -> Q:
    rows = TOWNSHIP_ROWS[name](prefix)
    return await rows if inspect.isawaitable(rows) else rows


async def _readings(prefix: str) -> list[dict[str, Any]]:
    """The township's devices' readings: the raw telemetry table has no model."""
    devices = await _models()["Device"].filter(area_id__startswith=prefix).values_list("id", flat=True)
    if not devices:
        return []
    listed = ", ".join(str(int(device)) for device in devices)
    return await connections.get("default").execute_query_dict(
        f"SELECT * FROM {RAW_TABLE} WHERE device_id IN ({listed}) ORDER BY device_id, property_id, ts")


async def township_rows(code: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every watched table that belongs to the township ``code``, as stored."""
    prefix = subtree_prefix(code)
    rows = {
        name: await model.filter(await _rows_of(name, prefix)).order_by(model._meta.pk_attr).values()
        for name, model in _models().items() if name in TOWNSHIP_ROWS
    }
    return {**rows, RAW_TABLE: await _readings(prefix)}
