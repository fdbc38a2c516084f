"""``carte users add``: stdin, generated password, errors; the password is never echoed."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import json

from argon2 import PasswordHasher

from tests.moderation_fixtures import login, mdb, mod_app, scalar  # noqa: F401
from webmap.cli import main


def test_add_with_password_from_stdin(runner, mdb, mod_app):
    secret = "a long enough password 42"
    result = runner.invoke(main, ["users", "add", "New@Example.org", "--role", "admin",
                                  "--password-stdin"], input=secret + "\n")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out == {"created": True, "id": out["id"], "email": "New@Example.org",
                   "role": "admin"}
    assert secret not in result.output
    stored = scalar(mdb, "SELECT password_hash FROM app_user WHERE id = :i", i=out["id"])
    assert stored.startswith("$argon2id$") and PasswordHasher().verify(stored, secret)
    assert login(mod_app.test_client(), "new@example.org", secret).status_code == 303


def test_without_a_terminal_a_password_is_generated_and_shown_once(runner, mdb):
    result = runner.invoke(main, ["users", "add", "gen@example.org", "--role", "moderator"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert len(out["generated_password"]) >= 16
    stored = scalar(mdb, "SELECT password_hash FROM app_user WHERE email = 'gen@example.org'")
    assert PasswordHasher().verify(stored, out["generated_password"])


def test_errors_are_clear_and_create_nothing(runner, mdb):
    short = runner.invoke(main, ["users", "add", "s@example.org", "--role", "moderator",
                                 "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "12 characters" in short.output
    assert "short" not in short.output.replace("12 characters", "")
    dup = runner.invoke(main, ["users", "add", "MOD@example.org", "--role", "admin",
                               "--password-stdin"], input="a long enough password\n")
    assert dup.exit_code == 1 and "already exists" in dup.output
    role = runner.invoke(main, ["users", "add", "r@example.org", "--role", "root"])
    assert role.exit_code == 2
    bad = runner.invoke(main, ["users", "add", "not-an-email", "--role", "admin"])
    assert bad.exit_code == 1 and "email" in bad.output
    assert scalar(mdb, "SELECT count(*) FROM app_user") == 2
