"""Database engines and sessions: one cached engine per URL, one session per unit of work.

The URL comes from ``CARTE_DATABASE_URL`` or, when it is unset, from the embedded
cluster under ``$CARTE_VAR_DIR/pg`` (see :mod:`geo.embedded`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session

from .config import configured_database_url, var_dir
from .embedded import EmbeddedPostgres
from .errors import DatabaseUnavailable

__all__ = [
    "database_url",
    "dispose_engines",
    "embedded_cluster",
    "get_engine",
    "hide_password",
    "hot_engine",
    "server_versions",
    "session_scope",
]

_engines: dict[str, Engine] = {}


def embedded_cluster(environ: Mapping[str, str] | None = None) -> EmbeddedPostgres:
    """The embedded cluster of this checkout, under ``$CARTE_VAR_DIR/pg``."""
    return EmbeddedPostgres(Path(var_dir(environ)) / "pg")


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The configured database URL, or the embedded cluster's."""
    return configured_database_url(environ) or embedded_cluster(environ).url


def hide_password(url: str) -> str:
    """A URL fit for logs and error messages.

    >>> hide_password("postgresql+psycopg://u:secret@h/db")
    'postgresql+psycopg://u:***@h/db'
    """
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: :func:`database_url`).

    Engines hold connection pools, so they are created lazily, after a gunicorn worker
    forks, and reused for the life of the process.
    """
    url = url or database_url()
    engine = _engines.get(url)
    if engine is None:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        _engines[url] = engine
    return engine


HOT_IDLE_PING_S = 10.0


def hot_engine(url: str | None = None) -> Engine:
    """A second, autocommit engine for request hot paths (the submission intake).

    :func:`get_engine` pings every connection it hands out (``pool_pre_ping``): one
    more round trip per request. Here a connection is pinged only when it sat idle in
    the pool for more than :data:`HOT_IDLE_PING_S` seconds (a restarted server or a
    dropped link is then noticed and the connection replaced); a busy connection is
    trusted, and its user must handle a broken one itself. Autocommit: each statement
    is its own transaction, so a single-statement write costs one round trip, not
    three (BEGIN, statement, COMMIT). Disposed by :func:`dispose_engines` too.
    """
    url = url or database_url()
    key = url + "#hot"
    engine = _engines.get(key)
    if engine is None:
        # Nothing to roll back on return: no transaction outlives a statement.
        engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=5,
                               max_overflow=10, pool_reset_on_return=None)

        @event.listens_for(engine, "checkin")
        def _idle_since(dbapi_conn: Any, record: Any) -> None:
            record.info["idle_since"] = time.monotonic()

        @event.listens_for(engine, "checkout")
        def _ping_if_idle(dbapi_conn: Any, record: Any, proxy: Any) -> None:
            since = record.info.get("idle_since")
            if since is not None and time.monotonic() - since > HOT_IDLE_PING_S:
                try:
                    dbapi_conn.execute("SELECT 1")
                except Exception as exc:  # the pool then retries with a new connection
                    raise DisconnectionError(str(exc)) from exc

        _engines[key] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, and before a cluster is stopped)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back otherwise."""
    with Session(engine or get_engine()) as session, session.begin():
        yield session


def server_versions(engine: Engine) -> dict[str, Any]:
    """PostgreSQL and PostGIS versions, for ``/healthz`` and ``carte db status``."""
    try:
        with engine.connect() as conn:
            pg = conn.execute(text("SHOW server_version")).scalar_one()
            postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    except DBAPIError as exc:
        raise DatabaseUnavailable(
            f"database {hide_password(engine.url.render_as_string(hide_password=True))} "
            f"unreachable: {type(exc.orig).__name__}") from exc
    return {"postgresql": pg, "postgis": postgis}
