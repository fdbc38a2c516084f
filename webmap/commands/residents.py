"""``carte residents forget EMAIL``: a resident's address erased everywhere, audited."""

from __future__ import annotations

import getpass
import os

import click

from .options import echo_json

__all__ = ["residents"]


@click.group()
def residents() -> None:
    """Residents' personal data (their e-mail addresses)."""


@residents.command("forget")
@click.argument("email")
@click.option("--actor", default=None,
              help="Who asked for it, for the audit [default: the system user].")
def residents_forget(email: str, actor: str | None) -> None:
    """Remove EMAIL from addresses, submissions as received, subscriptions and the outbox."""
    from community.residents import forget_email
    from geo.db import session_scope

    from ..settings import Settings

    secret = Settings.from_env().SECRET_KEY
    who = actor or f"cli:{os.environ.get('USER') or getpass.getuser()}"
    with session_scope() as session:  # a resident account with it is deleted too
        removed, account = forget_email(session, email, actor=who, secret=secret)
    echo_json({"forgotten": True, "removed": removed, "account_deleted": account})
