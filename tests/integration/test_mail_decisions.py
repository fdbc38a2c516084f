"""Residents and moderators hear back by e-mail: decisions, hidden items, the digest.

Everything goes the real way: submission through the API (or as ingestion leaves it),
decision through moderation.actions, the outbox sent by the worker's function to an
SMTP server running in-process, and the test reads what arrived.
"""

import re

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from mail.sender import deliver_due
from moderation import actions
from moderation.flags import add_flag
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import good_submission
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import text_part
from tests.moderation_fixtures import *  # noqa: F403 - mdb
from tests.moderation_fixtures import MOD, PASSWORD, pending, published, scalar


def moderator_id(engine):
    return scalar(engine, "SELECT id FROM app_user WHERE email = :e", e=MOD)


def version(engine, sid):
    return scalar(engine, "SELECT version FROM submission WHERE id = :i", i=sid)


def test_an_approved_submission_is_announced_in_the_residents_language_with_its_link(
        api, mdb, mail_env):
    r = api.post("/api/v1/submissions", json=good_submission(),
                 headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert r.status_code == 201, r.get_json()
    sid = r.get_json()["id"]
    assert scalar(mdb, "SELECT lang FROM submission WHERE id = :i", i=sid) == "en"
    with Session(mdb) as s, s.begin():
        fid = actions.approve(s, sid, version(mdb, sid), actor_id=moderator_id(mdb))
    assert deliver_due(mdb).sent == 1
    (msg,) = mail_env.wait_for(1)
    assert msg["To"] == "Alice@example.org"
    assert msg["Subject"] == 'Your suggestion "Disco Soupe du marché Popincourt" is on the map'
    body = text_part(msg)
    assert f"http://carte.test/#map=17/48.85900/2.37950&f={fid}" in body
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe"] is None  # a decision is not a list


def test_a_refusal_gives_the_reason_in_french_by_default(mdb, mail_env):
    sid = pending(mdb, title="Jardin fantôme")
    with Session(mdb) as s, s.begin():
        actions.refuse(s, sid, version(mdb, sid), actor_id=moderator_id(mdb),
                       reason="duplicate", message="déjà sur la carte au 12 rue X")
    deliver_due(mdb)
    (msg,) = mail_env.wait_for(1)
    assert msg["To"] == "resident@example.net"
    assert "n'a pas été retenue" in msg["Subject"]
    assert "déjà sur la carte au 12 rue X" in text_part(msg)


def test_a_merge_names_the_place_it_joined(mdb, mail_env):
    target = published(mdb, title="Jardin Saint-Merri")
    sid = pending(mdb, title="Jardin St Merri")
    with Session(mdb) as s, s.begin():
        actions.merge_submission(s, sid, version(mdb, sid), actor_id=moderator_id(mdb),
                                 into=target)
    deliver_due(mdb)
    (msg,) = mail_env.wait_for(1)
    assert "« Jardin Saint-Merri »" in msg["Subject"]
    assert re.search(rf"#map=17/48\.856\d+/2\.352\d+&f={target}\b", text_part(msg))


def test_a_failed_decision_queues_no_mail(mdb, mail_env):
    sid = pending(mdb)
    with pytest.raises(Exception), Session(mdb) as s, s.begin():  # noqa: B017
        actions.refuse(s, sid, version(mdb, sid), actor_id=moderator_id(mdb),
                       reason="duplicate")
        raise RuntimeError("the request fails after the decision")
    assert scalar(mdb, "SELECT count(*) FROM mail_outbox") == 0


def test_flags_that_hide_an_item_alert_every_moderator_at_once(mdb, mail_env):
    fid = published(mdb, title="Banc public")
    for i in range(3):
        with Session(mdb) as s, s.begin():
            add_flag(s, fid, "faux lieu", client_key=f"client{i}", threshold=3)
    deliver_due(mdb)
    msgs = mail_env.wait_for(2)
    assert sorted(m["To"] for m in msgs) == ["admin@example.org", "mod@example.org"]
    assert "masqué après 3 signalements" in msgs[0]["Subject"]
    assert f"/moderation/flags?feature={fid}" in text_part(msgs[0])


def test_the_digest_lists_what_waited_too_long_and_only_then(mdb, mail_env):
    from mail.config import MailSettings
    from mail.notices import queue_digest

    settings = MailSettings.from_env()
    pending(mdb, age_minutes=10)
    with Session(mdb) as s, s.begin():
        assert queue_digest(s, settings=settings) == 0  # nothing older than a day
    pending(mdb, title="Vieux jardin", age_minutes=60 * 25)
    with Session(mdb) as s, s.begin():
        assert queue_digest(s, settings=settings) == 2
    deliver_due(mdb)
    msg = mail_env.wait_for(2)[0]
    assert "1 proposition(s) attendent depuis plus de 24 h" in msg["Subject"]
    assert "2 en attente au total" in text_part(msg)
    with mdb.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mail_outbox WHERE status = 'sent'")
                            ).scalar_one() == 2


def test_a_moderator_working_in_english_approves_and_the_french_resident_reads_french(
        api, mdb, mail_env, ingest_app):
    from tests.moderation_fixtures import login, post

    r = api.post("/api/v1/submissions", json=good_submission(email="eve@example.org"),
                 headers={"Accept-Language": "fr-FR"})
    sid = r.get_json()["id"]
    moderator = ingest_app.test_client()
    assert login(moderator).status_code == 303
    page = moderator.get(f"/moderation/submissions/{sid}?lang=en").get_data(as_text=True)
    assert "eve@example.org" in page  # shown to moderators only
    response = post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    assert response.status_code == 303
    fid = scalar(mdb, "SELECT feature_id FROM submission WHERE id = :i", i=sid)
    deliver_due(mdb)
    (msg,) = mail_env.wait_for(1)
    assert msg["Subject"] == "Votre proposition « Disco Soupe du marché Popincourt » est sur " \
                             "la carte"
    assert f"http://carte.test/#map=17/48.85900/2.37950&f={fid}" in text_part(msg)
    assert b"eve@example.org" not in api.get("/api/v1/features?limit=1000").data


def test_the_worker_sends_the_digest_once_a_day_and_not_before_anything_waits(mdb, mail_env):
    from webmap.commands.worker import run_tasks

    settings = mail_env.settings()
    pending(mdb, age_minutes=10)
    assert not run_tasks(mdb, secret="k", settings=settings)["digest"]  # nothing old yet
    pending(mdb, title="Vieux jardin", age_minutes=60 * 25)
    assert run_tasks(mdb, secret="k", settings=settings)["digest"] == 2  # at the next round
    assert run_tasks(mdb, secret="k", settings=settings)["digest"] is None  # a day later
    assert len(mail_env.wait_for(2)) == 2


def test_each_moderator_gets_alerts_and_digests_in_the_language_they_work_in(
        mdb, mail_env, mod_app):
    """The moderator who logs in to English pages is alerted in English; the other,
    who never chose, in French; switching language while logged in is kept too."""
    from mail.config import MailSettings
    from mail.notices import queue_digest
    from tests.moderation_fixtures import csrf_of

    client = mod_app.test_client()
    token = csrf_of(client)
    r = client.post("/auth/login", data={"csrf_token": token, "email": MOD,
                                         "password": PASSWORD},
                    headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert r.status_code == 303
    assert scalar(mdb, "SELECT lang FROM app_user WHERE email = :e", e=MOD) == "en"
    pending(mdb, title="Vieux jardin", age_minutes=60 * 25)
    with Session(mdb) as s, s.begin():
        assert queue_digest(s, settings=MailSettings.from_env()) == 2
    deliver_due(mdb)
    by_to = {m["To"]: m for m in mail_env.wait_for(2)}
    assert by_to[MOD]["Subject"] == "[Moderation] 1 submission(s) waiting for more than 24 h"
    assert "Open the moderation queue" in by_to[MOD].get_body(("html",)).get_content()
    (other,) = [m for to, m in by_to.items() if to != MOD]
    assert "proposition(s) attendent depuis plus de 24 h" in other["Subject"]
    assert "submission(s)" not in text_part(other)

    client.get("/moderation/?lang=fr")
    assert scalar(mdb, "SELECT lang FROM app_user WHERE email = :e", e=MOD) == "fr"
