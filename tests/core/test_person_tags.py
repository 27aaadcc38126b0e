"""The tag vocabulary: the core's tags, plugins' additions, and people carrying only known ones."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN
from tests.core.test_people import PEOPLE, person
from tulou.api import PersonTag, hookimpl
from tulou.plugins.manifest import PluginManifest


class TagPlugin:
    """Adds one tag, and (when asked) one that clashes with the core's."""

    def __init__(self, name: str, codes: tuple[str, ...]) -> None:
        self.name, self.codes = name, codes

    @hookimpl
    def plugin_manifest(self) -> PluginManifest:
        return PluginManifest(name=self.name, version="1.0.0", title=self.name)

    @hookimpl
    def register_person_tags(self, register: Any) -> None:
        for code in self.codes:
            register(PersonTag(code, f"{code} title"))


async def test_people_carry_only_known_tags_and_plugins_add_some(serve: Any) -> None:
    async with serve(plugins=[TagPlugin("farming", ("grain_grower",)), TagPlugin("clash", ("veteran",))]) as client:
        platform = client.app.state.platform
        assert not platform.plugins.get("clash").usable and "already defined" in platform.plugins.get("clash").reason
        created = await client.post(f"{PEOPLE}/", json=person(1, tags=["grain_grower", "elderly_alone"]), headers=ADMIN)
        assert created.status_code == 201, created.text
        assert created.json()["tags"] == ["elderly_alone", "grain_grower"]
        unknown = await client.post(f"{PEOPLE}/", json=person(2, tags=["veteran", "vip", "rich"]), headers=ADMIN)
        patched = await client.patch(f"{PEOPLE}/{created.json()['id']}", json={"tags": ["vip"]}, headers=ADMIN)
        listed = await client.get("/api/v1/person-tags/", headers={**ADMIN, "Accept-Language": "en"})
        chinese = await client.get("/api/v1/person-tags/", headers=ADMIN)
    for refused in (unknown, patched):
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "tags"
    assert "rich, vip" in unknown.json()["detail"]
    tags = {tag["code"]: tag for tag in listed.json()}
    assert tags["elderly_alone"] == {"code": "elderly_alone", "title": "Elderly, living alone", "description": "",
                                     "plugin": None}
    assert tags["grain_grower"]["plugin"] == "farming"
    assert {tag["code"]: tag["title"] for tag in chinese.json()}["elderly_alone"] == "独居老人"
