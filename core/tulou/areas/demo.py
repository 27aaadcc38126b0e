"""The fictional demo county: Yunxi County (云溪县), 3 townships and 12 villages and communities.

Its code ``350899`` follows the national scheme (Fujian, Longyan's range) but names no
real county.
"""

from __future__ import annotations

from pathlib import Path

from tulou.areas.importer import ImportResult, import_areas_file
from tulou.platform import Platform

DEMO_COUNTY_CSV = Path(__file__).with_name("demo_county.csv")
DEMO_COUNTY_CODE = "350899000000"


async def load_demo_county(platform: Platform, actor: str = "demo") -> ImportResult:
    """Load (or refresh) the demo county; running it twice changes nothing."""
    return await import_areas_file(platform, DEMO_COUNTY_CSV, actor)
