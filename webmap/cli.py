"""The ``carte`` command: one click group (Flask's), one small function per subcommand.

Each command parses its options and calls a function of the core; output is one JSON
object per line so that scripts can read it.
"""

from __future__ import annotations

import logging
import sys

import click
from flask.cli import FlaskGroup

from . import create_app
from .commands.areas import areas
from .commands.city import city
from .commands.db import db
from .commands.export import export
from .commands.ingest import categories, import_command, imports
from .commands.jobs import jobs
from .commands.residents import residents
from .commands.serve import demo, serve
from .commands.sources import sources
from .commands.tiles import tiles
from .commands.users import users
from .commands.worker import worker

__all__ = ["main"]

log = logging.getLogger("carte")


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable).")
def main(verbose: int, quiet: int) -> None:
    """Carte citoyenne: the participative map of a city's residents."""
    from .errors import SettingsError
    from .settings import Settings

    try:  # every CARTE_* variable checked before any command runs
        Settings.from_env(derive=False)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(level=max(logging.DEBUG, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for command in (db, areas, serve, demo, users, categories, import_command, imports, tiles,
                export, city, worker, residents, sources, jobs):
    main.add_command(command)
