"""Shared fixtures: one throwaway PostGIS cluster per test session, started by the same
code as ``carte db up``; the Flask ``app``, ``client`` and ``runner``.

Tests that write call the ``clean_db`` fixture, which empties every table but the
reference ones (areas, categories) so that tests do not see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from geo import migrate
from geo.areas import load_areas
from geo.city import load_city
from geo.embedded import EmbeddedPostgres
from tests.dbclean import empty_mutable_tables

# Throwaway clusters trade durability for speed; nothing else differs from production.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def make_cluster_dir(prefix: str = "carte-test-") -> Path:
    """A directory the unprivileged ``postgres`` user can reach (pytest's tmp is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def cluster() -> Iterator[EmbeddedPostgres]:
    root = make_cluster_dir()
    pg = EmbeddedPostgres(root / "pg", settings=FAST_SETTINGS)
    pg.up()
    try:
        yield pg
    finally:
        pg.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(cluster: EmbeddedPostgres) -> str:
    return cluster.url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The session database, migrated to head, with the real Paris areas loaded."""
    eng = create_engine(database_url)
    migrate.upgrade(eng)
    from sqlalchemy.orm import Session

    with Session(eng) as session, session.begin():
        load_areas(session, load_city("paris"))
    yield eng
    eng.dispose()


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    """Empty every non-reference table before the test."""
    with engine.begin() as conn:
        empty_mutable_tables(conn)
    return engine


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def app(engine: Engine, database_url: str, var_dir: Path):
    from webmap import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                       "SECRET_KEY": "test-secret-key"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli_env(engine: Engine, database_url: str, var_dir: Path) -> dict[str, str]:
    """Environment for ``carte`` commands run through click's CliRunner (migrated DB)."""
    return {"CARTE_DATABASE_URL": database_url, "CARTE_VAR_DIR": str(var_dir),
            "CARTE_SECRET_KEY": "test-secret-key"}


@pytest.fixture
def runner(cli_env: dict[str, str]):
    from click.testing import CliRunner

    return CliRunner(env=cli_env)


@pytest.fixture(autouse=True)
def _no_ambient_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch a database configured in the developer's shell."""
    for name in ("CARTE_DATABASE_URL", "CARTE_VAR_DIR"):
        if name in os.environ:
            monkeypatch.delenv(name)
