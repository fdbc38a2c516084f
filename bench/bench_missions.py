""""Missions for me" among 50,000 published missions (issue 20: median < 50 ms).

Seeds a throwaway PostGIS (``bench.ingest_common.cluster``, fsync off: seeding speed
is not what is measured) with:

* ``--missions`` volunteer missions (default 50,000) at uniform random points inside
  the real Paris outline, each with 1 to 3 weekly slots (a random day, a start between
  08:00 and 20:00 on the half hour, 1 to 4 hours), 70 % with ``volunteers_needed``
  (1-20); of those, 10 % are full (their ``signup_item`` counter at capacity), and 5 %
  of all missions are dated and already over: both kinds must be left out;
* ``--others`` other published features (places with opening-hours slots, time-exchange
  offers with availability slots: the same ``attributes.availability`` key, which the
  category join must leave out).

Then times :func:`community.signups.missions_for` (the query and the Python rows, as
``GET /api/v1/me/missions`` runs it) for ``--runs`` random resident profiles (2 to 4
slots each, a random point), in four shapes: nearest first from a point; within a
2 km radius; from an area (its centre); without any place (by id). Then the same
request through the Flask app (test client, a signed-in resident, JSON encoding
included); the live places of a page of the map's list (``places()`` and
``GET /api/v1/missions/places`` with 100 ids); the plan of one query (EXPLAIN
ANALYZE), and the nearest-first shape again without the GiST index (the seq scan it
replaces).

    .venv/bin/python bench/bench_missions.py [--missions 50000] [--others 150000] [--runs 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.ingest_common import cluster, paris_points
from community.profiles import DAYS, Profile, multirange_literal, week_ranges
from community.signups import missions_for, places, waiting_missions_for

SEED_MISSIONS = """
INSERT INTO feature (category, title, geom, attributes, starts_at, ends_at)
SELECT 'mission-benevole', 'Mission ' || t.i,
       ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326),
       jsonb_strip_nulls(jsonb_build_object(
         'availability', (
           SELECT jsonb_agg(jsonb_build_object(
             'day', (ARRAY['mon','tue','wed','thu','fri','sat','sun'])
                    [1 + floor(random() * 7)::int],
             'from', lpad((s.a / 60)::text, 2, '0') || ':' || lpad((s.a % 60)::text, 2, '0'),
             'to', lpad(((s.a + s.d) / 60)::text, 2, '0') || ':'
                   || lpad(((s.a + s.d) % 60)::text, 2, '0')))
           FROM (SELECT 480 + 30 * floor(random() * 25)::int AS a,
                        60 * (1 + floor(random() * 4)::int) AS d, g
                 FROM generate_series(1, 1 + (t.i % 3)::int) AS g) s),
         'organisation', 'Association ' || (t.i % 500),
         'volunteers_needed', CASE WHEN t.i % 10 < 7 THEN 1 + (t.i % 20)::int END)),
       CASE WHEN t.i % 20 = 0 THEN now() - interval '10 days' END,
       CASE WHEN t.i % 20 = 0 THEN now() - interval '9 days' END
FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS t(lon, lat, i)
"""

SEED_OTHERS = """
INSERT INTO feature (category, title, geom, attributes)
SELECT CASE WHEN t.i % 10 = 0 THEN 'echange-temps' ELSE 'jardin-partage' END,
       'Lieu ' || t.i, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326),
       CASE WHEN t.i % 10 = 0 THEN
         '{"offer_type": "offer",
           "availability": [{"day": "sat", "from": "10:00", "to": "12:00"}]}'::jsonb
       ELSE '{"hours": [{"day": "mon", "from": "09:00", "to": "18:00"}]}'::jsonb END
FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS t(lon, lat, i)
"""

FULL = """
INSERT INTO signup_item (feature_id, confirmed)
SELECT id, carte_capacity(attributes) FROM feature
WHERE category = 'mission-benevole' AND carte_capacity(attributes) IS NOT NULL AND id % 10 = 1;
-- mission_week copies the counter when a sign-up changes it (signup's trigger); seeded
-- counters are copied by hand.
UPDATE mission_week m SET confirmed = si.confirmed FROM signup_item si
WHERE si.feature_id = m.feature_id
"""


def profile(rng: random.Random, lon: float, lat: float, *, radius: int | None = None,
            area: int | None = None, place: bool = True) -> Profile:
    """A resident free 2 to 4 times a week, 2 to 3 hours each."""
    slots = []
    for _ in range(rng.randint(2, 4)):
        a = 8 * 60 + 30 * rng.randrange(0, 25)
        b = min(a + 60 * rng.randint(2, 3), 23 * 60 + 30)
        slots.append({"day": rng.choice(DAYS), "from": f"{a // 60:02}:{a % 60:02}",
                      "to": f"{b // 60:02}:{b % 60:02}"})
    return Profile(resident_id=0, availability=slots, area_id=area,
                   lon=lon if place else None, lat=lat if place else None, radius_m=radius)


def timed(engine, profiles: list[Profile], find=missions_for) -> tuple[float, float, float]:
    """Median, 95th percentile and mean result count of ``find`` over profiles."""
    times, counts = [], []
    with Session(engine) as s:
        find(s, profiles[0])  # warm-up (plan cache, index pages)
        for p in profiles:
            t0 = time.perf_counter()
            found = find(s, p)
            times.append((time.perf_counter() - t0) * 1000)
            counts.append(len(found))
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], statistics.mean(counts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--missions", type=int, default=50_000)
    ap.add_argument("--others", type=int, default=150_000)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    with cluster(durable=False) as (url, _root):
        engine = create_engine(url)
        lons, lats = paris_points(args.missions + args.others + args.runs, url=url)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(SEED_MISSIONS), {"lons": lons[:args.missions].tolist(),
                                                "lats": lats[:args.missions].tolist()})
            conn.execute(text(SEED_OTHERS), {
                "lons": lons[args.missions:args.missions + args.others].tolist(),
                "lats": lats[args.missions:args.missions + args.others].tolist()})
            conn.execute(text(FULL))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE feature"))
            conn.execute(text("VACUUM ANALYZE signup_item"))
            area = conn.execute(text("SELECT id FROM area WHERE kind::text = 'quartier' "
                                     "ORDER BY code LIMIT 1")).scalar_one()
            n_full = conn.execute(text("SELECT count(*) FROM signup_item")).scalar_one()
        print(f"seeded {args.missions:,} missions ({n_full:,} full, "
              f"{args.missions // 20:,} over) and {args.others:,} other features "
              f"in {time.perf_counter() - t0:.1f} s")

        rng = random.Random(20)
        pts = list(zip(lons[-args.runs:].tolist(), lats[-args.runs:].tolist(), strict=True))
        shapes = {
            "nearest first from a point": [profile(rng, x, y) for x, y in pts],
            "within 2 km of a point": [profile(rng, x, y, radius=2000) for x, y in pts],
            "from an area (quartier centre)": [profile(rng, x, y, area=area, place=False)
                                               for x, y in pts],
            "no place (by id)": [profile(rng, x, y, place=False) for x, y in pts],
            "nothing overlaps (sun 06:00-06:30)": [
                Profile(resident_id=0, lon=x, lat=y,
                        availability=[{"day": "sun", "from": "06:00", "to": "06:30"}])
                for x, y in pts],
            "tue 18-21 and sat 09-12 (as the app's)": [
                Profile(resident_id=0, lon=2.3522, lat=48.8566,
                        availability=[{"day": "tue", "from": "18:00", "to": "21:00"},
                                      {"day": "sat", "from": "09:00", "to": "12:00"}])
                for _ in pts],
            "one evening (tue 19:00-21:00)": [
                Profile(resident_id=0, lon=x, lat=y,
                        availability=[{"day": "tue", "from": "19:00", "to": "21:00"}])
                for x, y in pts],
            "with skills (matching ones first)": [
                Profile(resident_id=0, lon=x, lat=y, skills=["cuisine", "accueil"],
                        availability=profile(rng, x, y).availability)
                for x, y in pts],
        }
        print(f"\nmissions_for, {args.runs} random profiles each, 50 results a page:")
        print(f"{'shape':38} {'median ms':>10} {'p95 ms':>8} {'results':>8} {'overlapping':>12}")
        for name, profiles in shapes.items():
            med, p95, n = timed(engine, profiles)
            with engine.connect() as conn:  # slots overlapping the first profile's week
                over = conn.execute(text(
                    "SELECT count(*) FROM mission_slot WHERE during && "
                    "CAST(:w AS int4multirange)"),
                    {"w": multirange_literal(week_ranges(profiles[0].availability))}
                ).scalar_one()
            print(f"{name:38} {med:10.2f} {p95:8.2f} {n:8.1f} {over:12,}")
        # "Missions for me" also lists the full ones that fit, after those (20 at most).
        print(f"\nwaiting_missions_for (the full ones, 20 a page), {args.runs} profiles:")
        for name in ("nearest first from a point", "no place (by id)",
                     "nothing overlaps (sun 06:00-06:30)"):
            med, p95, n = timed(engine, shapes[name], waiting_missions_for)
            print(f"{name:38} {med:10.2f} {p95:8.2f} {n:8.1f}")

        # The same through the app: a signed-in resident's GET /api/v1/me/missions.
        from webmap import create_app
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True,
                          "VAR_DIR": str(_root)})
        with Session(engine) as s, s.begin():
            rid = s.execute(text(
                "INSERT INTO resident (email_hash, email, lang) VALUES "
                "(repeat('a', 64), 'bench@example.org', 'fr') RETURNING id")).scalar_one()
            s.execute(text(
                "INSERT INTO resident_profile (resident_id, availability, geom) VALUES "
                "(:r, CAST(:av AS jsonb), ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326))"),
                {"r": rid, "av": '[{"day": "tue", "from": "18:00", "to": "21:00"}, '
                                 '{"day": "sat", "from": "09:00", "to": "12:00"}]'})
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["resident_id"] = rid
        client.get("/api/v1/me/missions")
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            r = client.get("/api/v1/me/missions")
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
        print(f"\nGET /api/v1/me/missions (Flask test client, signed in): median "
              f"{statistics.median(times):.2f} ms, max {max(times):.2f} ms, "
              f"{len(r.get_json()['missions'])} missions")

        # The map's list: live places of a page of 100 features (a third of them
        # missions), one request per drawing of the list (GET /api/v1/missions/places).
        with engine.connect() as conn:
            pool = conn.execute(text(
                "(SELECT id FROM feature WHERE category = 'mission-benevole' "
                " ORDER BY random() LIMIT 20000) UNION ALL "
                "(SELECT id FROM feature WHERE category <> 'mission-benevole' "
                " ORDER BY random() LIMIT 40000)")).scalars().all()
        pages = [rng.sample(pool, 100) for _ in range(args.runs)]
        times, found = [], []
        with Session(engine) as s:
            places(s, pages[0])
            for ids in pages:
                t0 = time.perf_counter()
                found.append(len(places(s, ids)))
                times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"\nplaces() of a list page (100 ids, ~{statistics.mean(found):.0f} missions): "
              f"median {statistics.median(times):.2f} ms, "
              f"p95 {times[int(len(times) * 0.95) - 1]:.2f} ms")
        times = []
        for ids in pages:
            t0 = time.perf_counter()
            r = client.get("/api/v1/missions/places?ids=" + ",".join(map(str, ids)))
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
        print(f"GET /api/v1/missions/places (Flask test client, 100 ids): median "
              f"{statistics.median(times):.2f} ms, max {max(times):.2f} ms")

        p = shapes["nearest first from a point"][0]
        week = multirange_literal(week_ranges(p.availability))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            from community import signups
            pt = "CAST(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geography)"
            sql = signups._MATCH.format(distance=f"ST_Distance(k.geog, {pt})",
                                        order=f"m.geog <-> {pt}", outer_order="distance_m,",
                                        within="", places=signups._WITH_PLACES)
            conn.execute(text("SET enable_seqscan = off"))  # as missions_for does
            conn.execute(text("SET enable_bitmapscan = off"))
            plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql),
                                {"week": week, "lon": p.lon, "lat": p.lat, "limit": 50}).all()
            conn.execute(text("SET enable_seqscan = on"))
            print("\nplan (nearest first):")
            for (line,) in plan:
                print("  " + line)
            # No mission full: the waiting list's query reads an empty partial index.
            conn.execute(text("UPDATE mission_week SET confirmed = 0"))
            conn.execute(text("VACUUM ANALYZE mission_week"))
            med, p95, n = timed(engine, shapes["nearest first from a point"],
                                waiting_missions_for)
            print(f"\nwaiting_missions_for with no full mission: median {med:.2f} ms, "
                  f"p95 {p95:.2f} ms, {n:.1f} results")
            conn.execute(text("UPDATE mission_week m SET confirmed = si.confirmed "
                              "FROM signup_item si WHERE si.feature_id = m.feature_id"))
            conn.execute(text("DROP INDEX mission_week_geog_gist"))
        med, p95, n = timed(engine, shapes["nearest first from a point"][:50])
        print(f"\nwithout mission_week's GiST index (scan and sort), nearest first: "
              f"median {med:.2f} ms, "
              f"p95 {p95:.2f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
