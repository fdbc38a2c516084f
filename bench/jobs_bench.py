"""Long work in the background (issue 17, item 6): measured with a real ``carte worker``.

Two parts, each on its own throwaway PostGIS (durable: fsync on), the worker a separate
``carte worker`` process as in production, the web app in this process (Flask's test
client: server time, no network):

``--part publish`` (default ``--rows 100000``): an import run of ``--rows`` rows (90 %
valid, as ``bench/moderation_imports.py`` seeds it) is published from the moderation
page: the request queues an ``import.publish`` job and answers; the worker publishes;
meanwhile this process times ``GET /api/v1/features`` and the queue page
(``GET /moderation/``, 2,000 waiting submissions) back to back. Prints the request's
time, the job's run time and rows/s (valid rows published, and the file's rows), and
the requests' latencies during the job vs. before it.

``--part freshness`` (default ``--points 200000``): ``--points`` published features
COPYed (as ``bench/opendata_bench.py``), a first (full) export, then ``carte worker``
with its defaults (coalescing: refresh once no feature changed for 5 s, at most 20 s
after the first change) runs while a moderator approves 100 submissions one request
each; prints the time from the last approval to the manifest counting it
(``state.published`` = points + 100), the incremental refresh's own duration by
format, and the first export's.

    .venv/bin/python bench/jobs_bench.py --part publish [--rows 100000]
    .venv/bin/python bench/jobs_bench.py --part bulk [--submissions 5000]
    .venv/bin/python bench/jobs_bench.py --part freshness [--points 200000]

``--part bulk``: ``--submissions`` waiting submissions approved by one "everything
matching the filter" job (``POST /moderation/bulk/all``); decisions/s, and the job page
and the API timed while it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_common import cluster  # noqa: E402

from moderation.accounts import create_user  # noqa: E402

PASSWORD = "bench password 123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pending_submissions(engine, n: int, category: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO submission (source, raw, status, category, title, description, geom,
                                    area_ids, received_at, spam_score, spam_reasons)
            SELECT 'api', '\\x7b7d', 'pending', :cat, 'Proposition ' || i, 'Un lieu.', p.g,
                   ARRAY[(SELECT id FROM area WHERE depth = 1 AND ST_Contains(geom, p.g)),
                         (SELECT id FROM area WHERE depth = 2 AND ST_Contains(geom, p.g))],
                   now() - make_interval(mins => i), 0, '[]'
            FROM generate_series(1, :n) i,
                 LATERAL (SELECT ST_SetSRID(ST_MakePoint(2.30 + (i % 100) * 0.0008,
                          48.84 + (i / 100 % 50) * 0.0006), 4326) AS g) p
        """), {"n": n, "cat": category})
        conn.execute(text("ANALYZE submission"))


def app_and_client(url: str, var: Path):
    from moderation.errors import AccountError
    from webmap import create_app

    try:
        with Session(create_engine(url)) as s, s.begin():
            create_user(s, "bench@example.org", "moderator", PASSWORD)
    except AccountError:
        pass  # seeded by moderation_imports.seed
    app = create_app({"DATABASE_URL": url, "VAR_DIR": var, "SECRET_KEY": "bench",
                      "LOGIN_MAX_FAILURES_PER_ACCOUNT": 10_000,
                      "LOGIN_MAX_FAILURES_PER_CLIENT": 10_000})
    client = app.test_client()
    token = CSRF.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    r = client.post("/auth/login", data={"csrf_token": token, "email": "bench@example.org",
                                         "password": PASSWORD})
    assert r.status_code == 303, r.status_code
    return client


def start_worker(url: str, var: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CARTE_DATABASE_URL": url, "CARTE_VAR_DIR": str(var),
           "CARTE_SECRET_KEY": "bench"}
    return subprocess.Popen([str(ROOT / ".venv/bin/carte"), "worker", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()


def timed_get(client, path: str) -> float:
    t0 = time.perf_counter()
    response = client.get(path)
    response.get_data()
    assert response.status_code == 200, (path, response.status_code)
    return (time.perf_counter() - t0) * 1000


def stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"n": len(s), "p50_ms": round(statistics.median(s), 1),
            "p95_ms": round(s[min(len(s) - 1, round(0.95 * (len(s) - 1)))], 1),
            "max_ms": round(s[-1], 1)}


def part_publish(n_rows: int, traffic: bool = True) -> None:
    from moderation_imports import seed

    from geo.jobs import job_status

    with cluster() as (url, root):
        engine = create_engine(url)
        t0 = time.perf_counter()
        run_a, _run_b = seed(engine, n_rows, 10)
        pending_submissions(engine, 2_000, "jardin")
        print(json.dumps({"seeded_rows": n_rows, "pending_submissions": 2000,
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
        var = root / "var"
        client = app_and_client(url, var)
        paths = ["/api/v1/features?limit=100", "/moderation/"]
        before = {p: [timed_get(client, p) for _ in range(10)] for p in paths}
        page = client.get(f"/moderation/imports/{run_a}").get_data(as_text=True)
        token = CSRF.search(page).group(1)
        worker = start_worker(url, var, "--poll", "0.2", "--export-every", "0")
        try:
            time.sleep(3)  # the worker is up and idle
            t_req = time.perf_counter()
            r = client.post(f"/moderation/imports/{run_a}/publish",
                            data={"csrf_token": token, "attribution": "Ville de Paris"})
            request_ms = (time.perf_counter() - t_req) * 1000
            assert r.status_code == 303, r.status_code
            with engine.connect() as conn:
                job_id = conn.execute(text("SELECT max(id) FROM job")).scalar_one()
            during = {p: [] for p in paths}
            started = finished = None
            while True:
                with Session(engine) as s:
                    st = job_status(s, job_id)
                now = time.perf_counter()
                if st["status"] == "running" and started is None:
                    started = now
                if st["status"] in ("done", "failed"):
                    finished = now
                    break
                if started is not None and traffic:
                    for p in paths:
                        during[p].append(timed_get(client, p))
                else:
                    time.sleep(0.02)
                if now - t_req > 600:
                    raise SystemExit("job did not finish in 600 s")
            assert st["status"] == "done", st
        finally:
            stop(worker)
        with engine.connect() as conn:
            published = conn.execute(text("SELECT count(*) FROM feature")).scalar_one()
        observed_s = finished - (started or t_req)
        valid = st["result"]["changed"]
        print(json.dumps({
            "rows_in_file": n_rows, "valid_rows_published": valid, "features": published,
            "requests_during_job": traffic,
            "request_ms": round(request_ms, 1),
            # seen running (polled every 20 ms before, between requests after) to seen
            # done: within ~0.1 s of the worker's transaction (the job table's
            # finished_at is now(), the claim's time, so it cannot say)
            "job_running_s": round(observed_s, 2),
            "request_to_done_s": round(finished - t_req, 2),
            "valid_rows_per_s": round(valid / observed_s),
            "file_rows_per_s": round(n_rows / observed_s),
            "requests_before": {p: stats(v) for p, v in before.items()},
            "latencies_during_job": {p: stats(v) for p, v in during.items() if v},
        }, indent=1), flush=True)


def part_bulk(n: int) -> None:
    """``n`` waiting submissions approved by one "everything matching" job."""
    from geo.jobs import job_status

    with cluster() as (url, root):
        engine = create_engine(url)
        with engine.connect() as conn:
            cat = conn.execute(text("SELECT slug FROM category WHERE active AND kind = "
                                    "'place' ORDER BY slug LIMIT 1")).scalar_one()
        pending_submissions(engine, n, cat)
        var = root / "var"
        client = app_and_client(url, var)
        token = CSRF.search(client.get("/moderation/").get_data(as_text=True)).group(1)
        worker = start_worker(url, var, "--poll", "0.2", "--export-every", "0")
        try:
            time.sleep(3)
            t_req = time.perf_counter()
            r = client.post("/moderation/bulk/all", data={
                "csrf_token": token, "action": "approve", "confirm_count": str(n)})
            request_ms = (time.perf_counter() - t_req) * 1000
            assert r.status_code == 303, r.status_code
            job_id = int(r.location.split("/")[-2])
            during, started = [], None
            while True:
                with Session(engine) as s:
                    st = job_status(s, job_id)
                if st["status"] == "running" and started is None:
                    started = time.perf_counter()
                if st["status"] in ("done", "failed"):
                    finished = time.perf_counter()
                    break
                if started is not None:
                    during.append(timed_get(client, f"/moderation/jobs/{job_id}/view"))
                    during.append(timed_get(client, "/api/v1/features?limit=100"))
                    time.sleep(0.1)  # a few users, not a flood: the job shares 2 cores
                else:
                    time.sleep(0.02)
        finally:
            stop(worker)
        assert st["status"] == "done", st
        running = finished - (started or t_req)
        print(json.dumps({"submissions": n, "request_ms": round(request_ms, 1),
                          "decided": st["result"]["decided"], "job_running_s": round(running, 2),
                          "decisions_per_s": round(st["result"]["decided"] / running),
                          "job_page_and_api_during_job": stats(during)}, indent=1),
              flush=True)


def _load() -> str:
    """The load average (1, 5, 15 min): the 2 cores are shared, figures depend on it."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def part_freshness(points: int) -> None:
    """Last of 100 approvals -> manifest counting it, with the real worker's defaults.

    The worker coalesces (``--export-quiet``, ``--export-max-wait``): the burst of
    approvals makes one incremental refresh once publications pause. Prints the
    refresh's own duration by format (the manifest's ``refresh.seconds``), how many
    refreshes the worker made during the burst, and the first (full) export's duration.
    """
    from opendata_bench import load

    from opendata.exports import read_manifest, run_export

    with cluster() as (url, root):
        seconds = load(url, points)
        print(json.dumps({"copied_features": points, "seconds": round(seconds, 1)}),
              flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            cat = conn.execute(text("SELECT slug FROM category WHERE active AND kind = "
                                    "'place' ORDER BY slug LIMIT 1")).scalar_one()
        pending_submissions(engine, 100, cat)
        var = root / "var"
        data = var / "data"
        load_before = _load()
        t0 = time.perf_counter()
        first = run_export(engine, data)
        first_export_s = time.perf_counter() - t0
        print(json.dumps({"first_export_s": round(first_export_s, 1),
                          "first_export_by_format_s": first["refresh"]["seconds"],
                          "load_average": load_before}), flush=True)
        client = app_and_client(url, var)
        worker = start_worker(url, var)  # defaults: --poll 2, --export-quiet 5, max wait 20
        try:
            time.sleep(5)  # up, and its first check (nothing changed) done
            with engine.connect() as conn:
                items = conn.execute(text("SELECT id, version FROM submission WHERE "
                                          "status = 'pending' ORDER BY id")).all()
            token = CSRF.search(client.get("/moderation/").get_data(as_text=True)).group(1)
            seen = {(read_manifest(data) or {}).get("generated_at")}
            t_first = time.perf_counter()
            approve_ms = []
            for sid, version in items:
                t = time.perf_counter()
                r = client.post(f"/moderation/submissions/{sid}/approve",
                                data={"csrf_token": token, "version": str(version)})
                approve_ms.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 303, r.status_code
                seen.add((read_manifest(data) or {}).get("generated_at"))
            t_last = time.perf_counter()
            load_during = _load()
            target = points + len(items)
            while True:
                manifest = read_manifest(data) or {}
                seen.add(manifest.get("generated_at"))
                if manifest.get("state", {}).get("published") == target:
                    fresh = time.perf_counter()
                    break
                if time.perf_counter() - t_last > 900:
                    raise SystemExit("exports not refreshed within 900 s")
                time.sleep(0.1)
        finally:
            stop(worker)
        refresh = manifest.get("refresh", {})
        print(json.dumps({
            "published_features": target, "approvals": len(items),
            "approvals_took_s": round(t_last - t_first, 1),
            "approve_request": stats(approve_ms),
            "last_approval_to_fresh_export_s": round(fresh - t_last, 1),
            "refreshes_during_burst": len(seen) - 1,
            "refresh_incremental": manifest.get("incremental"),
            "refresh_by_format_s": refresh.get("seconds"),
            "refresh_rendered_buckets": refresh.get("rendered_buckets"),
            "refresh_files": refresh.get("files"),
            "first_export_s": round(first_export_s, 1),
            "files": len(manifest.get("files", [])),
            "load_average_before_after": [load_before, load_during, _load()],
        }, indent=1), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["publish", "bulk", "freshness"],
                        default="publish")
    parser.add_argument("--submissions", type=int, default=5_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-traffic", action="store_true",
                        help="publish: no requests during the job (the job's rate alone)")
    parser.add_argument("--points", type=int, default=200_000)
    args = parser.parse_args()
    if args.part == "publish":
        part_publish(args.rows, traffic=not args.no_traffic)
    elif args.part == "bulk":
        part_bulk(args.submissions)
    else:
        part_freshness(args.points)


if __name__ == "__main__":
    main()
