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
    from geo.db import session_scope
    from mail.residents import forget

    from ..settings import Settings

    secret = Settings.from_env().SECRET_KEY
    who = actor or f"cli:{os.environ.get('USER') or getpass.getuser()}"
    with session_scope() as session:
        removed = forget(session, email, actor=who, secret=secret)
    echo_json({"forgotten": True, "removed": removed})
