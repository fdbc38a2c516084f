"""``carte serve`` and ``carte demo``."""

from __future__ import annotations

import click
from flask import Flask

from geo.errors import GeoError

from .options import echo_json, fail

__all__ = ["demo", "serve"]


def _factory() -> Flask:
    from .. import create_app

    return create_app()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="gunicorn worker processes [default: 2 per core]")
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the map with gunicorn until Ctrl-C."""
    from ..serve import default_workers, run_gunicorn

    _catch_up_submissions()
    run_gunicorn(_factory, host=host, port=port, workers=workers or default_workers())


def _catch_up_submissions() -> None:
    """Validate the submissions an earlier crash left stored but unvalidated."""
    from geo.db import dispose_engines
    from ingestion.api import revalidate_received

    try:
        revalidate_received(_factory())
    except Exception as exc:  # the map still starts; the rows wait for the next start
        click.echo(f"warning: submissions left 'received' not validated: {exc}", err=True)
    finally:
        dispose_engines()  # before gunicorn forks: no pooled connection may be shared


@click.command("demo")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64))
def demo(port: int, workers: int | None) -> None:
    """Set everything up on real Paris data and serve it on http://127.0.0.1:PORT."""
    from ..demo import run_demo

    try:
        run_demo(port=port, workers=workers, echo=echo_json)
    except GeoError as exc:
        raise fail(exc) from exc
