"""``/api/v1/device-models``: anyone who may read devices reads the models; the county adds and changes them.

Reads also answer ``?format=ngsi-ld``: Smart Data Models ``DeviceModel`` entities
(:mod:`tulou.devices.device_ngsi`), which the devices' ``refDeviceModel`` points at.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.devices import catalogue
from tulou.devices.device_ngsi import model_entity
from tulou.devices.schemas import DeviceModelIn, DeviceModelOut, DeviceModelPatch
from tulou.exchange.ngsi import MEDIA_TYPE as LINKED_DATA
from tulou.identity.routes import caller
from tulou.security.guards import requires

Format = Annotated[Literal["json", "ngsi-ld"], QueryParameter(
    name="format", description="`ngsi-ld`: Smart Data Models DeviceModel entities (keyValues)")]


class DeviceModelController(Controller):
    path = "/api/v1/device-models"
    tags = ["devices"]

    @get("/", guards=[requires("device:read")], summary="Every device model, the plugins' and the county's")
    async def list_models(
        self, category: Annotated[str | None, QueryParameter(description="only this category", max_length=32)] = None,
        representation: Format = "json",
    ) -> Response[list[DeviceModelOut] | list[dict[str, Any]]]:
        found = await catalogue.list_models(category)
        if representation == "json":
            return Response([catalogue.model_out(model) for model in found])
        return Response([model_entity(model) for model in found], media_type=LINKED_DATA)

    @get("/{model_id:str}", guards=[requires("device:read")], summary="One device model and its telemetry schema")
    async def read(self, model_id: FromPath[str], representation: Format = "json",
                   ) -> Response[DeviceModelOut | dict[str, Any]]:
        model = await catalogue.get_model(model_id)
        if representation == "json":
            return Response(catalogue.model_out(model))
        return Response(model_entity(model), media_type=LINKED_DATA)

    @post("/", guards=[requires("device_model:manage")], summary="Add a device model (county-wide)")
    async def create(self, request: Request, data: JSONBody[DeviceModelIn]) -> DeviceModelOut:
        return catalogue.model_out(await catalogue.create_model(await caller(request), data))

    @patch("/{model_id:str}", guards=[requires("device_model:manage")],
           summary="Change a county device model; devices of it are checked against the new version at once")
    async def update(self, request: Request, model_id: FromPath[str], data: JSONBody[DeviceModelPatch]) -> DeviceModelOut:
        return catalogue.model_out(await catalogue.update_model(await caller(request), model_id, data))
