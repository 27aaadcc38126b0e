"""Records as NGSI-LD entities of a FIWARE Smart Data Model, in the key-value (``keyValues``) form.

A dataset that declares a Smart Data Model type (``AgriParcel``) and a field map
(record field to the model's attribute) can be read with ``?format=ngsi-ld``, so FIWARE
tools read Tulou's records without a converter. An entity is:

- ``id`` ``urn:ngsi-ld:<Type>:<dataset id>:<record key>`` and ``type`` the model's type;
- one attribute per mapped field the caller may see (agreements cut fields first). A
  field mapped to ``{"attribute": ..., "entity": T}`` is a Relationship: its value
  becomes ``urn:ngsi-ld:T:<value>`` unless it already is a URN. A field mapped to
  ``location`` must hold a GeoJSON geometry, passed as it is;
- from the envelope, unless a field is mapped to the same attribute: ``address`` (the
  record's area by name), ``areaServed`` (its 12-digit area code), ``dateCreated`` and
  ``dateModified``;
- ``@context``: the Smart Data Models context, then the NGSI-LD core context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from litestar import Request

from tulou.areas.codes import AreaLevel, parent_code
from tulou.areas.models import Area
from tulou.errors import Invalid
from tulou.exchange.access import View
from tulou.exchange.models import Dataset, Record
from tulou.i18n import gettext as _

MEDIA_TYPE = "application/ld+json"
CONTEXT = ("https://smartdatamodels.org/context.jsonld", "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld")
MODEL_TYPE = re.compile(r"^[A-Z][A-Za-z0-9]{0,99}$")
ATTRIBUTE = re.compile(r"^[a-z][A-Za-z0-9_]{0,99}$")
RESERVED = frozenset({"id", "type"})
LOCAL_LEVELS = (AreaLevel.TOWNSHIP, AreaLevel.VILLAGE)

#: Where a record field goes: an attribute name, or ``{"attribute": ..., "entity": <Type>}`` for a Relationship.
FieldMap = Mapping[str, Any]


def _target(field: str, target: Any) -> tuple[str, str | None]:
    """The attribute a field maps to and, for a Relationship, the entity type it points at."""
    name = f"field_map.{field}"
    if isinstance(target, str):
        attribute, entity = target, None
    elif isinstance(target, Mapping) and set(target) == {"attribute", "entity"}:
        attribute, entity = target["attribute"], target["entity"]
    else:
        raise Invalid(_("Map a field to an attribute name or to {\"attribute\", \"entity\"}"), field=name)
    if not isinstance(attribute, str) or not ATTRIBUTE.match(attribute) or attribute in RESERVED:
        raise Invalid(_("%(attribute)s is not an attribute name a field may take") % {"attribute": attribute},
                      field=name)
    if entity is not None and (not isinstance(entity, str) or not MODEL_TYPE.match(entity)):
        raise Invalid(_("A Relationship names the entity type it points at, like AgriCrop"), field=name)
    return attribute, entity


def check_mapping(model: str | None, field_map: FieldMap, properties: Iterable[str]) -> dict[str, Any]:
    """The field map, if it maps known top-level fields to distinct attributes of a named model; 422 otherwise."""
    if model is not None and not MODEL_TYPE.match(model):
        raise Invalid(_("A Smart Data Model is named by its entity type, like AgriParcel"), field="smart_data_model")
    if field_map and model is None:
        raise Invalid(_("A field map needs the Smart Data Model it maps to"), field="field_map")
    known, taken = set(properties), set()
    for field, target in field_map.items():
        if field not in known:
            raise Invalid(_("%(field)s is not a field of the dataset's schema") % {"field": field},
                          field=f"field_map.{field}")
        attribute, _entity = _target(field, target)
        if attribute in taken:
            raise Invalid(_("Two fields map to %(attribute)s") % {"attribute": attribute}, field=f"field_map.{field}")
        taken.add(attribute)
    return dict(field_map)


def properties_of(schemas: Iterable[Mapping[str, Any]]) -> set[str]:
    """The top-level fields any of the schemas declares."""
    return {name for schema in schemas for name in (schema.get("properties") or {})}


def entity_id(model: str, dataset_id: str, key: str) -> str:
    return f"urn:ngsi-ld:{model}:{dataset_id}:{key}"


def _related(entity: str, value: Any) -> Any:
    """A Relationship's object: a URN, made from a plain key when it is not one yet."""
    if isinstance(value, list):
        return [_related(entity, item) for item in value]
    text = str(value)
    return text if text.startswith("urn:") else f"urn:ngsi-ld:{entity}:{text}"


def next_link(request: Request, param: str, value: str | int) -> str:
    """RFC 8288 ``Link`` to the following page, as NGSI-LD pages its query results: the same query with
    ``param`` (the cursor or offset) set to ``value``."""
    params = [(name, given) for name, given in request.query_params.multi_items() if name != param]
    return f'<{request.url.path}?{urlencode([*params, (param, value)])}>; rel="next"'


def timestamp(moment: datetime) -> str:
    """An instant as NGSI-LD writes it: UTC, with a Z."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _chain(code: str) -> list[str]:
    """The code and every ancestor's, root first."""
    codes: list[str] = []
    current: str | None = code
    while current is not None:
        codes.append(current)
        current = parent_code(current)
    return codes[::-1]


async def addresses(codes: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each area as a schema.org PostalAddress: the county and above as region, township and village as locality."""
    wanted = {code: _chain(code) for code in set(codes)}
    areas = {a.code: a for a in await Area.filter(code__in={c for chain in wanted.values() for c in chain})}
    found = {}
    for code, chain in wanted.items():
        known = [areas[c] for c in chain if c in areas]
        found[code] = {
            "addressCountry": "CN",
            "addressRegion": "".join(a.name for a in known if a.level not in LOCAL_LEVELS),
            "addressLocality": "".join(a.name for a in known if a.level in LOCAL_LEVELS),
        }
    return found


def entity(dataset: Dataset, record: Record, view: View, address: dict[str, str]) -> dict[str, Any]:
    """The record as the NGSI-LD entity the caller may see: only fields its view shows become attributes."""
    model = dataset.smart_data_model or ""
    body: dict[str, Any] = {"id": entity_id(model, dataset.id, record.key), "type": model}
    data = view.cut(record.data)
    for field, target in (dataset.field_map or {}).items():
        if field in data:
            attribute, related = _target(field, target)
            body[attribute] = data[field] if related is None else _related(related, data[field])
    envelope = {"address": address, "areaServed": record.area_id, "dateCreated": timestamp(record.created_at),
                "dateModified": timestamp(record.updated_at)}
    for attribute, value in envelope.items():
        body.setdefault(attribute, value)
    body["@context"] = list(CONTEXT)
    return body


def require_model(dataset: Dataset) -> None:
    """422 on ``format`` unless the dataset declares a Smart Data Model."""
    if not dataset.smart_data_model:
        raise Invalid(_("This dataset declares no Smart Data Model: it has no NGSI-LD form"), field="format")


async def entities(dataset: Dataset, page: Iterable[tuple[Record, View]]) -> list[dict[str, Any]]:
    """Live records of a page as entities (tombstones have no entity), in the page's order."""
    live = [(record, view) for record, view in page if not record.deleted]
    places = await addresses(record.area_id for record, _view in live)
    return [entity(dataset, record, view, places[record.area_id]) for record, view in live]
