"""The device models pages, and a model's provisioning keys: made (shown once), listed and revoked.

Models are county-wide reference data, read with ``device:read`` as
``GET /api/v1/device-models`` does. Keys go through :mod:`tulou.devices.provisioning`
like ``/api/v1/provisioning-keys``: listed within the caller's areas, made and revoked
with ``device:write`` in the key's village, audited there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath

from tulou.console import device_views
from tulou.console.device_pages import SHOWN_ONCE, WRITE, Form, READ, session_principal
from tulou.console.layout import CONSOLE, page, see_other
from tulou.devices import catalogue, clock, provisioning
from tulou.devices.models import DeviceModel, ProvisioningKey
from tulou.devices.schemas import ProvisioningKeyIn
from tulou.devices.telemetry_schema import PropertySpec, parse_properties
from tulou.errors import Problem
from tulou.i18n import gettext as _
from tulou.identity.routes import caller
from tulou.security.principal import Principal

MODELS = f"{CONSOLE}/device-models"
KEY_FIELDS = ("label", "area", "uses", "days")
MAX_USES = 10_000
LONGEST_DAYS = 366
#: What a service names a field, and the form's input for it.
SERVICE_FIELDS = {"area": "area", "expiresAt": "days", "uses": "uses", "label": "label"}


@dataclass
class KeyForm:
    label: str = ""
    area: str = ""
    uses: str = "1"
    days: str = "7"


def properties_of(model: DeviceModel) -> list[PropertySpec]:
    return [spec for _name, spec in sorted(parse_properties(model.properties).items())]


def _whole_number(text: str, low: int, high: int) -> int | None:
    return int(text) if text.strip().isdigit() and low <= int(text) <= high else None


def key_in(model: str, form: KeyForm) -> tuple[ProvisioningKeyIn | None, dict[str, str]]:
    """The form as the API's request body, or the message for each field at fault."""
    errors = {}
    if not form.area:
        errors["area"] = _("Choose the village the devices will be in")
    uses = _whole_number(form.uses, 1, MAX_USES)
    if uses is None:
        errors["uses"] = _("Enter a whole number from 1 to %(most)d") % {"most": MAX_USES}
    days = _whole_number(form.days, 1, LONGEST_DAYS)
    if days is None:
        errors["days"] = _("Enter a whole number of days from 1 to %(most)d") % {"most": LONGEST_DAYS}
    if len(form.label) > 200:
        errors["label"] = _("Keep the label under 200 characters")
    if errors or uses is None or days is None:
        return None, errors
    return ProvisioningKeyIn(model=model, area=form.area, uses=uses, label=form.label.strip(),
                             expires_at=clock.now() + timedelta(days=days)), {}


async def _keys_of(principal: Principal, model: DeviceModel) -> list[ProvisioningKey]:
    """The model's keys in the caller's areas, newest first."""
    return await provisioning.visible_keys(principal).filter(model_id=model.id).order_by("-id").limit(100)


class DeviceModelsController(Controller):
    path = MODELS
    include_in_schema = False

    @get("/", guards=[READ])
    async def models_page(self, request: Request) -> Any:
        return await page(request, "device_models.html", models=await catalogue.list_models(),
                          properties_of=properties_of)

    @get("/{model_id:str}", guards=[READ])
    async def model_page(self, request: Request, model_id: FromPath[str]) -> Any:
        return await self._model_page(request, model_id, KeyForm(), {})

    @post("/{model_id:str}/keys", guards=[WRITE], cache_control=SHOWN_ONCE)
    async def create_key(self, request: Request, model_id: FromPath[str], data: Annotated[KeyForm, Form]) -> Any:
        model = await catalogue.get_model(model_id)
        body, errors = key_in(model.key, data)
        if body is None:
            return await self._model_page(request, model_id, data, errors, 422)
        try:
            key, secret = await provisioning.create_key(await caller(request), body)
        except Problem as refused:
            if refused.field not in SERVICE_FIELDS:
                raise
            return await self._model_page(request, model_id, data, {SERVICE_FIELDS[refused.field]: refused.detail},
                                          refused.status)
        return await self._model_page(request, model_id, KeyForm(), {}, shown=(key, secret))

    @post("/{model_id:str}/keys/{key_id:int}/revoke", guards=[WRITE])
    async def revoke_key(self, request: Request, model_id: FromPath[str], key_id: FromPath[int]) -> Any:
        key = await provisioning.revoke_key(await caller(request), key_id)
        return see_other(f"{MODELS}/{model_id}?revoked={key.id}#keys")

    async def _model_page(self, request: Request, model_id: str, form: KeyForm, errors: dict[str, str],
                          status: int = 200, shown: tuple[ProvisioningKey, str] | None = None) -> Any:
        model = await catalogue.get_model(model_id)
        session = session_principal(request)
        writer = session.narrowed_to("device:write")
        keys = await _keys_of(session.narrowed_to("device:read"), model)
        may_make_keys = session.roots_holding("device:write") != ()
        villages = await device_views.villages_in_scope(writer) if may_make_keys else []
        return await page(
            request, "device_model.html", status=status, model=model, properties=properties_of(model), keys=keys,
            areas=await device_views.areas_named({key.area_id for key in keys}),
            villages=device_views.area_choices(villages), form=form,
            errors=errors, shown=shown, revoked=request.query_params.get("revoked"),
            writable={key.id for key in keys if session.has_permission("device:write", key.area_id)},
        )
