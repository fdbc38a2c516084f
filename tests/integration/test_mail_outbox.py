"""The outbox: queued in the caller's transaction, sent by the worker through real SMTP."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from mail import enqueue_mail
from mail.sender import deliver_due
from tests.mail_fixtures import (  # noqa: F401
    html_part,
    smtp_server,
    text_part,
)

NOTICE = {"subject": "Choisir un mot de passe", "intro": "Bonjour <Alice> & co.",
          "url": "http://carte.test/auth/reset/abc", "url_label": "Nouveau mot de passe"}


def queue(engine, settings, n=1, **kw):
    with Session(engine) as session, session.begin():
        return [enqueue_mail(session, to=f"r{i}@example.org", template="notice",
                             lang=kw.get("lang", "fr"), context=NOTICE, settings=settings,
                             unsubscribe_url=kw.get("unsub")) for i in range(n)]


def status(engine, mid):
    with engine.connect() as conn:
        return conn.execute(text("SELECT status, attempts, next_attempt_at > now() "
                                 "FROM mail_outbox WHERE id = :i"), {"i": mid}).one()


def test_a_queued_message_arrives_with_its_headers_and_both_parts(clean_db, smtp):
    settings = smtp.settings()
    (mid,) = queue(clean_db, settings, unsub="http://carte.test/subscriptions/u/tok")
    report = deliver_due(clean_db, settings)
    assert report.sent == 1
    (msg,) = smtp.wait_for(1)
    assert msg["To"] == "r0@example.org"
    assert msg["From"] == "Carte citoyenne <carte@carte.test>"
    assert msg["Subject"] == "Choisir un mot de passe"
    assert msg["Message-ID"].endswith("@carte.test>") and msg["Date"]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe"] == "<http://carte.test/subscriptions/u/tok>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Bonjour <Alice> & co." in text_part(msg)
    assert "http://carte.test/auth/reset/abc" in text_part(msg)
    html = html_part(msg)
    assert "Bonjour &lt;Alice&gt; &amp; co." in html and "<Alice>" not in html
    assert '<html lang="fr">' in html
    assert status(clean_db, mid)[0] == "sent"
    assert deliver_due(clean_db, settings).sent == 0  # sent once


def test_a_rolled_back_decision_sends_nothing(clean_db, smtp):
    settings = smtp.settings()
    with Session(clean_db) as session, session.begin():
        enqueue_mail(session, to="a@example.org", template="notice", lang="en",
                     context=NOTICE, settings=settings)
        session.rollback()
    assert deliver_due(clean_db, settings).sent == 0 and smtp.messages == []


def test_an_smtp_outage_keeps_mail_queued_with_backoff_then_sends_it_once(clean_db, smtp):
    settings = smtp.settings()
    ids = queue(clean_db, settings, n=3)
    smtp.stop()
    report = deliver_due(clean_db, settings)
    assert report.sent == 0 and report.retried == 1  # the round stops at the first failure
    first = status(clean_db, ids[0])
    assert first[0] == "queued" and first[1] == 1 and first[2] is True  # backoff honoured
    smtp.start()
    # The two untouched ones go at once; the first waits for its backoff (1 s).
    assert deliver_due(clean_db, settings).sent == 2
    import time
    time.sleep(1.2)
    assert deliver_due(clean_db, settings).sent == 1
    assert sorted(m["To"] for m in smtp.wait_for(3)) == [
        "r0@example.org", "r1@example.org", "r2@example.org"]
    assert deliver_due(clean_db, settings).sent == 0 and len(smtp.messages) == 3


@pytest.mark.parametrize("lang,hello", [("en", "Hello,"), ("en-GB", "Hello,"), ("de", "Bonjour,")])
def test_the_language_is_the_residents_french_by_default(clean_db, smtp, lang, hello):
    settings = smtp.settings()
    queue(clean_db, settings, lang=lang)
    deliver_due(clean_db, settings)
    (msg,) = smtp.wait_for(1)
    assert text_part(msg).startswith(hello)


def test_sent_messages_are_purged_after_thirty_days_queued_ones_never(clean_db, smtp):
    from mail.sender import purge_sent

    settings = smtp.settings()
    sent, waiting = queue(clean_db, settings, n=2)
    with clean_db.begin() as conn:
        conn.execute(text("UPDATE mail_outbox SET status = 'sent', "
                          "sent_at = now() - interval '31 days' WHERE id = :i"), {"i": sent})
        conn.execute(text("UPDATE mail_outbox SET next_attempt_at = now() + interval '1 day', "
                          "created_at = now() - interval '40 days' WHERE id = :i"),
                     {"i": waiting})
    assert purge_sent(clean_db) == 1
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT id FROM mail_outbox")).scalars().all() == [waiting]


# A test server without TLS (STARTTLS needs a certificate): aiosmtpd warns about it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_are_used_to_log_in_and_a_wrong_password_keeps_the_mail(clean_db):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.mail_fixtures import Collector, free_port

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"carte", b"s3cret")
        return AuthResult(success=ok)

    handler, port = Collector(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_required=True,
                            auth_require_tls=False, authenticator=authenticator)
    controller.start()
    try:
        from mail.config import MailSettings

        base = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": "carte",
                "retry_base_s": 1.0}
        wrong = MailSettings(**base, smtp_password="nope")
        queue(clean_db, wrong)
        report = deliver_due(clean_db, wrong)
        assert report.sent == 0 and report.retried == 1 and handler.messages == []
        right = MailSettings(**base, smtp_password="s3cret")
        with clean_db.begin() as conn:
            conn.execute(text("UPDATE mail_outbox SET next_attempt_at = now()"))
        assert deliver_due(clean_db, right).sent == 1
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_a_recipient_refused_for_good_is_failed_and_the_others_still_go(clean_db, smtp):
    settings = smtp.settings()

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        if address.startswith("r0@"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handler.handle_RCPT = handle_RCPT
    bad, good = queue(clean_db, settings, n=2)
    report = deliver_due(clean_db, settings)
    assert (report.sent, report.failed) == (1, 1)
    assert status(clean_db, bad)[0] == "failed" and status(clean_db, good)[0] == "sent"
    assert [m["To"] for m in smtp.wait_for(1)] == ["r1@example.org"]
