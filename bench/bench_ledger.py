"""The time bank's ledger at 100,000 members and 1,000,000 transactions (issue 20).

Targets: a balance in < 5 ms, a statement page in < 50 ms, >= 500 confirmations/s with
two or more concurrent workers, no unit lost or doubled (the sum of all balances is
zero and every balance equals the sum of its account's transfers).

Seeds a throwaway PostGIS (``bench.ingest_common.cluster``; durable by default: fsync
and synchronous commit on, as in production, since confirmations/s is a commit rate)
with ``--members`` residents and accounts and ``--transactions`` confirmed exchanges
and their ledger transfers, all with ``COPY`` (the ledger's triggers are disabled while
seeding and the balances and each transfer's ``*_balance_after`` are computed in
Python, keeping every balance above the negative limit as confirmations would; the
triggers are enabled again before anything is measured). Then times:

* ``ledger.balance`` for ``--runs`` random members (and ``GET /api/v1/me/balance``
  through the Flask app, a signed-in member, JSON included);
* ``ledger.statement`` (a page of 50) for random members, for the busiest member, and
  a deep page of the busiest (keyset ``before``), and ``GET /api/v1/me/statement``;
* ``ledger.confirm_exchange`` of ``--confirmations`` recorded exchanges by ``--workers``
  processes at once (each exchange handed to two workers, so half the calls are double
  confirmations that must count once), one transaction and commit per confirmation;
* ``carte_timebank_check()`` before and after: accounts, sum of balances, mismatches.

The confirmations run twice: durable (each commit waits for its WAL flush, as in
production) and then with ``synchronous_commit = off`` (commits do not wait for the
disk; a crash may lose the last few hundred milliseconds of confirmations, whole,
never half of one): the gap is this machine's disk, not the ledger.

    .venv/bin/python bench/bench_ledger.py [--members 100000] [--transactions 1000000]
        [--runs 500] [--confirmations 20000] [--workers 2,4] [--fast]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing as mp
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.ingest_common import cluster
from community import ledger

FLOOR = ledger.DEFAULT_MIN_BALANCE_UNITS


def _copy(engine, sql: str, buffer: io.StringIO) -> None:
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(sql) as cp:
            buffer.seek(0)
            while chunk := buffer.read(1 << 20):
                cp.write(chunk)
        raw.commit()
    finally:
        raw.close()


def seed(engine, members: int, transactions: int, seed_: int = 7) -> dict[str, float]:
    """Members, accounts, confirmed exchanges and their transfers, by COPY."""
    t0 = time.perf_counter()
    buf = io.StringIO()
    for i in range(1, members + 1):
        email = f"m{i}@bench.example"
        buf.write(f"{email}\t{hashlib.sha256(email.encode()).hexdigest()}\tMembre {i}\tfr\n")
    _copy(engine, "COPY resident (email, email_hash, display_name, lang) FROM STDIN", buf)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE timebank_account DISABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE ledger_transfer DISABLE TRIGGER USER"))
        conn.execute(text("INSERT INTO timebank_account (resident_id) "
                          "SELECT id FROM resident ORDER BY id"))
    t_members = time.perf_counter() - t0

    rng = np.random.default_rng(seed_)
    # a few members exchange much more than others (Zipf-like activity)
    weights = 1.0 / np.arange(1, members + 1) ** 0.6
    weights /= weights.sum()
    givers = rng.choice(members, size=transactions, p=weights) + 1
    receivers = rng.choice(members, size=transactions, p=weights) + 1
    units = rng.integers(1, 9, size=transactions)
    balance = np.zeros(members + 1, dtype=np.int64)
    today = date.today()
    days = rng.integers(0, 365, size=transactions)
    ex = io.StringIO()
    tr = io.StringIO()
    for i in range(transactions):
        g, r, u = int(givers[i]), int(receivers[i]), int(units[i])
        if g == r:
            r = g % members + 1
        if balance[r] - u < FLOOR:  # the receiver would be over the limit: roles swap
            g, r = r, g
            if balance[r] - u < FLOOR:
                u = 1
                if balance[r] - u < FLOOR:
                    g, r = r, g
        balance[r] -= u
        balance[g] += u
        day = (today - timedelta(days=int(days[i]))).isoformat()
        ex.write(f"{g}\t{r}\t{r}\tconfirmed\t{u}\t{day}\tbench\tnow()\tnow()\n")
        tr.write(f"{r}\t{g}\t{u}\texchange\t{i + 1}\t{balance[r]}\t{balance[g]}\n")
    t_gen = time.perf_counter()
    _copy(engine, "COPY exchange (giver_id, receiver_id, started_by, status, units, "
                  "happened_on, note, recorded_at, decided_at) FROM STDIN", _now(ex))
    _copy(engine, "COPY ledger_transfer (debit_account, credit_account, units, kind, "
                  "exchange_id, debit_balance_after, credit_balance_after) FROM STDIN", tr)
    buf = io.StringIO()
    for rid in range(1, members + 1):
        buf.write(f"{rid}\t{balance[rid]}\n")
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE b (rid bigint, bal bigint) ON COMMIT DROP"))
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy("COPY b FROM STDIN") as cp:
            cp.write(buf.getvalue())
        conn.execute(text("UPDATE timebank_account a SET balance = b.bal FROM b "
                          "WHERE a.resident_id = b.rid"))
        conn.execute(text("ALTER TABLE timebank_account ENABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE ledger_transfer ENABLE TRIGGER USER"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE resident, timebank_account, exchange, ledger_transfer"))
    return {"members_s": t_members, "generate_s": t_gen - t0 - t_members,
            "copy_s": time.perf_counter() - t_gen}


def _now(buf: io.StringIO) -> io.StringIO:
    """COPY has no expressions: ``now()`` becomes the current timestamp text."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
    return io.StringIO(buf.getvalue().replace("now()", stamp))


def median_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000)


def time_calls(engine, fn, args: list) -> tuple[float, float]:
    samples = []
    with Session(engine) as s:
        for a in args:
            t = time.perf_counter()
            fn(s, a)
            samples.append(time.perf_counter() - t)
            s.rollback()
    return median_ms(samples)


def _confirm_worker(url: str, ids: list[tuple[int, int]], start_at: float,
                    out: mp.Queue) -> None:
    engine = create_engine(url, pool_size=1)
    done = refused = 0
    with Session(engine) as s:
        s.execute(text("SELECT 1"))
        s.rollback()
        while time.time() < start_at:
            time.sleep(0.001)
        t0 = time.perf_counter()
        for xid, receiver in ids:
            try:
                with s.begin():
                    ledger.confirm_exchange(s, xid, resident_id=receiver, min_balance=FLOOR)
                done += 1
            except ledger.BalanceLimit:
                refused += 1
        elapsed = time.perf_counter() - t0
    engine.dispose()
    out.put((done, refused, t0, elapsed))


def confirmations(url: str, engine, count: int, workers: int, members: int,
                  rng: random.Random) -> dict[str, float]:
    """``count`` recorded exchanges confirmed by ``workers`` processes, each twice."""
    rows = []
    for _ in range(count):
        g = rng.randint(1, members)
        r = rng.randint(1, members)
        while r == g:
            r = rng.randint(1, members)
        rows.append((g, r))
    with engine.begin() as conn:
        first = conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM exchange")).scalar_one()
        conn.execute(text("""
            INSERT INTO exchange (giver_id, receiver_id, started_by, status, units,
                                  happened_on, recorded_at)
            SELECT g, r, r, 'recorded', 1, current_date, now()
            FROM unnest(CAST(:g AS bigint[]), CAST(:r AS bigint[])) AS t(g, r)
        """), {"g": [g for g, _ in rows], "r": [r for _, r in rows]})
        ids = conn.execute(text("SELECT id, receiver_id FROM exchange WHERE id >= :f "
                                "ORDER BY id"), {"f": first}).all()
    ids = [(int(i), int(r)) for i, r in ids]
    # every exchange goes to two different workers (a double confirmation), in an order
    # of its own per worker so the two calls meet at random moments
    slices: list[list[tuple[int, int]]] = [[] for _ in range(workers)]
    for n, item in enumerate(ids):
        a = n % workers
        b = (a + 1) % workers
        slices[a].append(item)
        slices[b].append(item)
    for part in slices:
        rng.shuffle(part)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [ctx.Process(target=_confirm_worker, args=(url, part, start_at, out))
             for part in slices]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    calls = sum(len(p) for p in slices)
    begin = min(r[2] for r in results)
    end = max(r[2] + r[3] for r in results)
    wall = max(r[3] for r in results)
    with engine.connect() as conn:
        booked = conn.execute(text("SELECT count(*) FROM ledger_transfer WHERE exchange_id >= :f"),
                              {"f": first}).scalar_one()
        confirmed = conn.execute(text("SELECT count(*) FROM exchange WHERE id >= :f AND "
                                      "status = 'confirmed'"), {"f": first}).scalar_one()
    del begin, end
    return {"workers": workers, "exchanges": len(ids), "calls": calls,
            "refused_limit": sum(r[1] for r in results), "booked": booked,
            "confirmed": confirmed, "wall_s": wall, "calls_per_s": calls / wall,
            "bookings_per_s": booked / wall}


def check(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT * FROM carte_timebank_check()")).one())


def web_timings(url: str, members: int, runs: int, rng: random.Random) -> dict[str, float]:
    """The two APIs through Flask (test client, a signed-in member)."""
    from webmap import create_app
    from webmap.residents_auth import SESSION_KEY

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "VAR_DIR": Path("/tmp")})
    client = app.test_client()
    out: dict[str, list[float]] = {"balance": [], "statement": []}
    for _ in range(runs):
        rid = rng.randint(1, members)
        with client.session_transaction() as sess:
            sess[SESSION_KEY] = rid
        for name, path in (("balance", "/api/v1/me/balance"),
                           ("statement", "/api/v1/me/statement?limit=50")):
            t = time.perf_counter()
            r = client.get(path)
            out[name].append(time.perf_counter() - t)
            assert r.status_code == 200, r.get_data(as_text=True)
    return {f"{k}_ms": median_ms(v)[0] for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--confirmations", type=int, default=20_000)
    parser.add_argument("--workers", default="2,4,8")
    parser.add_argument("--fast", action="store_true",
                        help="fsync and synchronous commit off (seeding speed; not production)")
    args = parser.parse_args()
    rng = random.Random(11)
    with cluster(durable=not args.fast) as (url, _root):
        engine = create_engine(url, pool_size=2)
        print(f"seeding {args.members:,} members and {args.transactions:,} transactions "
              f"({'fsync off' if args.fast else 'durable'})", flush=True)
        times = seed(engine, args.members, args.transactions)
        print("seed: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()), flush=True)
        accounts, total, mismatched = check(engine)
        print(f"check after seeding: {accounts:,} accounts, sum of balances {total}, "
              f"mismatched {mismatched}", flush=True)
        with engine.connect() as conn:
            busiest = conn.execute(text("""
                SELECT account, count(*) FROM (
                  SELECT debit_account AS account FROM ledger_transfer UNION ALL
                  SELECT credit_account FROM ledger_transfer) p
                GROUP BY account ORDER BY 2 DESC LIMIT 1""")).one()
            deep = conn.execute(text("""
                SELECT id FROM (SELECT id FROM ledger_transfer WHERE debit_account = :a
                                UNION ALL SELECT id FROM ledger_transfer
                                WHERE credit_account = :a) p
                ORDER BY id DESC OFFSET :o LIMIT 1"""),
                {"a": busiest[0], "o": busiest[1] // 2}).scalar_one()
        sample = [rng.randint(1, args.members) for _ in range(args.runs)]
        bal = time_calls(engine, lambda s, r: ledger.balance(s, r), sample)
        print(f"balance: median {bal[0]:.3f} ms, p95 {bal[1]:.3f} ms ({args.runs} members)",
              flush=True)
        st = time_calls(engine, lambda s, r: ledger.statement(s, r, limit=50), sample)
        print(f"statement page (50): median {st[0]:.3f} ms, p95 {st[1]:.3f} ms", flush=True)
        busy = time_calls(engine, lambda s, r: ledger.statement(s, r, limit=50),
                          [busiest[0]] * 100)
        busy_deep = time_calls(engine, lambda s, r: ledger.statement(
            s, r, limit=50, before_id=deep), [busiest[0]] * 100)
        print(f"busiest member ({busiest[1]:,} transfers): first page median {busy[0]:.3f} ms, "
              f"a page half-way back median {busy_deep[0]:.3f} ms", flush=True)
        web = web_timings(url, args.members, min(args.runs, 300), rng)
        print(f"through Flask: GET /api/v1/me/balance median {web['balance_ms']:.2f} ms, "
              f"GET /api/v1/me/statement median {web['statement_ms']:.2f} ms", flush=True)
        with engine.connect() as conn:
            plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + str(ledger._STATEMENT)),
                                {"r": busiest[0], "before": 2**63 - 1, "n": 50}).scalars()
            print("plan of a statement page (busiest member):")
            for line in plan:
                print("   ", line)
        phases = [("durable", w) for w in args.workers.split(",")]
        if not args.fast:  # the same, commits not waiting for the disk (see --help)
            phases += [("async", w) for w in args.workers.split(",")]
        for mode, w in phases:
            workers = int(w)
            if mode == "async":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(text("ALTER SYSTEM SET synchronous_commit = off"))
                    c.execute(text("SELECT pg_reload_conf()"))
            print(f"-- {mode if not args.fast else 'fsync off'}", flush=True)
            result = confirmations(url, engine, args.confirmations, workers, args.members, rng)
            print(f"confirmations, {workers} workers: {result['calls']:,} calls "
                  f"({result['exchanges']:,} exchanges, each confirmed twice) in "
                  f"{result['wall_s']:.1f} s = {result['calls_per_s']:.0f} confirmations/s, "
                  f"{result['bookings_per_s']:.0f} bookings/s; "
                  f"booked {result['booked']:,} (refused at the limit "
                  f"{result['refused_limit']:,} calls), confirmed {result['confirmed']:,}",
                  flush=True)
            accounts, total, mismatched = check(engine)
            print(f"check: {accounts:,} accounts, sum of balances {total}, "
                  f"mismatched {mismatched}", flush=True)
            assert total == 0 and mismatched == 0
            assert result["booked"] == result["confirmed"]
        engine.dispose()


if __name__ == "__main__":
    main()
