"""The devices and alerts pages: thin handlers over :mod:`tulou.console.device_views` and :mod:`tulou.console.device_chart`.

Each takes the guard its API route takes (``device:read`` to see, ``device:write`` to
register, re-key and acknowledge, ``telemetry:read`` for readings) and calls the same
service, so a device outside the caller's areas is 404 here as it is in the API.
A token is shown in the answer that made it, never stored, and the answer is not cached.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, FromPath, FromQuery

from tulou.console import device_chart, device_views
from tulou.console.device_chart import ChartChoice
from tulou.console.guards import SESSION_PRINCIPAL_KEY
from tulou.console.layout import CONSOLE, fragment, local_next, page, see_other
from tulou.devices import alerts, catalogue, readings, registry
from tulou.devices.models import Connection, Device
from tulou.errors import Problem
from tulou.identity.routes import caller
from tulou.security.guards import requires
from tulou.security.principal import Principal

READ, WRITE, TELEMETRY = requires("device:read"), requires("device:write"), requires("telemetry:read")
SHOWN_ONCE = CacheControlHeader(no_store=True)
Form = Body(media_type=RequestEncodingType.URL_ENCODED)
DEVICES = f"{CONSOLE}/devices"
ALERTS = f"{CONSOLE}/alerts"


def session_principal(request: Request) -> Principal:
    """The caller with all their grants, not narrowed by the page's guard: what else they may do here."""
    return request.scope[SESSION_PRINCIPAL_KEY]  # type: ignore[literal-required]


async def _register_form(request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    principal = await caller(request)
    villages = await device_views.villages_in_scope(principal)
    models = await catalogue.list_models()
    return await page(request, "device_new.html", status=status, values=values, errors=errors,
                      villages=device_views.area_choices(villages), models=device_views.model_choices(models))


class DevicesController(Controller):
    path = DEVICES
    include_in_schema = False

    @get("/", guards=[READ])
    async def devices_page(self, request: Request, area: FromQuery[str | None] = None,
                           model: FromQuery[str | None] = None, connection: FromQuery[str | None] = None,
                           offset: FromQuery[int] = 0) -> Any:
        principal = await caller(request)
        filters = device_views.DeviceFilters.from_query(area, model, connection, offset)
        found = await device_views.device_list(principal, filters)
        return await page(request, "devices.html", found=found, filters=filters,
                          areas=device_views.area_choices(await device_views.areas_to_filter_by(principal)),
                          models=device_views.model_choices(await catalogue.list_models()), states=list(Connection),
                          page_size=device_views.PAGE_SIZE,
                          may_register=session_principal(request).roots_holding("device:write") != ())

    @get("/new", guards=[WRITE])
    async def register_page(self, request: Request, model: FromQuery[str | None] = None) -> Any:
        return await _register_form(request, {"model": model or ""}, {})

    @post("/new", guards=[WRITE], cache_control=SHOWN_ONCE)
    async def register(self, request: Request, data: Annotated[dict[str, str], Form]) -> Any:
        body, errors = device_views.device_in(data)
        if body is None:
            return await _register_form(request, data, errors, 422)
        devices = request.app.state.devices
        try:
            device, token = await registry.create_device(await caller(request), body)
        except Problem as refused:
            found = device_views.problem_errors(refused, device_views.DEVICE_FIELDS)
            if found is None:
                raise
            return await _register_form(request, data, found, refused.status)
        await devices.account_changed(device, token)
        return await page(request, "device_token.html", device=device, shown=devices.token_out(device, token),
                          registered=True)

    @get("/{device_id:str}", guards=[READ])
    async def device_page(self, request: Request, device_id: FromPath[str], prop: FromQuery[str | None] = None,
                          span: FromQuery[str | None] = None) -> Any:
        found = await device_views.device_page(await caller(request), device_id)
        session = session_principal(request)
        context: dict[str, Any] = {
            "found": found, "device": found.device,
            "may_write": session.has_permission("device:write", found.device.area_id),
            "may_read_telemetry": session.has_permission("telemetry:read", found.device.area_id),
        }
        if context["may_read_telemetry"]:
            choice = ChartChoice.of(found.device, prop, span)
            context.update(await _readings(request, session.narrowed_to("telemetry:read"), found.device, choice))
        return await page(request, "device.html", **context)

    @post("/{device_id:str}/token", guards=[WRITE], cache_control=SHOWN_ONCE)
    async def rotate_token(self, request: Request, device_id: FromPath[str]) -> Any:
        devices = request.app.state.devices
        device, token = await registry.rotate_token(await caller(request), device_id, devices.rekeyed)
        await devices.account_changed(device)
        return await page(request, "device_token.html", device=device, shown=devices.token_out(device, token),
                          registered=False)

    @get("/{device_id:str}/chart", guards=[TELEMETRY], cache_control=SHOWN_ONCE)
    async def chart_data(self, request: Request, device_id: FromPath[str], prop: FromQuery[str | None] = None,
                         span: FromQuery[str | None] = None) -> Response[dict[str, Any]]:
        """The chart's numbers as JSON, for ``device_chart.js`` on the device's page."""
        principal = await caller(request)
        device = await registry.get_device(principal, device_id)
        choice = ChartChoice.of(device, prop, span)
        series = await device_chart.averages(principal, request.app.state.devices.store, device, choice)
        return Response(series.as_json(), media_type=MediaType.JSON)

    @get("/{device_id:str}/readings", guards=[TELEMETRY])
    async def readings_table(self, request: Request, device_id: FromPath[str], prop: FromQuery[str | None] = None,
                             span: FromQuery[str | None] = None) -> Any:
        """The table of the chart's numbers and the latest values, which the page swaps in as they change."""
        principal = await caller(request)
        device = await registry.get_device(principal, device_id)
        context = await _readings(request, principal, device, ChartChoice.of(device, prop, span))
        return fragment(request, "device_readings.html", device=device, **context)


async def _readings(request: Request, principal: Principal, device: Device, choice: ChartChoice) -> dict[str, Any]:
    """The chart's series, the latest value of each property and the pickers' choices."""
    series = await device_chart.averages(principal, request.app.state.devices.store, device, choice)
    return {
        "choice": choice, "series": series, "latest": await readings.latest_of(device),
        "chartable": device_chart.chartable(device), "spans": list(device_chart.SPANS.values()),
        "refresh": device_chart.REFRESH_SECONDS, "timezone": request.app.state.platform.settings.console.timezone,
    }


class AlertsController(Controller):
    path = ALERTS
    include_in_schema = False

    @get("/", guards=[READ])
    async def alerts_page(self, request: Request) -> Any:
        found, total, areas = await device_views.open_alerts_in_scope(await caller(request))
        session = session_principal(request)
        writable = {alert.id for alert in found if session.has_permission("device:write", alert.area_id)}
        return await page(request, "alerts.html", alerts=found, total=total, areas=areas, writable=writable)

    @post("/{alert_id:int}/acknowledge", guards=[WRITE])
    async def acknowledge(self, request: Request, alert_id: FromPath[int]) -> Any:
        alert, event = await alerts.acknowledge(await caller(request), alert_id)
        await request.app.state.devices.announce([event] if event is not None else [])
        back = local_next((await request.form()).get("next"))
        return see_other(back or f"{ALERTS}?acknowledged={alert.id}")
