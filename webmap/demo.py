"""``carte demo``: database up, schema migrated, real data loaded, map served.

Steps: database, migrations, the city's areas (``CARTE_CITY``), categories and the
open-data seed, a full tile build, the open-data exports; then gunicorn serves the map
while ``carte tiles watch`` runs beside it, so that an approval shows in the tiles
within seconds.
Whatever the demo started (the watcher, the embedded cluster) it stops again on Ctrl-C;
a database configured through ``CARTE_DATABASE_URL`` is left alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from geo import migrate
from geo.areas import load_areas
from geo.city import load_city
from geo.config import configured_database_url, var_dir
from geo.db import dispose_engines, embedded_cluster, get_engine, session_scope

from . import create_app
from .serve import default_workers, run_gunicorn

__all__ = ["prepare", "run_demo"]


def prepare(echo: Callable[[dict[str, Any]], None]) -> bool:
    """Bring the database up and load the demo data. Returns whether we started it."""
    started = False
    if not configured_database_url():
        cluster = embedded_cluster()
        started = not cluster.status().running
        echo({"step": "database", **cluster.up().as_dict()})
    engine = get_engine()
    echo({"step": "migrate", "revision": migrate.upgrade(engine)})
    city = load_city()
    with session_scope(engine) as session:
        report = load_areas(session, city)
    echo({"step": "areas", "city": city.slug, **report.as_dict()})
    from ingestion.seed import load_seed  # categories, then the city's open-data seed
    with session_scope(engine) as session:
        for summary in load_seed(session, city, refused_dir=var_dir() / "imports"):
            echo({"step": "seed", **summary.as_dict()})
    from tiles.build import build_full
    from tiles.errors import TilesError

    from .commands.tiles import build_basemap_if_changed
    from .settings import Settings

    try:  # without a basemap the map still works (and says so): the demo goes on
        echo({"step": "basemap", **build_basemap_if_changed()})
    except TilesError as exc:
        echo({"step": "basemap", "built": False, "error": str(exc)})
    options = Settings.from_env(derive=False).tiles  # CARTE_TILES_* and the city
    echo({"step": "tiles", **build_full(engine, var_dir(), options).as_dict()})
    from opendata.exports import run_export

    manifest = run_export(engine, var_dir() / "data", if_changed=True)
    echo({"step": "exports", "files": len(manifest["files"]),
          "features": manifest["state"]["published"]})
    # The pooled connections must not be shared with gunicorn's forked workers.
    dispose_engines()
    return started


def run_demo(*, port: int, workers: int | None,
             echo: Callable[[dict[str, Any]], None]) -> None:
    """Prepare, then serve on 127.0.0.1 until Ctrl-C, then stop what we started."""
    started = prepare(echo)
    watcher = subprocess.Popen([sys.executable, "-m", "webmap", "-q", "tiles", "watch"],
                               stdin=subprocess.DEVNULL)
    # Mail outbox, subscriptions, digest and export refresh (webmap/commands/worker.py);
    # links in e-mails point at this server unless CARTE_PUBLIC_URL says otherwise.
    os.environ.setdefault("CARTE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    mailer = subprocess.Popen([sys.executable, "-m", "webmap", "-q", "worker"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    echo({"step": "serve", "url": f"http://127.0.0.1:{port}/", "tiles_watcher": watcher.pid,
          "worker": mailer.pid})
    try:
        run_gunicorn(create_app, host="127.0.0.1", port=port,
                     workers=workers or default_workers())
    finally:
        for child in (watcher, mailer):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if started:
            dispose_engines()
            embedded_cluster().down()
            echo({"step": "stopped", "database": "embedded"})
