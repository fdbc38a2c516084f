"""1,000 decision e-mails delivered to an in-process SMTP server: budget < 30 s.

Run: ``.venv/bin/python bench/mail_outbox.py [--decisions 1000] [--workers 1]``

It starts its own throwaway cluster (default durability: fsync on), migrates, loads the
Paris areas, inserts N pending submissions each with a resident's address (half French,
half English), then:

1. decides every one through ``moderation.actions`` (approve 2 of 3, refuse 1 of 3), one
   transaction each as a moderator's click is: the decision e-mail is rendered and
   queued inside it (the cost a decision pays for its e-mail is printed);
2. runs ``mail.sender.deliver_due`` (what ``carte worker`` runs) in ``--workers``
   threads until the outbox is empty, against an aiosmtpd server in the same process
   (so the server's parsing shares the two cores), and counts what arrived.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
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

BUDGET_S = 30.0


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
        return "250 OK"


def seed(engine, n: int) -> int:
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) VALUES "
            "('jardin', 'place', 'Jardin partagé', 'Shared garden', '#2e7d32', 'leaf') "
            "ON CONFLICT DO NOTHING"))
        conn.execute(text("""
            WITH pts AS (SELECT (ST_Dump(ST_GeneratePoints(geom, :n, 7))).geom AS g
                         FROM area WHERE kind = 'city')
            INSERT INTO submission (source, raw, status, category, title, geom, email, lang,
                                    area_ids)
            SELECT 'api', '{}'::bytea, 'pending', 'jardin',
                   'Jardin n° ' || row_number() OVER (), g,
                   'resident' || row_number() OVER () || '@example.org',
                   CASE WHEN row_number() OVER () % 2 = 0 THEN 'en' ELSE 'fr' END,
                   ARRAY[(SELECT id FROM area a WHERE a.depth = 1
                            AND ST_Contains(a.geom, g) LIMIT 1)]
            FROM pts
        """), {"n": n})
        return conn.execute(text(
            "INSERT INTO app_user (email, password_hash, role) VALUES "
            "('bench@example.org', '$argon2id$bench', 'moderator') RETURNING id")).scalar_one()


def run(url: str, n: int, workers: int) -> dict:
    from aiosmtpd.controller import Controller

    from mail.config import MailSettings
    from mail.sender import deliver_due
    from moderation import actions

    engine = create_engine(url, pool_size=workers + 2)
    migrate.upgrade(engine)
    with Session(engine) as s, s.begin():
        load_areas(s, load_city("paris"))
    actor = seed(engine, n)
    settings = MailSettings(smtp_host="127.0.0.1", smtp_port=0, public_url="https://carte.example",
                            mail_from="Carte citoyenne <carte@carte.example>")
    handler = Counter()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings = MailSettings(**{**settings.__dict__, "smtp_port": port})
    import os

    os.environ["CARTE_PUBLIC_URL"] = settings.public_url
    try:
        ids = [r for (r,) in engine.connect().execute(text(
            "SELECT id FROM submission ORDER BY id")).all()]
        decide_ms = []
        for i, sid in enumerate(ids):
            t = time.perf_counter()
            with Session(engine) as s, s.begin():
                if i % 3 == 2:
                    actions.refuse(s, sid, 1, actor_id=actor, reason="duplicate",
                                   message="déjà sur la carte")
                else:
                    actions.approve(s, sid, 1, actor_id=actor)
            decide_ms.append((time.perf_counter() - t) * 1000)
        queued = engine.connect().execute(text("SELECT count(*) FROM mail_outbox")).scalar_one()
        t0 = time.perf_counter()
        reports = []

        def drain() -> None:
            while True:
                r = deliver_due(engine, settings, limit=200)
                reports.append(r)
                if r.sent == 0 and r.retried == 0:
                    return

        threads = [threading.Thread(target=drain) for _ in range(workers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        seconds = time.perf_counter() - t0
        deadline = time.monotonic() + 5
        while handler.n < queued and time.monotonic() < deadline:
            time.sleep(0.01)
        with engine.connect() as conn:
            left = conn.execute(text(
                "SELECT count(*) FROM mail_outbox WHERE status <> 'sent'")).scalar_one()
        return {"decisions": n, "queued": queued, "delivered": handler.n, "left": left,
                "workers": workers, "deliver_seconds": round(seconds, 2),
                "messages_per_s": round(handler.n / seconds, 1),
                "decision_ms_p50": round(statistics.median(decide_ms), 2),
                "decision_ms_p95": round(sorted(decide_ms)[int(len(decide_ms) * .95)], 2),
                "budget_s": BUDGET_S, "within_budget": seconds < BUDGET_S
                and handler.n == queued == n and left == 0}
    finally:
        controller.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="carte-bench-", dir="/tmp"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pg")
    pg.up()
    try:
        print(json.dumps(run(pg.url, args.decisions, args.workers)))
    finally:
        from geo.db import dispose_engines

        dispose_engines()
        pg.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
