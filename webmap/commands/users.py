"""``carte users add``: moderator and admin accounts.

The password is read from standard input (``--password-stdin``), prompted without echo
on a terminal, or generated and printed once; it is never logged nor put in argv.
"""

from __future__ import annotations

import secrets
import sys

import click

from .options import echo_json, fail

__all__ = ["users"]


@click.group()
def users() -> None:
    """Moderator and admin accounts."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["moderator", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def users_add(email: str, role: str, password_stdin: bool) -> None:
    """Create an account for EMAIL with ROLE."""
    from geo.db import session_scope
    from moderation.accounts import create_user, validate_email, validate_password
    from moderation.errors import AccountError

    generated = False
    try:
        validate_email(email)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                    err=True)
        else:
            password, generated = secrets.token_urlsafe(15), True
        validate_password(password)
        with session_scope() as session:
            user = create_user(session, email, role, password)
            out = {"created": True, "id": user.id, "email": user.email, "role": role}
    except AccountError as exc:
        raise fail(exc) from exc
    if generated:
        out["generated_password"] = password  # shown once; hand it over in person
    echo_json(out)
