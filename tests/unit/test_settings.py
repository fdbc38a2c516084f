"""The settings object: every CARTE_* variable typed, checked at start-up, named when bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from webmap.errors import SettingsError
from webmap.settings import Settings

BASE = {"CARTE_SECRET_KEY": "k", "CARTE_DATABASE_URL": "postgresql://u@h/db"}


def test_defaults_and_typed_values(tmp_path: Path) -> None:
    s = Settings.from_env({**BASE, "CARTE_VAR_DIR": str(tmp_path), "CARTE_INGEST_MAX_BODY": "1024",
                           "CARTE_SMTP_STARTTLS": "yes", "CARTE_TILES_MAX_ZOOM": "14",
                           "CARTE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"})
    assert s.INGEST_MAX_BODY == 1024 and s.SMTP_STARTTLS is True
    assert s.DATABASE_URL == "postgresql+psycopg://u@h/db"  # the driver we use
    assert tmp_path.resolve() == s.VAR_DIR
    assert s.INGEST_RATE_LIMIT == "20/600" and s.MODERATION_FLAG_THRESHOLD == 3
    assert s.tiles.max_zoom == 14
    assert s.mail().smtp_starttls is True
    assert s.as_config()["TRUSTED_PROXIES"] == "10.0.0.0/8, 192.0.2.7"


@pytest.mark.parametrize(("name", "value"), [
    ("CARTE_INGEST_MAX_BODY", "64k"), ("CARTE_INGEST_RATE_LIMIT", "20 per minute"),
    ("CARTE_INGEST_DUPLICATE_SIMILARITY", "2"), ("CARTE_TILES_MODE", "heat"),
    ("CARTE_TILES_MAX_ZOOM", "22"), ("CARTE_SMTP_STARTTLS", "perhaps"),
    ("CARTE_TRUSTED_PROXIES", "the proxy"), ("CARTE_INGEST_BUFFER_M", "nan"),
    ("CARTE_SMTP_PORT", "-1"),
])
def test_a_bad_value_stops_the_start_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, name: value})
    assert caught.value.variable == name
    assert str(caught.value).startswith(f"{name}={value!r}")


def test_the_app_factory_refuses_a_bad_variable(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    from webmap import create_app

    monkeypatch.setenv("CARTE_INGEST_MAX_DEPTH", "deep")
    with pytest.raises(SettingsError, match="CARTE_INGEST_MAX_DEPTH"):
        create_app({"DATABASE_URL": "postgresql+psycopg://u@h/db", "VAR_DIR": tmp_path,
                    "SECRET_KEY": "k"})


def test_config_given_to_the_factory_wins_and_reads_no_secret_file(tmp_path: Path) -> None:
    s = Settings.from_env({"CARTE_INGEST_MAX_DEPTH": "4"},
                          overrides={"SECRET_KEY": "given", "VAR_DIR": tmp_path,
                                     "DATABASE_URL": "postgresql://u@h/db",
                                     "INGEST_MAX_DEPTH": 8})
    assert s.SECRET_KEY == "given" and s.INGEST_MAX_DEPTH == 8
    assert not (tmp_path / "secret_key").exists()


def test_every_carte_command_refuses_a_bad_variable_naming_it(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from webmap.cli import main

    result = CliRunner(env={"CARTE_TILES_MODE": "heat", "CARTE_VAR_DIR": str(tmp_path)}
                       ).invoke(main, ["city", "check", "paris"])
    assert result.exit_code == 1
    assert "CARTE_TILES_MODE='heat' must be cluster or drop" in result.output
    assert not (tmp_path / "secret_key").exists()  # checking makes nothing
