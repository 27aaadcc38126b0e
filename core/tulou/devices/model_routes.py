"""``/api/v1/device-models``: anyone who may read devices reads the models; the county adds and changes them."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.devices import catalogue
from tulou.devices.schemas import DeviceModelIn, DeviceModelOut, DeviceModelPatch
from tulou.identity.routes import caller
from tulou.security.guards import requires


class DeviceModelController(Controller):
    path = "/api/v1/device-models"
    tags = ["devices"]

    @get("/", guards=[requires("device:read")], summary="Every device model, the plugins' and the county's")
    async def list_models(
        self, category: Annotated[str | None, QueryParameter(description="only this category", max_length=32)] = None,
    ) -> list[DeviceModelOut]:
        return [catalogue.model_out(model) for model in await catalogue.list_models(category)]

    @get("/{model_id:str}", guards=[requires("device:read")], summary="One device model and its telemetry schema")
    async def read(self, model_id: FromPath[str]) -> DeviceModelOut:
        return catalogue.model_out(await catalogue.get_model(model_id))

    @post("/", guards=[requires("device_model:manage")], summary="Add a device model (county-wide)")
    async def create(self, request: Request, data: JSONBody[DeviceModelIn]) -> DeviceModelOut:
        return catalogue.model_out(await catalogue.create_model(await caller(request), data))

    @patch("/{model_id:str}", guards=[requires("device_model:manage")],
           summary="Change a county device model; devices of it are checked against the new version at once")
    async def update(self, request: Request, model_id: FromPath[str], data: JSONBody[DeviceModelPatch]) -> DeviceModelOut:
        return catalogue.model_out(await catalogue.update_model(await caller(request), model_id, data))
