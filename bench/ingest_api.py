"""Submission API under load: wrk against gunicorn, beside a minimal endpoint, same run.

    flock /tmp/carte-bench.lock .venv/bin/python bench/ingest_api.py [--seconds 20] \
        [--connections 16] [--workers N --threads N] [--only carte]

The minimal endpoint is the peer of docs/benchmarks.md (Flask + psycopg, one INSERT of the JSON
and a point, no validation); ours keeps the raw body, counts the client's rate limit,
validates, locates the arrondissement and quartier, looks for duplicates, scores spam
and queues the submission, in two durable commits (fsync on). Both are served by the
same gunicorn set-up as ``carte serve`` (``webmap.serve.run_gunicorn``, default workers
and threads unless given). Each request comes from a different client address
(X-Forwarded-For from a trusted proxy), as real traffic would; wrk (C, 2 threads, 16
keep-alive connections) runs on the same 2 cores as the server and the database.

Printed per endpoint: requests/s, p50/p99 (closed loop: 16 clients each waiting for
its answer), the CPU the server processes, PostgreSQL and wrk used per request, and how
busy the machine was (other work on it shows up there). After the measured run, the
201 answers counted by the Lua script are compared with the pending rows the run
added: ``lost`` must be 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.ingest_common import cluster

# SEED (set per run) and the thread number seed the addresses and places: reproducible,
# and no two runs or threads replay the same client addresses into one rate-limit window.
LUA = r"""
local n = 0
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
init = function(args)
  created = 0
  math.randomseed(SEED * 1000 + tid)
end
response = function(status, headers, body)
  if status == 201 then created = created + 1 end
end
done = function(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("created") end
  io.write(string.format("CREATED %d\n", total))
end
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
  if CLOSE then headers["Connection"] = "close" end
  return wrk.format("POST", PATH, headers, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(kind: str, url: str, var: Path, port: int, workers: int | None,
           threads: int | None) -> subprocess.Popen:
    env = {**os.environ, "BENCH_URL": url, "BENCH_VAR": str(var), "BENCH_PORT": str(port),
           "BENCH_KIND": kind, "BENCH_WORKERS": str(workers or ""),
           "BENCH_THREADS": str(threads or "")}
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
    workers = int(os.environ.get("BENCH_WORKERS") or default_workers())
    threads = {"threads": int(os.environ["BENCH_THREADS"])} \
        if os.environ.get("BENCH_THREADS") else {}
    run_gunicorn(factory, host="127.0.0.1", port=port, workers=workers, **threads)


_HZ = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn workers; PostgreSQL backends)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo.extend(int(k) for k in kids)
    return out


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended: its time is in its parent's cutime, counted below
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / _HZ


def _machine() -> tuple[float, float]:
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(v) / _HZ, (v[3] + v[4]) / _HZ


def wrk(port: int, path: str, seconds: int, connections: int, script: Path,
        server: int | None = None, postmaster: int | None = None) -> dict:
    """One wrk run; with ``server``/``postmaster`` pids, the CPU they used per request."""
    before = {k: _cpu_s(_tree(p)) for k, p in (("server", server), ("pg", postmaster)) if p}
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    all0, idle0 = _machine()
    load0 = os.getloadavg()[0]
    run = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "--timeout", "10s",
                          "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ})
    out = run.stdout
    all1, idle1 = _machine()
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    after = {k: _cpu_s(_tree(p)) for k, p in (("server", server), ("pg", postmaster)) if p}

    def grab(pattern: str) -> str | None:
        m = re.search(pattern, out)
        return m.group(1) if m else None

    def ms(v: str | None) -> float | None:
        if v is None:
            return None
        m = re.match(r"[\d.]+", v)
        if m is None:
            raise RuntimeError(f"unexpected wrk output:\n{out}\n{run.stderr}")
        num, unit = float(m.group()), re.sub(r"[\d.]", "", v)
        return num * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    n = int(grab(r"(\d+) requests in") or 0)
    result = {"requests": n,
              "req_per_s": float(grab(r"Requests/sec:\s+([\d.]+)") or 0),
              "p50_ms": ms(grab(r"(?m)^\s+50%\s+(\S+)")),
              "p99_ms": ms(grab(r"(?m)^\s+99%\s+(\S+)")),
              "non_2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0),
              "created_201": int(grab(r"CREATED (\d+)") or 0),
              "errors": grab(r"Socket errors: (.*)"),
              "machine_busy": round(1 - (idle1 - idle0) / max(all1 - all0, 1e-9), 3),
              "load_1min_before": round(load0, 2), "load_1min_after": round(os.getloadavg()[0], 2)}
    for k in before:
        result[f"{k}_cpu_ms_per_req"] = round((after[k] - before[k]) * 1000 / max(n, 1), 3)
    result["wrk_cpu_ms_per_req"] = round(wrk_cpu * 1000 / max(n, 1), 3)
    return result


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _pending(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM submission WHERE status = 'pending'")).scalar_one()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2,
                    help="minimal and carte runs alternate this many times; medians printed")
    ap.add_argument("--workers", type=int, default=None, help="default: as carte serve")
    ap.add_argument("--threads", type=int, default=None, help="default: as carte serve")
    ap.add_argument("--only", choices=("minimal", "carte"), default=None)
    ap.add_argument("--close", action="store_true",
                    help="a new connection per request (as behind a proxy that does not keep "
                         "upstream connections alive), instead of 16 kept-alive ones")
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    if args.serve:
        serve()
        return
    kinds = [k for k in (("minimal", "/min"), ("carte", "/api/v1/submissions"))
             if args.only in (None, k[0])]
    with cluster(durable=True) as (url, root):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE bench_min (id bigint GENERATED ALWAYS AS IDENTITY "
                              "PRIMARY KEY, body jsonb, geom geometry(Point, 4326))"))
        postmaster = int((root / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        results: dict[str, list[dict]] = {k: [] for k, _ in kinds}
        lost = 0
        runs = 0
        for _ in range(args.rounds):
            for kind, path in kinds:
                def script(seed: int, kind: str = kind, path: str = path) -> Path:
                    lua = root / f"{kind}-{seed}.lua"
                    close = "true" if args.close else "false"
                    lua.write_text(f'PATH = "{path}"\nSEED = {seed}\nCLOSE = {close}\n' + LUA)
                    return lua

                port = _free_port()
                proc = _serve(kind, url, root / "var", port, args.workers, args.threads)
                try:
                    # Warm-up: every worker builds its app and caches on its first requests.
                    runs += 1
                    wrk(port, path, 5, args.connections, script(runs))
                    before = _pending(engine)
                    runs += 1
                    run = wrk(port, path, args.seconds, args.connections, script(runs),
                              server=proc.pid, postmaster=postmaster)
                finally:
                    proc.send_signal(signal.SIGINT)
                    proc.wait(30)
                if kind == "carte":  # the server has stopped: every answer's row is in
                    run["pending_rows_added"] = _pending(engine) - before
                    run["lost"] = max(0, run["created_201"] - run["pending_rows_added"])
                    lost += run["lost"]
                results[kind].append(run)
                print(json.dumps({"endpoint": kind, **run}), flush=True)
        engine.dispose()
        summary: dict[str, object] = {"rounds": args.rounds, "seconds": args.seconds,
                                      "connections": args.connections,
                                      "connection_per_request": args.close,
                                      "workers": args.workers or "default",
                                      "threads": args.threads or "default"}
        for kind, runs in results.items():
            for key in ("req_per_s", "p50_ms", "p99_ms", "machine_busy",
                        "server_cpu_ms_per_req", "pg_cpu_ms_per_req", "wrk_cpu_ms_per_req"):
                summary[f"{kind}_{key}_median"] = round(_median([r[key] for r in runs]), 3)
        if len(results) == 2:
            summary["ratio_carte_over_minimal"] = round(
                summary["carte_req_per_s_median"] / summary["minimal_req_per_s_median"], 3)
        if "carte" in results:
            summary["lost_total"] = lost
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
