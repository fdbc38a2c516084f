"""Photo URLs in public outputs are absolute, under the site's public root, whatever
characters that root holds; and the SQL text that writes them changes with the root (the
exports cache rendered lines on a hash of that text)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geo.city import load_city
from geo.published import (
    DEFAULT_PUBLIC_URL,
    feature_json_sql,
    photos_sql,
    public_fields,
    public_root,
    url_literal,
)

ROOTS = [
    "https://carte.example",
    "http://127.0.0.1:5000",
    "http://[::1]:8080/carte",       # ":8080" after "]" would be a bind parameter of text()
    "https://example.org/a'b%c:d",   # a quote, a percent sign, a colon before a letter
    "https://carte.example/île",     # not ASCII
]


@pytest.mark.parametrize("root", ROOTS)
def test_the_root_reaches_postgresql_exactly_as_configured(engine, root):
    with engine.connect() as conn:
        # A bound parameter next to it: the literal is not mistaken for another one.
        got = conn.execute(text(f"SELECT {url_literal(root)} || :tail"),
                           {"tail": "/photos/x.jpg"}).scalar_one()
    assert got == root + "/photos/x.jpg"


def test_the_root_comes_from_carte_public_url_with_one_default(monkeypatch):
    assert public_root({}) == DEFAULT_PUBLIC_URL
    assert public_root({"CARTE_PUBLIC_URL": " https://carte.example/ "}) == \
        "https://carte.example"
    monkeypatch.setenv("CARTE_PUBLIC_URL", "https://carte.example")
    assert photos_sql() == photos_sql("https://carte.example")
    # The web app's and the mail package's defaults are the same development server.
    from mail.config import MailSettings
    from webmap.settings import Settings
    assert Settings.from_env({}).PUBLIC_URL == MailSettings.from_env({}).public_url == \
        DEFAULT_PUBLIC_URL


def test_another_root_is_another_sql_text_and_the_old_signatures_still_work(monkeypatch):
    levels = load_city("paris", environ={}).levels
    a = feature_json_sql(levels, "https://a.example")
    b = feature_json_sql(levels, "https://b.example")
    assert a != b and "E'https\\x3a//a.example'" in a
    monkeypatch.setenv("CARTE_PUBLIC_URL", "https://a.example")
    assert feature_json_sql(levels) == a  # the one-argument form reads the environment
    [photos] = [f for f in public_fields(levels) if f.name == "photos"]
    assert photos.sql == photos_sql("https://a.example")
    relative = photos_sql("")
    assert "'' || '/photos/'" in relative.replace("E''", "''")  # "" keeps /photos/… relative
