"""A start-only mission ends with its day in the city's time zone (migration 0021).

``mission_week.live_until`` (what "Missions pour moi" compares with ``now()``) was the
next midnight in Paris whatever the city; it is now the next midnight in
``carte_city_zone()``, set from the city's ``city.json`` at migrate time.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from community import signups
from community.profiles import Profile
from geo import migrate
from geo.events import next_local_midnight
from tests.integration.test_signups import _publish, db  # noqa: F401 - fixture
from tests.moderation_fixtures import mdb, real_categories  # noqa: F401 - fixtures

TEST_CITIES = Path(__file__).resolve().parents[1] / "data" / "cities"
EVERY_DAY = [{"day": d, "from": "00:00", "to": "24:00"}
             for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]


def _zone(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT carte_city_zone()")).scalar_one()


def _set_zone(engine, zone: str) -> bool:
    with engine.begin() as conn:
        return conn.execute(text("SELECT carte_set_city_zone(:z)"), {"z": zone}).scalar_one()


def _fixed_zone(now: datetime, hours: range) -> str:
    """A fixed-offset zone (Etc/GMT±N) where the local hour of ``now`` is in ``hours``."""
    for offset in range(-12, 15):
        name = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # Etc/GMT-3 is UTC+3
        if now.astimezone(ZoneInfo(name)).hour in hours:
            return name
    raise AssertionError("every hour has a zone")


@pytest.fixture
def paris_again(db):  # noqa: F811
    """The session database is Paris's: put its zone back whatever the test did."""
    yield db
    _set_zone(db, "Europe/Paris")


def test_a_start_only_mission_is_for_me_until_midnight_in_the_city_s_zone(paris_again):
    engine = paris_again
    assert _zone(engine) == "Europe/Paris"  # the session's city
    now = datetime.now(UTC)
    start = now - timedelta(hours=20)
    fid = _publish(engine, title="Collecte d'un jour", category="mission-benevole",
                   attributes={"availability": EVERY_DAY}, starts_at=start)
    me = Profile(resident_id=0, availability=EVERY_DAY)
    # Started 20 h ago, no end: still on where it is 21:00-22:59 now (its day goes on),
    # over where it is 10:00-15:59 (midnight came since).
    for zone, live in ((_fixed_zone(now, range(21, 23)), True),
                       (_fixed_zone(now, range(10, 16)), False)):
        assert _set_zone(engine, zone) is True
        with engine.connect() as conn:  # the stored end was recomputed for the new zone
            until = conn.execute(text("SELECT live_until FROM mission_week "
                                      "WHERE feature_id = :f"), {"f": fid}).scalar_one()
        assert until == next_local_midnight(start, ZoneInfo(zone)), zone
        with Session(engine) as s:
            found = [m.id for m in signups.missions_for(s, me)]
        assert (fid in found) is live, zone
        # A mission written now (the trigger) gets the same end as the recomputation.
        again = _publish(engine, title="Collecte bis", category="mission-benevole",
                         attributes={"availability": EVERY_DAY}, starts_at=start)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT live_until FROM mission_week "
                                     "WHERE feature_id = :f"), {"f": again}
                                ).scalar_one() == until
    assert _set_zone(engine, _zone(engine)) is False  # the same zone again changes nothing


def test_an_unknown_zone_is_refused_and_changes_nothing(paris_again):
    engine = paris_again
    with pytest.raises(DBAPIError, match="time zone"):
        _set_zone(engine, "Mars/Olympus_Mons")
    assert _zone(engine) == "Europe/Paris"


def test_migrate_gives_sql_the_zone_of_the_configured_city(paris_again, tmp_path,
                                                          monkeypatch):
    """A city in Montréal: ``carte engine migrate`` (geo.migrate.upgrade) sets its zone."""
    engine = paris_again
    shutil.copytree(TEST_CITIES / "lyonnaise", tmp_path / "cities" / "lyonnaise")
    config = tmp_path / "cities" / "lyonnaise" / "city.json"
    doc = json.loads(config.read_text(encoding="utf-8"))
    doc["time_zone"] = "America/Montreal"
    config.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setenv("CARTE_CITY", "lyonnaise")
    monkeypatch.setenv("CARTE_DATA_DIR", str(tmp_path))
    migrate.upgrade(engine)
    assert _zone(engine) == "America/Montreal"
    assert migrate.sync_city_zone(engine) is False  # already so
    monkeypatch.delenv("CARTE_CITY")
    monkeypatch.delenv("CARTE_DATA_DIR")
    assert migrate.sync_city_zone(engine) is True and _zone(engine) == "Europe/Paris"
