from pathlib import Path

import pytest

from geo.config import configured_database_url, normalise_url, var_dir
from geo.db import hide_password
from geo.embedded import EmbeddedPostgres
from geo.errors import ClusterError


def test_unset_database_url_means_embedded():
    assert configured_database_url({}) is None
    assert configured_database_url({"CARTE_DATABASE_URL": "  "}) is None


def test_libpq_urls_use_psycopg3():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert configured_database_url({"CARTE_DATABASE_URL": "postgresql://a@b/c"}) == \
        "postgresql+psycopg://a@b/c"


def test_var_dir_is_absolute(tmp_path):
    assert var_dir({"CARTE_VAR_DIR": str(tmp_path / "v")}) == tmp_path / "v"
    assert var_dir({}).is_absolute()


def test_password_never_in_logged_url():
    assert "secret" not in hide_password("postgresql+psycopg://user:secret@db:5432/carte")


def test_embedded_url_uses_socket_only(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg")
    assert pg.url == f"postgresql+psycopg://carte@/carte?host={tmp_path}/pg/sock"


def test_socket_path_too_long_is_a_clear_error(tmp_path):
    deep = tmp_path / ("x" * 100)
    with pytest.raises(ClusterError, match="CARTE_VAR_DIR"):
        EmbeddedPostgres(deep).up()
    assert not (deep / "data").exists()


def test_missing_postgis_names_the_debian_package(tmp_path, monkeypatch):
    # A PostgreSQL install without the PostGIS extension files.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    share = tmp_path / "share"
    (share / "extension").mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (bindir / name).write_text("#!/bin/sh\nexit 1\n")
        (bindir / name).chmod(0o755)
    (bindir / "pg_config").write_text(f"#!/bin/sh\necho {share}\n")
    (bindir / "pg_config").chmod(0o755)
    monkeypatch.setenv("CARTE_PG_BINDIR", str(bindir))
    with pytest.raises(ClusterError, match="postgresql-15-postgis-3"):
        EmbeddedPostgres(Path("/tmp/carte-never-created") / "pg").up()
    assert not Path("/tmp/carte-never-created").exists()
