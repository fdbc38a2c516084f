"""Moderation with 10,000 pending submissions: server time of the queue page and of every
decision, measured in-process through Flask's test client against a real PostGIS.

Run: ``.venv/bin/python bench/moderation_queue.py [--pending 10000] [--repeat 40]``

It starts its own throwaway cluster (default durability settings: fsync on), migrates,
loads the real Paris areas, seeds N pending submissions spread over the city (10 % with a
duplicate candidate, 5 % spam-scored), 1,000 published features and 60 flagged ones, then
times each page and decision. "Server time" is the time from request to complete
response inside the process (Flask + SQL), without network. Budget: 300 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import migrate  # noqa: E402
from geo.areas import load_areas  # noqa: E402
from geo.city import load_city  # noqa: E402
from geo.embedded import EmbeddedPostgres  # noqa: E402
from ingestion.categories import load_categories, read_categories  # noqa: E402
from moderation.accounts import create_user  # noqa: E402

BUDGET_MS = 300.0
PASSWORD = "bench password 123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(engine, n_pending: int) -> None:
    with Session(engine) as s, s.begin():
        # The product's categories, with their own fields and labels: pending items
        # carry every field of theirs, and the queue shows them all.
        load_categories(s, read_categories(ROOT / "data" / "categories.json"))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) VALUES "
            "('jardin', 'place', 'Jardin partagé', 'Shared garden', '#2e7d32', 'leaf'), "
            "('soupe', 'event', 'Disco Soupe', 'Disco Soup', '#c62828', 'pot'), "
            "('pret', 'offer', 'Prêt d''objets', 'Lending', '#1565c0', 'box') "
            "ON CONFLICT DO NOTHING"))
        # 1,000 published features (through SQL for speed; versions for the change feed).
        conn.execute(text("""
            WITH pts AS (
              SELECT (ST_Dump(ST_GeneratePoints(geom, 1000, 7))).geom AS g
              FROM area WHERE kind = 'city')
            INSERT INTO feature (category, title, description, geom, area_ids)
            SELECT (ARRAY['jardin','soupe','pret'])[1 + (row_number() OVER ()) % 3],
                   'Lieu publié ' || row_number() OVER (), 'Description', g,
                   ARRAY[(SELECT id FROM area a WHERE a.depth = 1
                            AND ST_Contains(a.geom, g) LIMIT 1),
                         (SELECT id FROM area a WHERE a.depth = 2
                            AND ST_Contains(a.geom, g) LIMIT 1)]
            FROM pts
        """))
        conn.execute(text("""
            INSERT INTO feature_version (feature_id, version, status, category, title,
                                         description, attributes, geom)
            SELECT id, 1, status, category, title, description, attributes, geom FROM feature
        """))
        conn.execute(text("""
            WITH pts AS (
              SELECT row_number() OVER () AS i, p.geom AS g
              FROM area, ST_Dump(ST_GeneratePoints(area.geom, :n, 11)) p
              WHERE area.kind = 'city')
            INSERT INTO submission (source, raw, status, category, title, description, geom,
                                    area_ids, received_at,
                                    possible_duplicate_of, spam_score, spam_reasons, email,
                                    attributes)
            SELECT CASE WHEN i % 7 = 0 THEN 'import-asso' ELSE 'api' END,
                   convert_to('{"title": "x"}', 'UTF8'), 'pending',
                   (ARRAY['mission-benevole','fete-des-voisins','pret-troc'])[1 + i % 3],
                   'Proposition ' || i, 'Un lieu du quartier, proposé par un habitant.', g,
                   ARRAY[(SELECT id FROM area a WHERE a.depth = 1
                            AND ST_Contains(a.geom, g) LIMIT 1),
                         (SELECT id FROM area a WHERE a.depth = 2
                            AND ST_Contains(a.geom, g) LIMIT 1)],
                   now() - make_interval(secs => (:n - i) * 30),
                   CASE WHEN i % 10 = 0 THEN 1 + (i % 1000) END,
                   CASE WHEN i % 20 = 0 THEN 0.7 ELSE 0.05 END,
                   CASE WHEN i % 20 = 0 THEN '["3 links", "repeated words"]'::jsonb
                        ELSE '[]'::jsonb END,
                   'resident' || i || '@example.net',
                   -- every field of the category filled: the queue shows them all
                   (ARRAY[
                     '{"availability": [{"day": "mon", "from": "09:00", "to": "12:00"},
                       {"day": "sat", "from": "14:00", "to": "18:00"}], "organisation":
                       "Les Restos du quartier", "skills": "Porter des cartons, accueillir",
                       "min_age": 16, "volunteers_needed": 4, "audiences": ["seniors"],
                       "accessibility": ["step_free_access", "quiet_space"]}',
                     '{"party_kit_request": true, "expected_guests": 40, "address":
                       "12 rue Vieille-du-Temple", "audiences": ["families", "children"],
                       "accessibility": ["seating"]}',
                     '{"offer_type": "lend", "item": "Perceuse à percussion",
                       "audiences": ["everyone"]}'])[1 + i % 3]::jsonb
            FROM pts
        """), {"n": n_pending})
        conn.execute(text("""
            INSERT INTO flag (feature_id, reason, client_key)
            SELECT 1 + (i % 60), 'Signalement ' || i, md5(i::text)
            FROM generate_series(1, 120) i
        """))
        conn.execute(text("ANALYZE"))
    with Session(engine) as s, s.begin():
        create_user(s, "bench@example.org", "moderator", PASSWORD)


def timed(client, method: str, path: str, **kw) -> tuple[float, int]:
    t0 = time.perf_counter()
    response = getattr(client, method)(path, **kw)
    response.get_data()
    elapsed = (time.perf_counter() - t0) * 1000
    response.close()
    return elapsed, response.status_code


def summary(name: str, samples: list[float]) -> dict[str, float | str | int]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"what": name, "n": len(samples), "median_ms": round(statistics.median(samples), 1),
            "p95_ms": round(p95, 1), "max_ms": round(samples[-1], 1),
            "p95_vs_budget": round(p95 / BUDGET_MS, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="carte-bench-", dir="/tmp"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pg")
    pg.up()
    try:
        run(pg.url, args.pending, args.repeat, root)
    finally:
        from geo.db import dispose_engines

        dispose_engines()
        pg.down()
        shutil.rmtree(root, ignore_errors=True)


def run(url: str, n_pending: int, repeat: int, root: Path) -> None:
    from webmap import create_app

    engine = create_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as s, s.begin():
        load_areas(s, load_city("paris"))
    t0 = time.perf_counter()
    seed(engine, n_pending)
    print(json.dumps({"seeded_pending": n_pending, "seconds": round(time.perf_counter() - t0,
                                                                     1)}))
    app = create_app({"DATABASE_URL": url, "VAR_DIR": root, "SECRET_KEY": "bench",
                      "CHANGES_SETTLE_SECONDS": 0, "MODERATION_FLAG_THRESHOLD": 1000,
                      "MODERATION_FLAGS_PER_HOUR": 10_000,
                      "LOGIN_MAX_FAILURES_PER_ACCOUNT": 10_000,
                      "LOGIN_MAX_FAILURES_PER_CLIENT": 10_000})
    client = app.test_client()
    login_page = client.get("/auth/login").get_data(as_text=True)
    token = CSRF.search(login_page).group(1)
    login_ms = []
    t = time.perf_counter()
    r = client.post("/auth/login", data={"csrf_token": token, "email": "bench@example.org",
                                         "password": PASSWORD})
    login_ms.append((time.perf_counter() - t) * 1000)
    assert r.status_code == 303, r.status_code
    queue = client.get("/moderation/").get_data(as_text=True)
    token = CSRF.search(queue).group(1)
    client.get("/moderation/")  # warm caches (outlines, templates)

    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM submission WHERE status = 'pending' "
                                "ORDER BY received_at, id")).scalars().all()
    results = []

    def measure(name: str, method: str, paths: list[str], data=None) -> None:
        samples = []
        for i, path in enumerate(paths):
            kw = {}
            if method == "post":
                kw["data"] = {"csrf_token": token, **(data(i) if callable(data) else data or {})}
            if "json" in name:
                kw = {"json": {"reason": f"fermé depuis des mois ({i})"}}
            ms, status = timed(client, method, path, **kw)
            assert status < 400, (name, path, status)
            samples.append(ms)
        results.append(summary(name, samples))

    n = repeat
    measure("queue page (10k pending, page 1)", "get", ["/moderation/"] * n)
    measure("queue page filtered by arrondissement", "get", ["/moderation/?area=75118"] * n)
    measure("queue page filtered by category+source", "get",
            ["/moderation/?category=fete-des-voisins&source=import-asso"] * n)
    with engine.connect() as conn:
        mid = conn.execute(text("SELECT received_at, id FROM submission WHERE status = "
                                "'pending' ORDER BY received_at, id OFFSET :o LIMIT 1"),
                           {"o": n_pending // 2}).one()
    after = f"{mid.received_at.isoformat()}|{mid.id}"
    from urllib.parse import quote

    measure("queue page, halfway (keyset)", "get", [f"/moderation/?after={quote(after)}"] * n)
    measure("submission detail page", "get",
            [f"/moderation/submissions/{sid}" for sid in ids[-n:]])
    measure("flags page", "get", ["/moderation/flags"] * n)

    cursor = iter(ids)
    measure("approve", "post", [f"/moderation/submissions/{next(cursor)}/approve"
                                for _ in range(n)], {"version": "1"})
    measure("refuse", "post", [f"/moderation/submissions/{next(cursor)}/refuse"
                               for _ in range(n)],
            {"version": "1", "reason": "advertising", "message": "Publicité"})
    measure("edit then approve", "post", [f"/moderation/submissions/{next(cursor)}/edit"
                                          for _ in range(n)],
            lambda i: {"version": "1", "title": f"Corrigé {i}", "description": "Texte",
                       "category": "pret-troc", "lon": f"{2.33 + i / 5000:.6f}",
                       "lat": "48.86", "starts_at": "", "ends_at": "",
                       "a_offer_type": "give", "a_item": "Perceuse",
                       "a_audiences": ["families", "everyone"]})
    measure("merge into a feature", "post", [f"/moderation/submissions/{next(cursor)}/merge"
                                             for _ in range(n)],
            lambda i: {"version": "1", "into": str(100 + i), "take": "description"})
    feats = list(range(200, 200 + n))
    measure("unpublish feature", "post", [f"/moderation/features/{f}/unpublish" for f in feats],
            {"version": "1", "reason": "inaccurate"})
    measure("restore feature", "post", [f"/moderation/features/{f}/restore" for f in feats],
            {"version": "2"})
    measure("merge two features", "post",
            [f"/moderation/features/{f}/merge" for f in range(400, 400 + n)],
            lambda i: {"version": "1", "into": str(600 + i)})
    measure("dismiss flags", "post", [f"/moderation/features/{f}/dismiss"
                                      for f in range(1, 1 + min(n, 60))], {"version": "1"})
    bulk_items = [f"{next(cursor)}:1" for _ in range(50)]
    measure("bulk approve of 50", "post", ["/moderation/bulk"],
            {"action": "approve", "items": bulk_items})
    measure("resident flag (json)", "post",
            [f"/api/v1/features/{f}/flags" for f in range(700, 700 + n)])
    measure("change feed, 100 entries", "get", ["/api/v1/changes?limit=100"] * n)
    results.append(summary("login (argon2id verify)", login_ms))
    # Wrong password for a known account vs an unknown account: same work, same time.
    for label, email in (("failed login, known account", "bench@example.org"),
                         ("failed login, unknown account", "nobody@example.org")):
        samples = []
        for _ in range(10):
            anon = app.test_client()
            tok = CSRF.search(anon.get("/auth/login").get_data(as_text=True)).group(1)
            ms, status = timed(anon, "post", "/auth/login",
                               data={"csrf_token": tok, "email": email, "password": "wrong!"})
            assert status == 401, status
            samples.append(ms)
        results.append(summary(label, samples))

    width = max(len(r["what"]) for r in results)
    print(f"{'what':<{width}}  {'n':>3}  {'median':>8}  {'p95':>8}  {'max':>8}  p95/budget")
    for r in results:
        print(f"{r['what']:<{width}}  {r['n']:>3}  {r['median_ms']:>6.1f}ms  "
              f"{r['p95_ms']:>6.1f}ms  {r['max_ms']:>6.1f}ms  {r['p95_vs_budget']:.2f}")
    worst = max(r["p95_ms"] for r in results if not str(r["what"]).startswith(("login",
                                                                                "failed",
                                                                                "bulk")))
    print(json.dumps({"pending": n_pending, "worst_p95_ms_per_request": worst,
                      "budget_ms": BUDGET_MS, "within_budget": worst < BUDGET_MS}))


if __name__ == "__main__":
    main()
