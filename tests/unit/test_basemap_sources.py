"""The basemap's readers on the real Paris sources (files only, no database)."""

from __future__ import annotations

import json

import numpy as np
import shapely

from geo.city import load_city
from geo.config import data_dir
from geo.tilemath import lonlat_to_mercator
from tiles.basemap_sources import BasemapSources, read_areas, read_streets


def _polygons(name: str) -> dict[str, shapely.Geometry]:
    with open(data_dir() / "cities" / "paris" / name, encoding="utf-8") as f:
        feats = json.load(f)["features"]
    out = {}
    for feat in feats:
        p = feat["properties"]
        code = str(p.get("c_arinsee") or p.get("c_quinsee"))
        geom = shapely.from_geojson(json.dumps(feat["geometry"]))
        out[code] = shapely.transform(
            geom, lambda xy: np.column_stack(lonlat_to_mercator(xy[:, 0], xy[:, 1])))
    return out


def test_label_points_lie_well_inside_their_area():
    boundaries, places = read_areas(BasemapSources.from_city(load_city("paris")).boundaries)
    areas = {**_polygons("arrondissements.geojson"), **_polygons("quartier_paris.geojson")}
    assert len(places) == 20 + 80
    for point, props in zip(places.geoms, places.props, strict=True):
        area = areas[props["code"]]
        assert area.contains(point), props
        # A label needs room: the point is >= 150 Mercator metres (~100 m) from the edge.
        assert area.exterior.distance(point) >= 150, props
    levels = {p["level"] for p in boundaries.props}
    assert levels == {"arrondissement", "quartier"}


def test_every_street_of_paris_has_its_name_and_a_class():
    streets = read_streets(BasemapSources.from_city(load_city("paris")).streets)
    assert len(streets) == 6564
    assert all(p["name"] for p in streets.props)
    classes = [p["class"] for p in streets.props]
    assert classes.count("periph") == 1
    assert 200 < classes.count("major") < 600  # boulevards, long avenues and quais
    names = {p["name"]: p["class"] for p in streets.props}
    assert names["Boulevard Périphérique"] == "periph"
    assert names["Rue de Rivoli"] == "major"
    assert names["Avenue des Champs Elysées"] == "major"
