"""A basemap built once per test session, for the tests that draw or read it.

Usage in a test module (or a conftest)::

    from tests.basemap_fixtures import basemap_var  # noqa: F401  (a pytest fixture)

    def test_x(basemap_var):
        # basemap_var / "tiles" / "basemap.mbtiles" (and basemap.pmtiles) exist
        ...

The box is around the Hôtel de Ville (the 1st–4th, 11th and the islands), all zooms
11–16: about a second to build, so a browser test can serve real streets, the Seine and
stations without building the whole of Paris.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.city import load_city
from tiles.basemap import build_basemap

HOTEL_DE_VILLE = (2.3522, 48.8566)  # lon, lat
BBOX = (2.33, 48.845, 2.38, 48.87)  # west, south, east, north


@pytest.fixture(scope="session")
def basemap_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A var directory whose ``tiles/basemap.mbtiles`` covers :data:`BBOX` at z11–16."""
    var = tmp_path_factory.mktemp("basemap_var")
    report = build_basemap(load_city("paris"), var, bbox=BBOX, minzoom=11, maxzoom=16)
    assert report.built and report.tiles > 0, report
    return var
