"""A resident reports a message they received; moderators see reported messages first,
with the reason and the count, and hiding, stopping or dismissing resolves the report,
audited. Reports are limited per resident; the sender is never told who reported."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.moderation_fixtures import MOD, _password_hash, login
from tests.resident_fixtures import *  # noqa: F403 - capp, cdb
from tests.resident_fixtures import organised, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ANA, BOB = "ana.recoit@example.org", "bob.ecrit@example.org"
PAGE = "/moderation/community/messages"


def csrf(client, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def answer(client, fid: int, body: str):
    return client.post(f"/api/v1/features/{fid}/messages", data=json.dumps({"body": body}),
                       content_type="application/json")


def rows(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def message_ids(engine, sender_id: int) -> list[int]:
    return [r[0] for r in rows(engine, "SELECT id FROM message WHERE sender_id = :s "
                                       "ORDER BY id", s=sender_id)]


def report(client, thread_url: str, mid: int, **data):
    return client.post(f"{thread_url}/messages/{mid}/report",
                       data={"csrf_token": csrf(client, thread_url), **data})


def setup(capp, cdb, *, messages: int = 1):
    """Bob writes ``messages`` messages to Ana about her offer; a moderator account."""
    with cdb.begin() as conn:
        conn.execute(text("INSERT INTO app_user (email, role, password_hash) "
                          "VALUES (:e, 'moderator', :h)"), {"e": MOD, "h": _password_hash()})
    ana_client, bob_client = capp.test_client(), capp.test_client()
    ana = sign_in(ana_client, ANA, display_name="Ana")
    bob = sign_in(bob_client, BOB, display_name="Bob")
    fid = organised(cdb, ana.id, title="Perceuse à prêter")
    thread_url = None
    for i in range(messages):
        r = answer(bob_client, fid, f"Message numéro {i + 1} de Bob")
        assert r.status_code == 201, r.get_data(as_text=True)
        thread_url = r.get_json()["thread_url"]
    return ana_client, ana, bob_client, bob, fid, thread_url


def test_a_resident_reports_a_received_message_with_a_reason(capp, cdb, mail_env):
    ana_client, ana, bob_client, bob, _fid, thread_url = setup(capp, cdb)
    (mid,) = message_ids(cdb, bob.id)
    page = ana_client.get(thread_url).get_data(as_text=True)
    assert f'action="{thread_url}/messages/{mid}/report"' in page
    assert "Signaler ce message" in page and "Quel est le problème ? (facultatif)" in page
    # The CSRF token is required.
    assert ana_client.post(f"{thread_url}/messages/{mid}/report").status_code == 400
    r = report(ana_client, thread_url, mid, reason="  Il insiste alors que j'ai dit non.  ")
    assert r.status_code == 303
    assert r.headers["Location"] == f"{thread_url}?reported={mid}#message-{mid}"
    page = ana_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Merci : les modérateurs vont lire ce message." in page
    assert "signalé aux modérateurs" in page and "Signaler ce message" not in page
    assert rows(cdb, "SELECT reporter_id, reason, resolved_at FROM message_report") == [
        (ana.id, "Il insiste alors que j'ai dit non.", None)]
    # Reporting it again changes nothing; nobody is blocked unless asked.
    assert report(ana_client, thread_url, mid, reason="encore").status_code == 303
    assert len(rows(cdb, "SELECT id FROM message_report")) == 1
    assert rows(cdb, "SELECT * FROM resident_block") == []
    # Bob sees nothing of it, and cannot report his own message.
    bob_page = bob_client.get(thread_url).get_data(as_text=True)
    assert "signalé" not in bob_page and "Signaler ce message" not in bob_page
    own = report(bob_client, thread_url, mid)
    assert own.status_code == 400
    # Someone outside the conversation cannot report it (the same answer as no message).
    carl = capp.test_client()
    sign_in(carl, "carl@example.org", display_name="Carl")
    r = carl.post(f"{thread_url}/messages/{mid}/report",
                  data={"csrf_token": csrf(carl, "/me")})
    assert r.status_code == 404
    # No mail tells Bob (only Ana's notice of his message was queued).
    assert rows(cdb, "SELECT count(*) FROM mail_outbox WHERE to_addr = :e", e=BOB) == [(0,)]


def test_a_report_without_reason_that_also_blocks_in_english(capp, cdb, mail_env):
    ana_client, ana, _bob_client, bob, fid, thread_url = setup(capp, cdb)
    (mid,) = message_ids(cdb, bob.id)
    page = ana_client.get(thread_url + "?lang=en").get_data(as_text=True)
    assert "Report this message" in page and "Also block this person" in page
    r = report(ana_client, thread_url, mid, block="yes")
    assert r.headers["Location"] == f"{thread_url}?reported_blocked={mid}#message-{mid}"
    page = ana_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Thank you: the moderators will read this message." in page
    assert "You also blocked this person." in page and "reported to the moderators" in page
    assert rows(cdb, "SELECT reason FROM message_report") == [(None,)]
    assert rows(cdb, "SELECT blocker_id, blocked_id FROM resident_block") == [(ana.id, bob.id)]
    assert answer(_bob_client, fid, "Pourquoi ?").status_code == 403


def test_a_deleted_reporters_reasons_are_erased_and_the_report_stays_counted(
        capp, cdb, mail_env):
    from community.residents import delete_account

    ana_client, ana, _bob_client, bob, _fid, thread_url = setup(capp, cdb)
    (mid,) = message_ids(cdb, bob.id)
    report(ana_client, thread_url, mid, reason="Mon voisin du 3e me harcèle")
    with Session(cdb) as s, s.begin():
        delete_account(s, ana.id, secret=capp.config["SECRET_KEY"])
    assert rows(cdb, "SELECT message_id, reporter_id, reason, resolved_at FROM "
                     "message_report") == [(mid, ana.id, None, None)]


def test_reports_are_limited_per_resident(capp, cdb, mail_env):
    capp.config["MESSAGE_REPORTS_PER_DAY"] = 2
    ana_client, ana, _bob_client, bob, _fid, thread_url = setup(capp, cdb, messages=3)
    first, second, third = message_ids(cdb, bob.id)
    assert report(ana_client, thread_url, first).status_code == 303
    assert report(ana_client, thread_url, second).status_code == 303
    refused = report(ana_client, thread_url, third, reason="le troisième")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    html = unescape(refused.get_data(as_text=True))
    assert "Vous avez signalé beaucoup de messages aujourd'hui" in html
    assert "le troisième" in html  # the reason typed is kept in the form
    # A report from yesterday no longer counts.
    with cdb.begin() as conn:
        conn.execute(text("UPDATE message_report SET created_at = :t WHERE message_id = :m"),
                     {"t": datetime.now(UTC) - timedelta(hours=25), "m": first})
    assert report(ana_client, thread_url, third).status_code == 303
    assert len(rows(cdb, "SELECT id FROM message_report WHERE reporter_id = :r",
                    r=ana.id)) == 3
    too_long = report(ana_client, thread_url, first, reason="x" * 1001)
    assert too_long.status_code in (303, 400)  # already reported: nothing changes


def test_moderators_see_reports_first_and_hiding_resolves_them_audited(capp, cdb, mail_env):
    ana_client, _ana, _bob_client, bob, _fid, thread_url = setup(capp, cdb, messages=2)
    older, newer = message_ids(cdb, bob.id)
    # Ana reports the older message; then Ana writes a newer message herself.
    report(ana_client, thread_url, older, reason="Propos blessants")
    ana_client.post(thread_url, data={"csrf_token": csrf(ana_client, thread_url),
                                      "body": "Merci de ne plus m'écrire."})
    mod = capp.test_client()
    assert login(mod).status_code == 303
    html = mod.get(PAGE).get_data(as_text=True)
    listed = [int(m) for m in re.findall(r'id="message-(\d+)"', html)]
    # the reported (older) one first, then the others newest first (Ana's reply, Bob's)
    assert len(listed) == 3 and listed[0] == older and listed[2] == newer
    assert "Signalements à traiter : 1" in html
    assert "Signalé (1)" in html and "Propos blessants" in html
    assert "signalements ouverts sur ses messages : 1" in html
    assert ANA not in html and BOB not in html
    english = mod.get(PAGE + "?lang=en").get_data(as_text=True)
    assert "Reports to decide: 1" in english and "Reported (1)" in english
    assert "Dismiss the report" in english
    # Hiding the message resolves its report, audited with the moderator.
    token = CSRF.search(html).group(1)
    r = mod.post(f"{PAGE}/{older}/hide",
                 data={"csrf_token": token, "reason": "propos blessants"})
    assert r.status_code == 303
    assert rows(cdb, "SELECT resolution, resolved_by IS NOT NULL, resolved_at IS NOT NULL "
                     "FROM message_report") == [("hidden", True, True)]
    assert rows(cdb, "SELECT action, message_id, reason FROM community_moderation") == [
        ("hide_message", older, "propos blessants")]
    html = mod.get(PAGE + "?lang=fr").get_data(as_text=True)  # ?lang=en was kept
    assert "Aucun signalement à traiter." in html and "Signalé (" not in html
    # Filtering by thread still lists it (now hidden, among the others).
    by_thread = mod.get(f"{PAGE}?thread={thread_url.rsplit('/', 1)[1]}").get_data(
        as_text=True)
    assert f'id="message-{older}"' in by_thread


def test_stopping_a_resident_resolves_every_report_and_dismissing_needs_a_reason(
        capp, cdb, mail_env):
    ana_client, _ana, bob_client, bob, _fid, thread_url = setup(capp, cdb, messages=2)
    first, second = message_ids(cdb, bob.id)
    report(ana_client, thread_url, first, reason="insultes")
    report(ana_client, thread_url, second)
    # A third resident gets a message from Bob too, and reports it: the dismissal case.
    zoe_client = capp.test_client()
    zoe = sign_in(zoe_client, "zoe@example.org", display_name="Zoé")
    other = organised(cdb, zoe.id, title="Escabeau")
    other_thread = answer(bob_client, other, "Bonjour Zoé").get_json()["thread_url"]
    (third,) = [m for m in message_ids(cdb, bob.id) if m not in (first, second)]
    report(zoe_client, other_thread, third, reason="je ne le connais pas")
    mod = capp.test_client()
    assert login(mod).status_code == 303
    html = mod.get(PAGE).get_data(as_text=True)
    assert "Signalements à traiter : 3" in html
    assert "signalements ouverts sur ses messages : 3" in html
    listed = [int(m) for m in re.findall(r'id="message-(\d+)"', html)]
    assert listed[:3] == [third, second, first]  # the latest report first
    token = CSRF.search(html).group(1)
    # Dismissing needs a reason; then it closes that one report, audited.
    assert mod.post(f"{PAGE}/{third}/dismiss",
                    data={"csrf_token": token, "reason": " "}).status_code == 400
    assert mod.post(f"{PAGE}/{third}/dismiss",
                    data={"csrf_token": token, "reason": "message poli"}).status_code == 303
    assert mod.post(f"{PAGE}/{third}/dismiss",
                    data={"csrf_token": token, "reason": "encore"}).status_code == 404
    # Stopping Bob resolves the reports of all his messages.
    assert mod.post(f"{PAGE.rsplit('/', 1)[0]}/residents/{bob.id}/block",
                    data={"csrf_token": token, "reason": "harcèlement"}).status_code == 303
    assert rows(cdb, "SELECT message_id, resolution FROM message_report ORDER BY message_id"
                ) == [(first, "stopped"), (second, "stopped"), (third, "dismissed")]
    assert rows(cdb, "SELECT action, message_id, resident_id, reason FROM "
                     "community_moderation ORDER BY id") == [
        ("dismiss_report", third, bob.id, "message poli"),
        ("block_resident", None, bob.id, "harcèlement")]
    html = mod.get(PAGE).get_data(as_text=True)
    assert "Aucun signalement à traiter." in html and "signalement classé" in html
    # The reports of a deleted account's messages go with the messages.
    from community.residents import delete_account

    with Session(cdb) as s, s.begin():
        delete_account(s, bob.id, secret=capp.config["SECRET_KEY"])
    assert rows(cdb, "SELECT count(*) FROM message_report") == [(0,)]


def test_moderators_are_mailed_once_per_burst_of_reports_without_the_text(
        capp, cdb, mail_env):
    from tests.mail_fixtures import links, text_part
    from tests.resident_fixtures import deliver

    ana_client, _ana, _bob_client, bob, _fid, thread_url = setup(capp, cdb, messages=3)
    first, second, third = message_ids(cdb, bob.id)
    deliver(cdb, mail_env, 3)  # Ana's notices of Bob's three messages
    mail_env.messages.clear()
    report(ana_client, thread_url, first, reason="Il me harcèle")
    (alert,) = deliver(cdb, mail_env, 1)
    assert alert["To"] == MOD
    assert alert["Subject"] == "Un message entre habitant·e·s a été signalé"
    body = text_part(alert)
    assert "Signalements à traiter : 1." in body
    assert "http://carte.test/moderation/community/messages" in links(alert)
    for private in ("Il me harcèle", "Message numéro", "Bob", "Ana", ANA, BOB):
        assert private not in alert.as_string(), private
    # A second report a minute later: the page lists it, no second mail.
    report(ana_client, thread_url, second)
    assert rows(cdb, "SELECT count(*) FROM mail_outbox WHERE to_addr = :e", e=MOD) == [(1,)]
    # A quarter of an hour later, a new report alerts again (in the moderator's language).
    with cdb.begin() as conn:
        conn.execute(text("UPDATE message_report SET created_at = now() - interval '20 min'"))
        conn.execute(text("UPDATE app_user SET lang = 'en' WHERE email = :e"), {"e": MOD})
    mail_env.messages.clear()
    report(ana_client, thread_url, third)
    (again,) = deliver(cdb, mail_env, 1)
    assert again["Subject"] == "A message between residents was reported"
    assert "Reports to decide: 3." in text_part(again)


def test_the_reporter_hears_the_outcome_once_in_their_language(capp, cdb, mail_env):
    """Hiding, stopping or dismissing tells each reporter, once, in their language, what
    was done; never the sender's address or name, the moderator or the moderator's reason."""
    from tests.mail_fixtures import links, text_part
    from tests.resident_fixtures import deliver

    ana_client, ana, bob_client, bob, _fid, thread_url = setup(capp, cdb, messages=2)
    first, second = message_ids(cdb, bob.id)
    zoe_client = capp.test_client()
    zoe = sign_in(zoe_client, "zoe@example.org", display_name="Zoé", lang="en")
    other_thread = answer(bob_client, organised(cdb, zoe.id, title="Escabeau"),
                          "Bonjour Zoé").get_json()["thread_url"]
    (third,) = [m for m in message_ids(cdb, bob.id) if m not in (first, second)]
    report(ana_client, thread_url, first, reason="insultes")
    report(zoe_client, other_thread, third, reason="je ne le connais pas")
    deliver(cdb, mail_env, 4)  # Ana's and Zoé's notices of Bob's messages, the alert
    mail_env.messages.clear()
    mod = capp.test_client()
    assert login(mod).status_code == 303
    token = CSRF.search(mod.get(PAGE).get_data(as_text=True)).group(1)

    def outcome(to: str, after) -> str:
        """``after`` queues exactly one mail, to ``to``; its text, delivered."""
        before = rows(cdb, "SELECT count(*) FROM mail_outbox")[0][0]
        done = after()
        # the moderator is told that the reporter is told, and what is not in the mail
        assert done.status_code == 303 and done.headers["Location"] == f"{PAGE}?done=1&told=1"
        said = unescape(mod.get(done.headers["Location"]).get_data(as_text=True))
        assert ("C'est fait. 1 signalement traité : la personne qui l'avait fait en est "
                "informée par e-mail, sans votre nom ni votre motif.") in said
        queued = rows(cdb, "SELECT to_addr, template FROM mail_outbox ORDER BY id")[before:]
        assert queued == [(to, "notice")]
        mail_env.messages.clear()
        (mail,) = deliver(cdb, mail_env, 1)
        for private in (BOB, "Bob", MOD, "insultes", "harcèlement", "message poli",
                        "Message numéro", "Bonjour Zoé"):
            assert private not in mail.as_string(), private
        assert mail["To"] == to
        return mail["Subject"] + "\n" + text_part(mail) + "\n" + " ".join(links(mail))

    # Hiding the message Ana reported: Ana is told, in French.
    body = outcome(ANA, lambda: mod.post(f"{PAGE}/{first}/hide", data={
        "csrf_token": token, "reason": "insultes confirmées"}))
    assert "Votre signalement a été examiné" in body
    assert "Le message a été masqué" in body
    assert f"http://carte.test{thread_url}" in body
    # Hiding it again answers nobody twice.
    again = mod.post(f"{PAGE}/{first}/hide", data={"csrf_token": token, "reason": "encore"})
    assert again.headers["Location"] == f"{PAGE}?done=1"
    # Dismissing Zoé's report: Zoé is told, in English.
    body = outcome("zoe@example.org", lambda: mod.post(f"{PAGE}/{third}/dismiss", data={
        "csrf_token": token, "reason": "message poli"}))
    assert "Your report was reviewed" in body
    assert "we did not uphold the report" in body and "masqué" not in body
    # Ana reports the second message; stopping Bob answers that report (Zoé's and the
    # first one are already answered: no second mail for them).
    report(ana_client, thread_url, second)
    mail_env.messages.clear()
    deliver(cdb, mail_env, 0)
    body = outcome(ANA, lambda: mod.post(
        f"{PAGE.rsplit('/', 1)[0]}/residents/{bob.id}/block",
        data={"csrf_token": token, "reason": "harcèlement"}))
    assert "ne peut plus envoyer de messages" in body
    assert rows(cdb, "SELECT to_addr, count(*) FROM mail_outbox WHERE template = 'notice' "
                     "AND to_addr IN (:a, :z) AND (subject LIKE '%signalement a été%' OR "
                     "subject LIKE '%report was%') GROUP BY to_addr ORDER BY to_addr",
                a=ANA, z="zoe@example.org") == [(ANA, 2), ("zoe@example.org", 1)]
    assert ana.lang == "fr" and zoe.lang == "en"
