"""``carte worker`` and ``carte residents forget`` as an operator runs them."""

import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from mail import enqueue_mail
from mail.sender import deliver_due
from tests.ingestion_fixtures import *  # noqa: F403 - api
from tests.ingestion_fixtures import good_submission
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.moderation_fixtures import *  # noqa: F403 - mdb
from tests.moderation_fixtures import scalar
from webmap.cli import main


def test_a_killed_workers_message_is_sent_once_after_restart(mdb, smtp, cli_env, tmp_path):
    settings = smtp.settings()
    with Session(mdb) as s, s.begin():
        enqueue_mail(s, to="r@example.org", template="notice", lang="fr", settings=settings,
                     context={"subject": "Lien", "intro": "Bonjour"})
    smtp.handler.delay = 60  # the server takes the message and never answers
    env = {**os.environ, **cli_env, **smtp.env()}
    proc = subprocess.Popen([sys.executable, "-m", "webmap", "worker", "--poll", "0.2",
                             "--export-every", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while smtp.handler.started == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert smtp.handler.started == 1, proc.stderr.read1().decode() if proc.poll() else ""
        # Claimed (row locked) but not sent: another worker skips it.
        assert deliver_due(mdb, settings).sent == 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    smtp.handler.delay = 0
    # The claim died with the worker's connection: the message is due again, untouched.
    deadline = time.monotonic() + 10
    sent = 0
    while not sent and time.monotonic() < deadline:
        sent = deliver_due(mdb, settings).sent
        time.sleep(0.1)
    assert sent == 1
    assert [m["To"] for m in smtp.messages] == ["r@example.org"]
    assert scalar(mdb, "SELECT attempts FROM mail_outbox") == 1


def test_the_worker_runs_once_from_the_command_line(mdb, runner, mail_env):
    with Session(mdb) as s, s.begin():
        enqueue_mail(s, to="r@example.org", template="notice", lang="en",
                     context={"subject": "Hi", "intro": "Hello"})
    r = runner.invoke(main, ["worker", "--once", "--export-every", "0"],
                      env=mail_env.env())
    assert r.exit_code == 0, r.output
    rounds = [json.loads(line) for line in r.output.splitlines()]
    assert any(x.get("mail", {}).get("sent") == 1 for x in rounds)
    assert mail_env.wait_for(1)[0]["Subject"] == "Hi"


def test_residents_forget_removes_the_address_everywhere_and_is_audited(api, mdb, runner,
                                                                       mail_env):
    from mail.subscriptions import subscribe

    r = api.post("/api/v1/submissions", json=good_submission(email="Carol@Example.org"))
    sid = r.get_json()["id"]
    with Session(mdb) as s, s.begin():
        enqueue_mail(s, to="carol@example.org", template="notice", lang="fr",
                     context={"subject": "x", "intro": "y"})
        subscribe(s, email="CAROL@example.org", category="disco-soupe", area_id=None,
                  lang="fr", secret="test-secret-key")
    deliver_due(mdb, mail_env.settings())
    assert scalar(mdb, "SELECT count(*) FROM resident_address") == 1
    out = runner.invoke(main, ["residents", "forget", "carol@example.org", "--actor", "dpo"])
    assert out.exit_code == 0, out.output
    removed = json.loads(out.output)["removed"]
    assert removed == {"addresses": 1, "submissions": 1, "corrections": 0, "messages": 2,
                       "subscriptions": 1}
    with mdb.connect() as conn:
        for table in ("resident_address", "mail_outbox", "mail_subscription"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        raw = bytes(conn.execute(text("SELECT raw FROM submission WHERE id = :i"),
                                 {"i": sid}).scalar_one())
        assert b"carol" not in raw.lower() and b"[erased]" in raw
        dump = conn.execute(text("SELECT string_agg(t::text, ' ') FROM submission t")
                            ).scalar_one()
        assert "carol" not in dump.lower()
        audit = conn.execute(text("SELECT actor, email_hash, removed FROM resident_erasure")
                             ).one()
    assert audit.actor == "dpo" and "carol" not in audit.email_hash
    assert audit.removed == removed
    # The append-only rule still holds outside an erasure.
    import pytest
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="cannot be changed"), mdb.begin() as conn:
        conn.execute(text("UPDATE submission SET raw = 'x' WHERE id = :i"), {"i": sid})
