"""Helpers shared by the ``carte`` subcommands: JSON-lines output and error mapping."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["echo_json", "fail"]


def echo_json(obj: dict[str, Any]) -> None:
    """Print one JSON object on one line (the output format of every command)."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def fail(exc: Exception) -> click.ClickException:
    """A click error (exit status 1, message on stderr) for a domain error."""
    return click.ClickException(str(exc))
