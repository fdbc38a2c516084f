"""Redirect targets after login never leave the site."""

import pytest

from moderation.web import safe_next


@pytest.mark.parametrize("target,expected", [
    ("/moderation/flags", "/moderation/flags"),
    ("/moderation/?area=75104", "/moderation/?area=75104"),
    ("//evil.example/", "/moderation/"),
    ("/\\evil.example", "/moderation/"),
    ("https://evil.example/", "/moderation/"),
    ("/x\r\nSet-Cookie: a=b", "/moderation/"),
    (None, "/moderation/"),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_every_setting_is_documented_in_the_readme():
    from pathlib import Path

    from moderation import SETTINGS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for _key, (env, _kind, default) in SETTINGS.items():
        assert f"`{env}`" in readme, env
        assert str(default) in readme, env


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    # Read and checked once, by the app's settings object (webmap.settings).
    from webmap import create_app

    given = {"DATABASE_URL": "postgresql+psycopg://u@h/db", "VAR_DIR": tmp_path,
             "SECRET_KEY": "k"}
    monkeypatch.setenv("CARTE_MODERATION_FLAG_THRESHOLD", "5")
    app = create_app(given)
    assert app.config["MODERATION_FLAG_THRESHOLD"] == 5
    assert app.config["CHANGES_SETTLE_SECONDS"] == 2.0
    monkeypatch.setenv("CARTE_MODERATION_FLAG_THRESHOLD", "many")
    with pytest.raises(ValueError, match="CARTE_MODERATION_FLAG_THRESHOLD"):
        create_app(given)
