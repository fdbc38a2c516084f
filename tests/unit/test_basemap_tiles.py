"""Per-zoom selection and tile cutting of the basemap, on a few hand-made features."""

from __future__ import annotations

import gzip

import mapbox_vector_tile
import numpy as np
import shapely

from geo.tilemath import lonlat_to_mercator, lonlat_to_tile
from tiles.basemap import encode_tile, zoom_layers
from tiles.basemap_sources import LayerData

HDV = (2.3522, 48.8566)


def _merc(lon: float, lat: float) -> tuple[float, float]:
    x, y = lonlat_to_mercator(lon, lat)
    return float(x), float(y)


def _layers() -> dict[str, LayerData]:
    lon, lat = HDV
    across = shapely.linestrings([_merc(lon - 0.01, lat), _merc(lon + 0.01, lat)])
    lane = shapely.linestrings([_merc(lon - 0.0005, lat + 0.0003),
                                _merc(lon + 0.0005, lat + 0.0003)])
    return {
        "streets": LayerData.of("streets", [
            (across, {"name": "Rue Longue", "class": "major", "kind": "RUE"}, 11),
            (lane, {"name": "Impasse Courte", "class": "path", "kind": "IMP"}, 15),
        ]),
        "places": LayerData.of("places", [
            (shapely.points(_merc(lon, lat)), {"name": "Ici", "level": "quartier"}, 13),
        ]),
    }


def _decode(data: bytes | None) -> dict:
    assert data is not None
    return mapbox_vector_tile.decode(gzip.decompress(data))


def _tile(z: int, lonlat=HDV) -> tuple[int, int, int]:
    x, y = lonlat_to_tile(*lonlat, z)
    return z, int(x), int(y)


def test_each_zoom_shows_what_its_minzoom_allows():
    layers = _layers()
    z12 = _decode(encode_tile(zoom_layers(layers, 12), *_tile(12)))
    assert [f["properties"]["name"] for f in z12["streets"]["features"]] == ["Rue Longue"]
    assert "places" not in z12  # quartier labels wait for z13
    z16 = _decode(encode_tile(zoom_layers(layers, 16), *_tile(16)))
    assert {f["properties"]["name"] for f in z16["streets"]["features"]} == \
        {"Rue Longue", "Impasse Courte"}
    assert z16["places"]["features"][0]["properties"] == {"name": "Ici", "level": "quartier"}


def test_lines_are_clipped_to_the_tile_and_its_buffer():
    z, x, y = _tile(16)
    tile = _decode(encode_tile(zoom_layers(_layers(), z), z, x, y))
    line = next(f for f in tile["streets"]["features"]
                if f["properties"]["name"] == "Rue Longue")
    xs = np.array(line["geometry"]["coordinates"])[:, 0]
    assert xs.min() >= -64 and xs.max() <= 4096 + 64  # 64 units of buffer, no more
    assert xs.min() < 0 and xs.max() > 4096  # and it does run on past both edges


def test_a_label_point_lives_in_one_tile_only():
    z, x, y = _tile(16)
    layers = zoom_layers(_layers(), z)
    found = 0
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            data = encode_tile(layers, z, x + dx, y + dy)
            if data is not None and "places" in _decode(data):
                found += 1
    assert found == 1


def test_an_empty_tile_is_none():
    assert encode_tile(zoom_layers(_layers(), 16), 16, 0, 0) is None
