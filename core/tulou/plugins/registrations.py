"""The things plugins hand to the core through ``register_*`` hooks.

Each is a small frozen record, checked when it is registered so a mistake names
the plugin that made it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tulou.errors import Invalid
from tulou.exchange.ngsi import check_mapping, properties_of

PERMISSION_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
TAG_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
DATASET_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
DATASET_VERSION = re.compile(r"^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$")
CLASSIFICATIONS = ("public", "internal", "sensitive", "personal")


@dataclass(frozen=True)
class ModelsRegistration:
    """A plugin's Tortoise models module and the migrations package that creates its tables."""

    models: str
    migrations: str


@dataclass(frozen=True)
class Permission:
    """A permission a plugin checks, named ``<plugin>:<action>`` (``notices:publish``)."""

    name: str
    title: object
    description: object = ""

    def __post_init__(self) -> None:
        if not PERMISSION_NAME.match(self.name):
            raise ValueError(f"permission {self.name!r} must look like 'plugin:action'")


@dataclass(frozen=True)
class PersonTag:
    """A tag residents may carry (``elderly_alone``), with the title staff see for it."""

    code: str
    title: object
    description: object = ""

    def __post_init__(self) -> None:
        if not TAG_CODE.match(self.code):
            raise ValueError(f"tag {self.code!r} must be lower-case letters, digits or '_', at most 32")


@dataclass(frozen=True)
class ConsolePage:
    """A menu entry in the admin console, shown where the module is on and the caller may,
    once a handler registered with ``register_console_routes`` serves ``path``."""

    path: str
    title: object
    permission: str | None = None
    icon: str = ""
    order: int = 100


@dataclass(frozen=True)
class DatasetSchema:
    """One version of a dataset a plugin adds to the data-exchange catalogue, with its JSON Schema.

    ``id`` is dotted lower-case words (``community.notices``), ``version`` is
    ``MAJOR.MINOR`` (``1.0``) and ``schema`` a JSON Schema 2020-12 of an object.
    Register every version the plugin has shipped: a minor version may only add
    optional properties; anything else is a new major, starting at ``N.0``.

    ``smart_data_model`` (a FIWARE entity type, ``AgriParcel``) and ``field_map``
    (top-level field to the model's attribute, or ``{"attribute": ..., "entity": ...}``
    for a Relationship) give the records an NGSI-LD form; the latest version's are used.
    """

    id: str
    version: str
    title: object
    schema: dict[str, Any]
    description: object = ""
    classification: str = "internal"
    smart_data_model: str | None = None
    field_map: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not DATASET_ID.match(self.id):
            raise ValueError(f"dataset id {self.id!r} must be dotted lower-case words, like 'community.notices'")
        if not DATASET_VERSION.match(self.version):
            raise ValueError(f"dataset version {self.version!r} must look like '1.0'")
        if self.classification not in CLASSIFICATIONS:
            raise ValueError(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
        try:
            check_mapping(self.smart_data_model, self.field_map, properties_of([self.schema]))
        except Invalid as error:
            raise ValueError(f"dataset {self.id} {error.field}: {error.detail}") from None


@dataclass(frozen=True)
class DeviceModelSpec:
    """A device model a plugin knows: category, maker, model, telemetry properties and heartbeat.

    ``telemetry`` maps property names to JSON Schema fragments with a ``type``
    (number, integer, boolean, string), optional ``unit``, ``minimum`` and ``maximum``.
    ``alert_rules`` are the rules every device of the model is watched by, each written
    as the device API writes it (``{"id": "frost", "kind": "threshold", "property":
    "temperature", "operator": "<=", "value": 0, "clearValue": 2}``).
    The device standard checks both when they are registered (see standards/devices/).
    """

    id: str
    category: str
    manufacturer: str
    model: str
    telemetry: dict[str, Any] = field(default_factory=dict)
    heartbeat_seconds: int = 300
    brand: str = ""
    description: str = ""
    protocols: tuple[str, ...] = ("http",)
    alert_rules: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class TranslationsDirectory:
    """A ``locale/`` directory holding ``<lang>/LC_MESSAGES/<domain>.mo`` files."""

    domain: str
    directory: Path
