"""Accounts that recover: password change, reset links by real e-mail, invitations."""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import re

from sqlalchemy import text

from mail.sender import deliver_due
from tests.mail_fixtures import links, mail_env, smtp_server, text_part  # noqa: F401
from tests.moderation_fixtures import (  # noqa: F401
    MOD,
    PASSWORD,
    admin,
    csrf_of,
    login,
    mdb,
    mod_app,
    moderator,
    post,
    scalar,
)

NEW = "a much longer new passphrase"


def test_a_password_change_needs_the_current_one_and_ends_other_sessions(mod_app, moderator,
                                                                         mdb):
    other = mod_app.test_client()
    assert login(other).status_code == 303  # the same moderator on another computer
    wrong = post(moderator, "/auth/password", {"current_password": "not it",
                                               "new_password": NEW, "confirm_password": NEW},
                 page="/auth/password")
    assert wrong.status_code == 400 and "incorrect" in wrong.get_data(as_text=True)
    short = post(moderator, "/auth/password", {"current_password": PASSWORD,
                                               "new_password": "short",
                                               "confirm_password": "short"},
                 page="/auth/password")
    assert short.status_code == 400
    done = post(moderator, "/auth/password", {"current_password": PASSWORD,
                                              "new_password": NEW, "confirm_password": NEW},
                page="/auth/password")
    assert done.status_code == 303
    assert moderator.get("/moderation/").status_code == 200  # this session goes on
    assert other.get("/moderation/").status_code == 302  # the other one is over
    fresh = mod_app.test_client()
    assert login(fresh, MOD, PASSWORD).status_code == 401
    assert login(fresh, MOD, NEW).status_code == 303


def forgot(client, email: str):
    return client.post("/auth/forgot", data={"csrf_token": csrf_of(client, "/auth/forgot"),
                                             "email": email})


def test_forgot_answers_the_same_and_the_link_works_once(mod_app, mdb, mail_env, smtp):
    client = mod_app.test_client()
    known, unknown = forgot(client, MOD.upper()), forgot(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", known.get_data(as_text=True)) == \
        strip.sub("", unknown.get_data(as_text=True))
    # Only the hash of the token is stored.
    assert scalar(mdb, "SELECT count(*) FROM account_token WHERE purpose = 'reset'") == 1
    deliver_due(mdb, smtp.settings())
    (message,) = smtp.wait_for(1)
    assert message["To"] == MOD
    found = [u for u in links(message) if "/auth/reset/" in u]
    assert len(found) == 1, text_part(message)
    (link,) = found
    token = link.rsplit("/", 1)[1]
    assert scalar(mdb, "SELECT count(*) FROM account_token WHERE token_hash = "
                       "sha256(convert_to(:t, 'UTF8'))", t=token) == 1
    assert "une seule fois" in text_part(message)
    path = link.replace("http://carte.test", "")
    assert client.get(path).status_code == 200
    done = client.post(path, data={"csrf_token": csrf_of(client, path), "new_password": NEW,
                                   "confirm_password": NEW})
    assert done.status_code == 303 and done.location.endswith("/auth/login")
    assert login(mod_app.test_client(), MOD, NEW).status_code == 303
    again = client.post(path, data={"csrf_token": csrf_of(client, "/auth/forgot"),
                                    "new_password": "another long passphrase",
                                    "confirm_password": "another long passphrase"})
    assert again.status_code == 410
    assert client.get(path).status_code == 410
    assert login(mod_app.test_client(), MOD, NEW).status_code == 303


def test_asking_again_within_a_minute_sends_nothing_more(mod_app, mdb, mail_env, smtp):
    client = mod_app.test_client()
    for _ in range(5):
        assert forgot(client, MOD).status_code == 200
    assert scalar(mdb, "SELECT count(*) FROM mail_outbox") == 1


def test_an_expired_link_does_not_work(mod_app, mdb, mail_env, smtp):
    client = mod_app.test_client()
    forgot(client, MOD)
    with mdb.begin() as conn:
        conn.execute(text("UPDATE account_token SET created_at = now() - interval '2 hours', "
                          "expires_at = now() - interval '1 hour'"))
    deliver_due(mdb, smtp.settings())
    (link,) = [u for u in links(smtp.wait_for(1)[0]) if "/auth/reset/" in u]
    path = link.replace("http://carte.test", "")
    assert client.get(path).status_code == 410
    assert "expiré" in client.get(path).get_data(as_text=True)


def test_the_reset_mail_is_in_the_language_of_the_request(mod_app, mdb, mail_env, smtp):
    client = mod_app.test_client()
    client.get("/auth/forgot?lang=en")
    forgot(client, MOD)
    deliver_due(mdb, smtp.settings())
    (message,) = smtp.wait_for(1)
    assert message["Subject"] == "Reset your moderation password"
    assert "works once" in text_part(message)


def test_an_admin_invites_a_moderator_by_e_mail(mod_app, admin, mdb, mail_env, smtp):
    response = post(admin, "/moderation/users", {"email": "new.mod@example.org",
                                                 "role": "moderator", "invite": "1"},
                    page="/moderation/users")
    assert response.status_code == 201
    assert "new.mod@example.org" in response.get_data(as_text=True)
    deliver_due(mdb, smtp.settings())
    (message,) = smtp.wait_for(1)
    assert message["To"] == "new.mod@example.org"
    (link,) = [u for u in links(message) if "/auth/reset/" in u]
    path = link.replace("http://carte.test", "")
    invited = mod_app.test_client()
    done = invited.post(path, data={"csrf_token": csrf_of(invited, path), "new_password": NEW,
                                    "confirm_password": NEW})
    assert done.status_code == 303
    assert login(invited, "new.mod@example.org", NEW).status_code == 303
    assert invited.get("/moderation/").status_code == 200
