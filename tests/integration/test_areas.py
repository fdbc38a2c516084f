"""Real Paris boundaries: loading and point lookup in PostGIS."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geo.areas import load_areas, locate, locate_many
from geo.city import load_city
from geo.models import Area, AreaKind


def count_by_kind(session):
    return dict(session.execute(select(Area.kind, func.count()).group_by(Area.kind)).all())


def test_city_arrondissements_and_quartiers_are_loaded(engine):
    with Session(engine) as s:
        assert count_by_kind(s) == {AreaKind.city: 1, "arrondissement": 20, "quartier": 80}


def test_loading_again_changes_nothing(engine):
    with Session(engine) as s, s.begin():
        ids_before = s.execute(select(Area.code, Area.id)).all()
        load_areas(s, load_city("paris"))
    with Session(engine) as s:
        assert sorted(s.execute(select(Area.code, Area.id)).all()) == sorted(ids_before)
        assert count_by_kind(s)["quartier"] == 80


def test_city_area_matches_the_official_surface(engine):
    # The official `surface` fields sum to 105.37 km² (Lambert-93 areas).
    with engine.connect() as conn:
        km2 = conn.execute(text(
            "SELECT ST_Area(ST_Transform(geom, 2154)) / 1e6 FROM area WHERE kind = 'city'"
        )).scalar_one()
    assert km2 == pytest.approx(105.4, abs=0.1)


@pytest.mark.parametrize("lon,lat,arrondissement,quartier", [
    (2.3522, 48.8566, "75104", "Saint-Merri"),      # Hôtel de Ville
    (2.2945, 48.8584, "75107", "Gros-Caillou"),     # Eiffel Tower
    (2.4380, 48.8330, "75112", None),               # Bois de Vincennes
    (2.2525, 48.8620, "75116", None),               # Bois de Boulogne
    (2.3499, 48.8530, "75104", "Notre-Dame"),       # Notre-Dame
])
def test_known_places(engine, lon, lat, arrondissement, quartier):
    with Session(engine) as s:
        where = locate(s, lon, lat)
    assert where.at(1).code == arrondissement
    assert where.at(2) is not None
    assert where.at(2).code.startswith(arrondissement)  # INSEE: 75104 -> 7510401
    if quartier:
        assert where.at(2).name == quartier


def test_outside_paris_is_nowhere(engine):
    with Session(engine) as s:
        assert locate(s, 2.4400, 48.8000).ids == []   # Ivry-sur-Seine
        assert locate(s, -59.017, -90.0).ids == []    # a placeholder seen in open data


def test_many_points_in_one_query_keep_their_order(engine):
    pts = [(2.2945, 48.8584), (0.0, 0.0), (2.3522, 48.8566)]
    with Session(engine) as s:
        got = [p.at(1) and p.at(1).code for p in locate_many(s, pts)]
    assert got == ["75107", None, "75104"]
