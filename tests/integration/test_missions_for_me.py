""""Missions pour moi" puts the missions asking for the resident's skills first.

Among the nearest missions whose slots overlap the resident's, those whose "useful
skills" name more of the resident's skills come first, nearest first among equals;
without skills the order stays nearest first. Real PostgreSQL.
"""

from __future__ import annotations

from tests.integration.test_signups import _json, _publish, db  # noqa: F401 - fixture
from tests.moderation_fixtures import mdb, real_categories  # noqa: F401 - fixtures
from tests.resident_fixtures import sign_in

EVENINGS = [{"day": "tue", "from": "18:00", "to": "21:00"}]


def _mission(engine, title: str, skills: str, lon: float, lat: float) -> int:
    return _publish(engine, title=title, lon=lon, lat=lat,
                    attributes={"availability": EVENINGS, "skills": skills})


def test_missions_asking_for_my_skills_come_first_among_the_nearest(app, db):  # noqa: F811
    near = _mission(db, "Accueil du public", "Écoute, accueil", 2.3525, 48.8567)
    middle = _mission(db, "Repas solidaire", "Cuisine, service", 2.3600, 48.8600)
    far = _mission(db, "Potager et cuisine", "Jardinage, cuisine", 2.3800, 48.8700)
    client = app.test_client()
    sign_in(client, "ana@example.org")
    _json(client, "PUT", "/api/v1/me/profile",
          {"availability": EVENINGS, "lon": 2.3522, "lat": 48.8566})
    found = client.get("/api/v1/me/missions").get_json()["missions"]
    assert [m["id"] for m in found] == [near, middle, far]  # no skills: nearest first

    _json(client, "PUT", "/api/v1/me/profile",
          {"availability": EVENINGS, "lon": 2.3522, "lat": 48.8566,
           "skills": "cuisine, jardinage"})
    found = client.get("/api/v1/me/missions").get_json()["missions"]
    assert [(m["id"], m["my_skills"]) for m in found] == [
        (far, ["cuisine", "jardinage"]), (middle, ["cuisine"]), (near, [])]
    page = client.get("/missions?lang=fr").get_data(as_text=True)
    assert page.index("Potager et cuisine") < page.index("Repas solidaire") < page.index(
        "Accueil du public")

    _json(client, "PUT", "/api/v1/me/profile",  # one skill: equals stay nearest first
          {"availability": EVENINGS, "lon": 2.3522, "lat": 48.8566, "skills": "cuisine"})
    found = client.get("/api/v1/me/missions").get_json()["missions"]
    assert [m["id"] for m in found] == [middle, far, near]
