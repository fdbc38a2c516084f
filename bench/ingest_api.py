"""Submission API under load: wrk against gunicorn, beside a minimal endpoint, same run.

    .venv/bin/python bench/ingest_api.py [--seconds 20] [--connections 16]

The minimal endpoint is what MEASURED.md timed (Flask + psycopg, one INSERT of the JSON
and a point, no validation); ours keeps the raw body, counts the client's rate limit,
validates, locates the arrondissement and quartier, looks for duplicates, scores spam
and queues the submission, in two commits. Each request comes from a different
client address (X-Forwarded-For from a trusted proxy), as real traffic would. After
the run, rows are counted: every 201 must be a stored pending submission.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.ingest_common import cluster

LUA = r"""
math.randomseed(42)
local n = 0
request = function()
  n = n + 1
  local lon = 2.30 + math.random() * 0.08
  local lat = 48.84 + math.random() * 0.04
  local body = string.format('{"lon": %.6f, "lat": %.6f, "title": "Jardin partagé n°%d",'
    .. '"description": "Des bacs à cultiver ensemble, ouverts à tous.",'
    .. '"category": "jardin-partage", "attributes": {"garden_type": "shared"}}', lon, lat, n)
  local headers = {["Content-Type"] = "application/json",
                   ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255),
                                                       math.random(0, 255), math.random(1, 254))}
  return wrk.format("POST", PATH, headers, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(kind: str, url: str, var: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "BENCH_URL": url, "BENCH_VAR": str(var), "BENCH_PORT": str(port),
           "BENCH_KIND": kind}
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _minimal_app(url: str):
    import psycopg
    from flask import Flask, request

    app = Flask(__name__)
    conninfo = url.replace("postgresql+psycopg", "postgresql")
    local: dict[int, psycopg.Connection] = {}

    @app.post("/min")
    def minimal():
        import threading

        conn = local.get(threading.get_ident())
        if conn is None:
            conn = local[threading.get_ident()] = psycopg.connect(conninfo)
        body = request.get_json()
        row = conn.execute(
            "INSERT INTO bench_min (body, geom) VALUES (%s, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id",
            (json.dumps(body), body["lon"], body["lat"])).fetchone()
        conn.commit()
        return {"id": row[0]}, 201

    return app


def serve() -> None:
    from webmap import create_app
    from webmap.serve import default_workers, run_gunicorn

    url, var, port = os.environ["BENCH_URL"], Path(os.environ["BENCH_VAR"]), \
        int(os.environ["BENCH_PORT"])
    if os.environ["BENCH_KIND"] == "minimal":
        def factory():
            return _minimal_app(url)
    else:
        def factory():
            return create_app({"DATABASE_URL": url, "VAR_DIR": var, "SECRET_KEY": "bench",
                               "TRUSTED_PROXIES": "127.0.0.1",
                               "INGEST_RATE_LIMIT": "20/600"})
    run_gunicorn(factory, host="127.0.0.1", port=port, workers=default_workers())


def wrk(port: int, path: str, seconds: int, connections: int, script: Path) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "--timeout", "10s",
                          "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ}).stdout
    def grab(pattern: str) -> str | None:
        m = re.search(pattern, out)
        return m.group(1) if m else None

    def ms(v: str | None) -> float | None:
        if v is None:
            return None
        num, unit = float(re.match(r"[\d.]+", v).group()), re.sub(r"[\d.]", "", v)
        return num * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"requests": int(grab(r"(\d+) requests in") or 0),
            "req_per_s": float(grab(r"Requests/sec:\s+([\d.]+)") or 0),
            "p50_ms": ms(grab(r"50%\s+(\S+)")), "p99_ms": ms(grab(r"99%\s+(\S+)")),
            "non_2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0),
            "errors": grab(r"Socket errors: (.*)")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    if args.serve:
        serve()
        return
    with cluster(durable=True) as (url, root):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE bench_min (id bigint GENERATED ALWAYS AS IDENTITY "
                              "PRIMARY KEY, body jsonb, geom geometry(Point, 4326))"))
        results = {}
        for kind, path in (("minimal", "/min"), ("carte", "/api/v1/submissions")):
            script = root / f"{kind}.lua"
            script.write_text(f'PATH = "{path}"\n' + LUA)
            port = _free_port()
            proc = _serve(kind, url, root / "var", port)
            try:
                # Warm-up: every worker builds its app and caches on its first requests.
                wrk(port, path, 10, args.connections, script)
                results[kind] = wrk(port, path, args.seconds, args.connections, script)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(30)
            print(json.dumps({"endpoint": kind, **results[kind]}), flush=True)
        with engine.connect() as conn:
            stored = conn.execute(text(
                "SELECT count(*) FROM submission WHERE status = 'pending'")).scalar_one()
            invalid = conn.execute(text(
                "SELECT count(*) FROM submission WHERE status <> 'pending'")).scalar_one()
        engine.dispose()
        ok = results["carte"]["requests"] - results["carte"]["non_2xx"]
        print(json.dumps({"ratio_carte_over_minimal": round(
            results["carte"]["req_per_s"] / results["minimal"]["req_per_s"], 3),
            "pending_rows": stored, "other_rows": invalid,
            "acknowledged_201_in_measured_run_plus_warmup_at_least": ok,
            "lost": max(0, ok - stored)}))


if __name__ == "__main__":
    main()
