"""Schema migrations with Alembic, driven from code (``carte db migrate``).

The migration scripts live in ``geo/migrations/versions``; this module only points
Alembic at them and at a connection, so there is no alembic.ini to keep in step.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from .errors import MigrationError

__all__ = ["current_revision", "downgrade", "head_revision", "sync_city_zone", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revisions the code knows, sorted and joined by '+'.

    Each package may add its own branch on top of ``0001`` (so that work on ingestion and
    moderation never fights over one chain); ``heads`` applies every branch.
    """
    script = ScriptDirectory.from_config(_config())
    # A head another branch ``depends_on`` is not stored as a head once that branch is
    # applied (Alembic records the dependent only): leave it out, as the database does.
    needed: set[str] = set()
    for rev in script.walk_revisions():
        deps = rev.dependencies or ()
        needed.update((deps,) if isinstance(deps, str) else deps)
    return "+".join(sorted(set(script.get_heads()) - needed))


def current_revision(engine: Engine) -> str | None:
    """The revisions the database is at, as :func:`head_revision` (``None``: none)."""
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return "+".join(sorted(heads)) or None


def upgrade(engine: Engine, revision: str = "heads") -> str | None:
    """Bring the schema up to ``revision``; returns the revision reached.

    Then SQL is given the city's time zone (:func:`sync_city_zone`), so a city whose
    zone changed is followed by ``carte db migrate`` and ``carte demo``.
    """
    reached = _run(engine, command.upgrade, revision)
    sync_city_zone(engine)
    return reached


def sync_city_zone(engine: Engine) -> bool:
    """Set ``carte_city_zone()`` (migration 0021) to the city's zone; whether it changed.

    Missions ending with their start day read it in triggers; nothing to do before 0021.
    """
    from sqlalchemy import text

    from .events import city_zone

    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regprocedure('carte_set_city_zone(text)')")
                        ).scalar() is None:
            return False
        return bool(conn.execute(text("SELECT carte_set_city_zone(:z)"),
                                 {"z": city_zone().key}).scalar())


def downgrade(engine: Engine, revision: str = "base") -> str | None:
    """Take the schema down to ``revision`` (``base``: nothing of ours left)."""
    return _run(engine, command.downgrade, revision)


def _run(engine: Engine, action, revision: str) -> str | None:
    cfg = _config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            action(cfg, revision)
    except DBAPIError as exc:
        raise MigrationError(f"migration to {revision} failed: {exc.orig}") from exc
    return current_revision(engine)
