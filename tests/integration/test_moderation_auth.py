"""Login, logout, sessions and throttling, over HTTP against the real database."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import re

from sqlalchemy import text

from tests.moderation_fixtures import (  # noqa: F401
    ADMIN,
    MOD,
    PASSWORD,
    csrf_of,
    login,
    mdb,
    mod_app,
    moderator,
    post,
    scalar,
)


def body_without_token(response) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))


def test_login_sets_a_fresh_httponly_lax_session_and_reaches_the_queue(mod_app, mdb):
    client = mod_app.test_client()
    assert client.get("/moderation/").status_code == 302
    response = login(client)
    assert response.status_code == 303 and response.location == "/moderation/"
    cookie = response.headers["Set-Cookie"]
    assert "carte_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in this test
    assert client.get("/moderation/").status_code == 200
    # Only a hash of the session id is stored.
    token = re.search(r"carte_session=([^;]+)", cookie).group(1)
    stored = scalar(mdb, "SELECT encode(id_hash, 'hex') FROM user_session")
    assert stored and token not in stored and len(stored) == 64


def test_cookie_is_secure_over_https(mod_app, mdb):
    client = mod_app.test_client()
    page = client.get("/auth/login", base_url="https://localhost")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    response = client.post("/auth/login", base_url="https://localhost",
                           headers={"Referer": "https://localhost/auth/login"},
                           data={"csrf_token": token, "email": MOD, "password": PASSWORD})
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_renews_the_session_id_and_logout_really_ends_it(mod_app, mdb):
    client = mod_app.test_client()
    login(client)
    first = client.get_cookie("carte_session").value
    # Logging in again (another account on a shared computer) from a logged-in page.
    client.post("/auth/login", data={"csrf_token": csrf_of(client, "/moderation/"),
                                     "email": ADMIN, "password": PASSWORD})
    second = client.get_cookie("carte_session").value
    assert first != second
    assert scalar(mdb, "SELECT count(*) FROM user_session") == 1   # the old one is gone
    response = post(client, "/auth/logout")
    assert response.status_code == 303
    assert scalar(mdb, "SELECT count(*) FROM user_session") == 0
    # Replaying the old cookie after logout does not work.
    client.set_cookie("carte_session", second)
    assert client.get("/moderation/").status_code == 302


def test_unknown_email_and_wrong_password_get_identical_answers(mod_app, mdb):
    client = mod_app.test_client()
    wrong = login(client, MOD, "not the password at all")
    unknown = login(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert body_without_token(wrong).replace(MOD, "X") == \
        body_without_token(unknown).replace("nobody@example.org", "X")
    assert "carte_session" not in wrong.headers.get("Set-Cookie", "")


def test_five_failures_lock_the_account_even_for_the_right_password(mod_app, mdb):
    client = mod_app.test_client()
    for _ in range(5):
        assert login(client, MOD, "wrong password!!").status_code == 401
    locked = login(client, MOD, PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    # Same answer for an unknown account throttled the same way: nothing to learn.
    for _ in range(5):
        login(client, "ghost@example.org", "wrong password!!")
    assert login(client, "ghost@example.org", PASSWORD).status_code == 429
    # Another account is not locked by this one (the client limit is higher).
    assert login(mod_app.test_client(), ADMIN, PASSWORD).status_code == 303


def test_failures_are_counted_in_the_database_without_emails(mod_app, mdb):
    client = mod_app.test_client()
    login(client, MOD, "wrong password!!")
    with mdb.connect() as conn:
        rows = conn.execute(text("SELECT account_key, client_key FROM login_failure")).all()
    assert len(rows) == 1
    assert "@" not in rows[0].account_key and "127.0.0.1" not in rows[0].client_key


def test_failures_from_one_client_are_limited_across_accounts(mod_app, mdb):
    mod_app.config["LOGIN_MAX_FAILURES_PER_CLIENT"] = 3
    client = mod_app.test_client()
    for i in range(3):
        assert login(client, f"user{i}@example.org", "wrong password!!").status_code == 401
    assert login(client, ADMIN, PASSWORD).status_code == 429


def test_a_successful_login_clears_the_account_failures(mod_app, mdb):
    client = mod_app.test_client()
    for _ in range(4):
        login(client, MOD, "wrong password!!")
    assert login(client, MOD, PASSWORD).status_code == 303
    assert scalar(mdb, "SELECT count(*) FROM login_failure") == 0


def test_next_only_goes_to_local_paths(mod_app, mdb):
    client = mod_app.test_client()
    token = csrf_of(client)
    response = client.post("/auth/login", data={"csrf_token": token, "email": MOD,
                                                "password": PASSWORD,
                                                "next": "//evil.example/steal"})
    assert response.location == "/moderation/"
    client2 = mod_app.test_client()
    assert client2.get("/moderation/flags").location == "/auth/login?next=%2Fmoderation%2Fflags"


def test_login_without_csrf_token_is_refused(mod_app, mdb):
    client = mod_app.test_client()
    client.get("/auth/login")
    response = client.post("/auth/login", data={"email": MOD, "password": PASSWORD})
    assert response.status_code == 400
    assert "carte_session" not in response.headers.get("Set-Cookie", "")


def test_a_deactivated_account_loses_its_sessions(mod_app, mdb):
    client = mod_app.test_client()
    login(client)
    admin = mod_app.test_client()
    login(admin, ADMIN)
    uid = scalar(mdb, "SELECT id FROM app_user WHERE email = :e", e=MOD)
    response = post(admin, f"/moderation/users/{uid}/deactivate", page="/moderation/users")
    assert response.status_code == 303
    assert client.get("/moderation/").status_code == 302
    assert login(mod_app.test_client()).status_code == 401


def test_login_page_has_labels_and_no_inline_script(mod_app, mdb):
    page = mod_app.test_client().get("/auth/login")
    html = page.get_data(as_text=True)
    assert '<label for="email">' in html and '<label for="password">' in html
    assert "<script>" not in html and "onclick" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
