"""Partner imports in the moderation UI: server time of the pages and decisions of a run of
100,000 rows, measured in-process through Flask's test client against a real PostGIS.

Run: ``.venv/bin/python bench/moderation_imports.py [--rows 100000] [--runs 200] [--repeat 20]``

It starts its own throwaway cluster, migrates, loads the real Paris areas, and seeds
``--runs`` decided runs (the list's history) plus two pending runs of ``--rows`` rows each
(90 % valid points spread over Paris, 8 % refused with two field errors, 2 % unchanged),
straight into ``import_run``/``import_row`` as ``carte import`` leaves them. It then times
the list, the run page on each tab, a deep page, and the two decisions: publishing every
valid row of one run (one request) and refusing the other. "Server time" is request to
complete response inside the process (Flask + SQL), without network. Budget for pages:
300 ms, as for the queue.
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
from moderation.accounts import create_user  # noqa: E402

BUDGET_MS = 300.0
PASSWORD = "bench password 123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(engine, n_rows: int, n_runs: int) -> list[int]:
    """Seed the runs; returns the ids of the two big pending runs."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) VALUES "
            "('jardin', 'place', 'Jardin partagé', 'Shared garden', '#2e7d32', 'leaf') "
            "ON CONFLICT DO NOTHING"))
        conn.execute(text("""
            INSERT INTO import_run (source, file_name, file_sha256, file_size, status,
                                    started_at, finished_at, summary, decided_at, reason)
            SELECT 'partenaire-' || (i % 7), 'fichier-' || i || '.geojson', sha256(i::text::bytea),
                   1000 * i, CASE WHEN i % 2 = 0 THEN 'published' ELSE 'refused' END
                   ::import_run_status, now() - make_interval(days => :n - i),
                   now() - make_interval(days => :n - i), jsonb_build_object(
                     'read', 100, 'accepted', 90, 'refused', 10, 'refused_by_reason',
                     jsonb_build_object('outside_area', 6, 'required', 4)),
                   now(), CASE WHEN i % 2 = 1 THEN 'off-topic' END
            FROM generate_series(1, :n) i
        """), {"n": n_runs})
        big = []
        for name in ("gros-fichier-a.geojson", "gros-fichier-b.geojson"):
            big.append(conn.execute(text("""
                INSERT INTO import_run (source, file_name, file_sha256, file_size, status,
                                        finished_at, summary, options)
                VALUES ('ville-de-paris', :f, sha256(convert_to(:f, 'UTF8')), 25000000,
                        'pending', now(), jsonb_build_object(
                          'read', :n, 'accepted', :v, 'refused', :r, 'already_imported', :u,
                          'refused_by_reason', jsonb_build_object('outside_area', :r / 2,
                                                                   'required', :r - :r / 2)),
                        '{"attribution": "Ville de Paris"}')
                RETURNING id
            """), {"f": name, "n": n_rows, "v": n_rows * 90 // 100, "r": n_rows * 8 // 100,
                   "u": n_rows - n_rows * 90 // 100 - n_rows * 8 // 100}).scalar_one())
        # row_hash: computed by the database or given by the importer, whichever the
        # migration says.
        given = not conn.execute(text(
            "SELECT attgenerated <> '' FROM pg_attribute WHERE attrelid = "
            "'import_row'::regclass AND attname = 'row_hash'")).scalar_one()
        hash_col, hash_val = (", row_hash", ", sha256(raw)") if given else ("", "")
        for run_id in big:
            conn.execute(text(f"""
                WITH pts AS (
                  SELECT row_number() OVER () AS i, p.geom AS g
                  FROM area, ST_Dump(ST_GeneratePoints(area.geom, :n, :seed)) p
                  WHERE area.kind = 'city'),
                rows AS (
                  SELECT i, g, convert_to(json_build_object('id', 'r' || i, 'name',
                         'Jardin <b>n° ' || i || '</b>', 'lon', ST_X(g), 'lat', ST_Y(g))::text,
                         'UTF8') AS raw,
                         CASE WHEN i % 50 < 45 THEN 'valid' WHEN i % 50 < 49 THEN 'invalid'
                              ELSE 'unchanged' END AS outcome
                  FROM pts)
                INSERT INTO import_row (run_id, row_number, ref, raw{hash_col}, outcome,
                                        changed, errors, category, title, description,
                                        attributes, geom, area_ids)
                SELECT :run, i, 'r' || i, raw{hash_val}, outcome::import_row_outcome,
                       i % 97 = 0 AND outcome <> 'unchanged',
                       CASE WHEN outcome = 'invalid' THEN jsonb_build_array(
                         jsonb_build_object('pointer', '/lon', 'code', 'outside_area',
                                            'detail', 'outside the service area'),
                         jsonb_build_object('pointer', '/title', 'code', 'required',
                                            'detail', 'a title is required')) END,
                       CASE WHEN outcome = 'valid' THEN 'jardin' END,
                       CASE WHEN outcome = 'valid' THEN 'Jardin n° ' || i END,
                       CASE WHEN outcome = 'valid' THEN 'Un jardin.' END,
                       CASE WHEN outcome = 'valid' THEN '{{}}'::jsonb END,
                       CASE WHEN outcome = 'valid' THEN g END,
                       CASE WHEN outcome = 'valid' THEN ARRAY[(
                         SELECT id FROM area a WHERE a.depth = 1
                           AND ST_Contains(a.geom, g) LIMIT 1)] ELSE '{{}}' END
                FROM rows
            """), {"n": n_rows, "seed": run_id, "run": run_id})
        conn.execute(text("ANALYZE"))
    with Session(engine) as s, s.begin():
        create_user(s, "bench@example.org", "moderator", PASSWORD)
    return big


def timed(client, method: str, path: str, **kw) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    response = getattr(client, method)(path, **kw)
    size = len(response.get_data())
    elapsed = (time.perf_counter() - t0) * 1000
    response.close()
    return elapsed, response.status_code, size


def summary(name: str, samples: list[float], size: int) -> dict[str, float | str | int]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"what": name, "n": len(samples), "median_ms": round(statistics.median(samples), 1),
            "p95_ms": round(p95, 1), "max_ms": round(samples[-1], 1), "kib": size // 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="carte-bench-", dir="/tmp"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pg")
    pg.up()
    try:
        run(pg.url, args.rows, args.runs, args.repeat, root)
    finally:
        from geo.db import dispose_engines

        dispose_engines()
        pg.down()
        shutil.rmtree(root, ignore_errors=True)


def run(url: str, n_rows: int, n_runs: int, repeat: int, root: Path) -> None:
    from webmap import create_app

    engine = create_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as s, s.begin():
        load_areas(s, load_city("paris"))
    t0 = time.perf_counter()
    big = seed(engine, n_rows, n_runs)
    print(json.dumps({"seeded_rows_per_run": n_rows, "runs": n_runs + 2,
                      "seconds": round(time.perf_counter() - t0, 1)}))
    app = create_app({"DATABASE_URL": url, "VAR_DIR": root, "SECRET_KEY": "bench",
                      "LOGIN_MAX_FAILURES_PER_ACCOUNT": 10_000,
                      "LOGIN_MAX_FAILURES_PER_CLIENT": 10_000})
    client = app.test_client()
    token = CSRF.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    r = client.post("/auth/login", data={"csrf_token": token, "email": "bench@example.org",
                                         "password": PASSWORD})
    assert r.status_code == 303, r.status_code
    page = client.get(f"/moderation/imports/{big[0]}").get_data(as_text=True)  # warm
    token = CSRF.search(page).group(1)
    results = []

    def measure(name: str, path: str, n: int = repeat) -> None:
        samples, size = [], 0
        for _ in range(n):
            ms, status, size = timed(client, "get", path)
            assert status == 200, (name, path, status)
            samples.append(ms)
        results.append(summary(name, samples, size))

    a, b = big
    deep = n_rows // 2 + 1
    measure(f"imports list ({n_runs + 2} runs)", "/moderation/imports")
    measure("imports list, pending only", "/moderation/imports?status=pending")
    measure(f"run page, valid rows ({n_rows:,} rows, map of 2,000)",
            f"/moderation/imports/{a}")
    measure("run page, refused rows", f"/moderation/imports/{a}?outcome=refused")
    measure("run page, changed rows", f"/moderation/imports/{a}?outcome=changed")
    measure(f"run page, valid rows from row {deep:,}", f"/moderation/imports/{a}?start={deep}")
    measure("audit page", "/moderation/audit")

    valid = n_rows * 90 // 100
    ms, status, _ = timed(client, "post", f"/moderation/imports/{a}/publish",
                          data={"csrf_token": token, "attribution": "Ville de Paris"})
    assert status == 303, status
    with engine.connect() as conn:
        published = conn.execute(text("SELECT count(*) FROM feature")).scalar_one()
        dirty = conn.execute(text("SELECT count(*) FROM tile_dirty")).scalar_one()
    assert published == valid, (published, valid)
    results.append({"what": f"publish {valid:,} valid rows (one request)", "n": 1,
                    "median_ms": round(ms, 1), "p95_ms": round(ms, 1), "max_ms": round(ms, 1),
                    "kib": 0})
    ms2, status, _ = timed(client, "post", f"/moderation/imports/{b}/refuse",
                           data={"csrf_token": token, "reason": "inaccurate"})
    assert status == 303, status
    results.append({"what": "refuse a run", "n": 1, "median_ms": round(ms2, 1),
                    "p95_ms": round(ms2, 1), "max_ms": round(ms2, 1), "kib": 0})
    _, status, _ = timed(client, "post", f"/moderation/imports/{a}/publish",
                           data={"csrf_token": token, "attribution": "x"})
    assert status == 409, status
    measure("run page after publishing", f"/moderation/imports/{a}")
    measure(f"audit page after publishing ({valid:,} import events)", "/moderation/audit")

    width = max(len(r["what"]) for r in results)
    print(f"{'what':<{width}}  {'n':>3}  {'median':>9}  {'p95':>9}  {'max':>9}  {'KiB':>5}")
    for r in results:
        print(f"{r['what']:<{width}}  {r['n']:>3}  {r['median_ms']:>7.1f}ms  "
              f"{r['p95_ms']:>7.1f}ms  {r['max_ms']:>7.1f}ms  {r['kib']:>5}")
    pages = [r for r in results if r["n"] > 1]
    worst = max(r["p95_ms"] for r in pages)
    print(json.dumps({"rows": n_rows, "worst_page_p95_ms": worst, "budget_ms": BUDGET_MS,
                      "within_budget": worst < BUDGET_MS, "publish_ms": round(ms, 1),
                      "published": published, "published_per_s": round(valid / ms * 1000),
                      "dirty_tiles": dirty}))


if __name__ == "__main__":
    main()
