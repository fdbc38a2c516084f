""""Missions pour moi" keeps the full missions, after the ones with places, with their
waiting list: "Complet · liste d'attente" and a button to join it, in French and English.

Full missions that a resident's week and radius would fit are listed nearest first after
every mission with places; closed or over ones stay out, like the ones the resident
already joined (waiting included). The JSON keeps ``missions`` as it was (places left)
and adds ``waiting_list_missions``. Both query plans (few full missions read from their
partial index, or many walked nearest first) give the same answer. Real PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from sqlalchemy.orm import Session

from community import signups
from community.profiles import get_profile
from tests.integration.test_signups import _json, _publish, db  # noqa: F401 - fixture
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.moderation_fixtures import csrf_of, mdb, real_categories  # noqa: F401
from tests.resident_fixtures import make_resident, sign_in

EVENINGS = [{"day": "tue", "from": "18:00", "to": "21:00"}]
HOME = (2.3522, 48.8566)


def _mission(engine, title: str, lon: float, lat: float, *, needed: int | None = None,
             organiser: int | None = None, **attrs) -> int:
    attributes = {"availability": EVENINGS, "organisation": "Asso du quartier", **attrs}
    if needed is not None:
        attributes["volunteers_needed"] = needed
    return _publish(engine, title=title, lon=lon, lat=lat, attributes=attributes,
                    organiser=organiser)


def _fill(engine, fid: int, people: list[int]) -> None:
    with Session(engine) as s, s.begin():
        for rid in people:
            assert signups.sign_up(s, fid, rid).status == "confirmed"


def _world(app, engine) -> dict[str, int]:
    """Open missions far and near, full ones near and farther, a closed and an over one."""
    orga = make_resident(app, "orga@example.org", display_name="Orga")
    others = [make_resident(app, f"v{i}@example.org").id for i in range(4)]
    ids = {
        "open_far": _mission(engine, "Repas solidaire", 2.3700, 48.8650, needed=5),
        "open_near": _mission(engine, "Accueil du public", 2.3530, 48.8570),
        "full_near": _mission(engine, "Maraude du soir", 2.3524, 48.8567, needed=1),
        "full_far": _mission(engine, "Collecte de vêtements", 2.3650, 48.8620, needed=2),
        "full_closed": _mission(engine, "Tri de livres", 2.3526, 48.8568, needed=1,
                                organiser=orga.id),
        "full_over": _mission(engine, "Nettoyage du parc", 2.3527, 48.8569, needed=1,
                              ),
        "full_away": _mission(engine, "Jardin de Belleville", 2.3900, 48.8720, needed=1),
    }
    _fill(engine, ids["full_near"], others[:1])
    _fill(engine, ids["full_far"], others[:2])
    _fill(engine, ids["full_closed"], others[1:2])
    _fill(engine, ids["full_over"], others[2:3])
    _fill(engine, ids["full_away"], others[3:4])
    with Session(engine) as s, s.begin():
        signups.set_closed(s, ids["full_closed"], orga.id, True)
    with engine.begin() as conn:  # over: its day has passed
        from sqlalchemy import text

        conn.execute(text("UPDATE mission_week SET live_until = :t WHERE feature_id = :f"),
                     {"t": datetime.now(UTC) - timedelta(days=1), "f": ids["full_over"]})
    return ids


def _titles(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', html)]


def test_full_missions_stay_listed_after_those_with_places_with_their_waiting_list(
        app, db, mail_env):  # noqa: F811
    ids = _world(app, db)
    client = app.test_client()
    sign_in(client, "bea@example.org", display_name="Béa")
    _json(client, "PUT", "/api/v1/me/profile",
          {"availability": EVENINGS, "lon": HOME[0], "lat": HOME[1], "radius_m": 2500})
    html = client.get("/missions?lang=fr").get_data(as_text=True)
    # With places first (nearest first), then the full ones (nearest first); the closed,
    # the over and the one outside the radius are not there.
    assert _titles(html) == ["Accueil du public", "Repas solidaire", "Maraude du soir",
                             "Collecte de vêtements"]
    cards = html.split('<li class="card mission')[1:]
    full_cards = [c for c in cards if "Maraude du soir" in c or "Collecte" in c]
    for card in full_cards:
        assert card.startswith(' is-full">')
        assert '<strong class="badge full">Complet · liste d\'attente</strong>' in card
        assert ">M'inscrire en liste d'attente<" in card
        assert "Je participe" not in card
    assert f'href="/missions/{ids["full_near"]}/join"' in full_cards[0]
    open_card = next(c for c in cards if "Accueil du public" in c)
    assert "Je participe" in open_card and "Complet" not in open_card
    assert "5 places restantes" in next(c for c in cards if "Repas solidaire" in c)

    english = client.get("/missions?lang=en").get_data(as_text=True)
    assert english.count("Full · waiting list") == 2
    assert english.count("Join the waiting list") == 2
    assert "a place frees up for you" in english

    # The JSON: "missions" keeps its meaning (places left), the full ones apart.
    body = client.get("/api/v1/me/missions").get_json()
    assert [m["id"] for m in body["missions"]] == [ids["open_near"], ids["open_far"]]
    assert all(m["full"] is False for m in body["missions"])
    assert [(m["id"], m["full"], m["waiting_list"], m["places_left"])
            for m in body["waiting_list_missions"]] == [
        (ids["full_near"], True, True, 0), (ids["full_far"], True, True, 0)]
    # ... as the OpenAPI document says (a valid 3.1 document, checked elsewhere).
    from jsonschema import Draft202012Validator

    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/me/missions"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    Draft202012Validator(schema).validate(body)
    assert "waiting_list_missions" in schema["properties"]

    # Joining from the list: the waiting list; the mission then leaves the list and
    # shows among "Mes inscriptions" as waiting.
    r = client.post(f"/missions/{ids['full_near']}/join",
                    data={"csrf_token": csrf_of(client, f"/missions/{ids['full_near']}/join")})
    assert r.status_code == 303 and r.headers["Location"].endswith("done=waiting")
    html = client.get("/missions?lang=fr").get_data(as_text=True)
    assert "Maraude du soir" not in _titles(html)
    mine = html[html.index('id="mine-h"'):]
    assert "Maraude du soir" in mine and '<span class="badge wait">liste d\'attente' in mine


def test_both_plans_give_the_same_full_missions_and_none_is_quick(app, db, monkeypatch):  # noqa: F811
    ids = _world(app, db)
    bea = make_resident(app, "bea@example.org")
    from community.profiles import save_profile

    with Session(db) as s, s.begin():
        save_profile(s, bea.id, availability=EVENINGS, lon=HOME[0], lat=HOME[1])
    with Session(db) as s:
        profile = get_profile(s, bea.id)
        few = [m.id for m in signups.waiting_missions_for(s, profile)]
        s.rollback()
    monkeypatch.setattr(signups, "PROBE", 1)  # "many full": walk nearest first
    with Session(db) as s:
        walked = [m.id for m in signups.waiting_missions_for(s, profile)]
        near_walked = [m.id for m in signups.waiting_missions_for(s, profile, limit=1)]
        s.rollback()
    assert few == walked == [ids["full_near"], ids["full_far"], ids["full_away"]]
    assert near_walked == [ids["full_near"]]
    # Without a point: by id, both ways.
    with Session(db) as s, s.begin():
        save_profile(s, bea.id, availability=EVENINGS)
    with Session(db) as s:
        profile = get_profile(s, bea.id)
        unplaced = [m.id for m in signups.waiting_missions_for(s, profile)]
        s.rollback()
    assert unplaced == sorted(walked)
    # A week that overlaps nothing: no full mission either.
    with Session(db) as s, s.begin():
        save_profile(s, bea.id, availability=[{"day": "sun", "from": "06:00",
                                               "to": "07:00"}])
    with Session(db) as s:
        assert signups.waiting_missions_for(s, get_profile(s, bea.id)) == []
        s.rollback()
