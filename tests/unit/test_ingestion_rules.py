"""Categories file, spam rules and strict JSON parsing: plain values, no database."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.config import data_dir
from ingestion.categories import read_categories
from ingestion.errors import CategoryDataError, MalformedBody, UnsupportedMediaType
from ingestion.intake import parse_strict_json
from ingestion.spam import RULES, SpamContext, burst, links, load_rule, repeated_text, score
from ingestion.types import Record

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_categories_file_has_what_residents_need():
    cats = {c.slug: c for c in read_categories(data_dir() / "categories.json")}
    kinds = {slug: c.kind for slug, c in cats.items()}
    assert kinds["jardin-partage"] == "place"
    assert kinds["disco-soupe"] == kinds["fete-des-voisins"] == "event"
    assert kinds["mission-benevole"] == "mission"
    assert kinds["pret-troc"] == kinds["echange-temps"] == "offer"
    assert kinds["lieu-regles"] == kinds["service-municipal"] == kinds["initiative-citoyenne"] \
        == "place"
    assert cats["fete-des-voisins"].field("party_kit_request").required is False
    assert cats["mission-benevole"].field("availability").type == "availability"
    assert cats["lieu-regles"].field("rules_of_use").required
    for c in cats.values():
        assert re.fullmatch(r"#[0-9a-f]{6}", c.colour) and c.icon and c.label_en and c.label_fr
        assert set(c.audiences) <= {"children", "families", "seniors", "everyone"}


def test_a_bad_categories_file_is_refused(tmp_path):
    doc = json.loads((data_dir() / "categories.json").read_text())
    doc["categories"][0]["colour"] = "#ABCDEF"
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(CategoryDataError, match="colour"):
        read_categories(bad)


def rec(title="Jardin", description=""):
    return Record(category="jardin-partage", title=title, lon=2.35, lat=48.86,
                  description=description)


def test_spam_rules_explain_themselves():
    assert links(SpamContext(rec())) is None
    assert links(SpamContext(rec(title="Promo www.shop.example"))).score == 0.6
    assert links(SpamContext(rec(description="https://a.example https://b.example"))).score \
        == pytest.approx(0.4)
    assert repeated_text(SpamContext(rec(description="buy " * 20))).rule == "repeated_text"
    assert burst(SpamContext(rec(), recent_from_client=2)) is None
    assert burst(SpamContext(rec(), recent_from_client=8)).score == pytest.approx(0.8)
    total, reasons = score(SpamContext(rec(title="TOUT EST GRATUIT ICI",
                                           description="http://x.example"),
                                       recent_from_client=5))
    assert total == pytest.approx(0.9)
    assert {r["rule"] for r in reasons} == {"links", "burst", "shouting"}


def test_rules_load_by_name_or_dotted_path():
    assert load_rule("links") is links
    assert load_rule("ingestion.spam:burst") is burst
    with pytest.raises(ValueError):
        load_rule("no-such-rule")


def test_every_rule_and_setting_is_documented():
    from ingestion.api import DEFAULTS

    design = ARCHITECTURE.read_text()
    section = design[design.index("## Submissions and imports"):]
    for name in RULES:
        assert f"`{name}`" in section, name
    for key in DEFAULTS:
        assert f"`{key}`" in section, key
    # Every setting with an environment variable is in README's configuration table.
    readme = README.read_text()
    table = readme[readme.index("## Configuration"):]
    for key in DEFAULTS:
        if key != "INGEST_SPAM_RULES":  # a Flask config key only (rule paths)
            assert f"`CARTE_{key}`" in table, key


@pytest.mark.parametrize(("raw", "error"), [
    (b'{"lon": NaN}', MalformedBody),
    (b'{"lon": Infinity}', MalformedBody),
    (b'{"lon": -Infinity}', MalformedBody),
    (b'{"lon": 1e400}', MalformedBody),
    (b'{"lon": 1' + b"0" * 400 + b"}", MalformedBody),
    (b"[" * 50_000 + b"]" * 50_000, MalformedBody),
    (b'{"a":' * 17 + b"1" + b"}" * 17, MalformedBody),
    (b'{"title": "\xff\xfe"}', MalformedBody),
    (b"{'single': 1}", MalformedBody),
    (b"", MalformedBody),
])
def test_strict_json_refuses_what_flask_accepts(raw, error):
    with pytest.raises(error):
        parse_strict_json(raw, "application/json")


def test_strict_json_needs_a_json_content_type():
    with pytest.raises(UnsupportedMediaType):
        parse_strict_json(b"{}", "text/plain")
    assert parse_strict_json(b'\xef\xbb\xbf{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert parse_strict_json(b'{"a": 1}', "application/merge-patch+json") == {"a": 1}


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300))
def test_strict_json_never_raises_anything_else(raw):
    with contextlib.suppress(MalformedBody):
        parse_strict_json(raw, "application/json")


def test_csv_rows_keep_their_original_text_and_bad_rows_are_yielded(tmp_path):
    from ingestion.readers import open_source

    path = tmp_path / "rows.csv"
    path.write_bytes('id;nom;lon;lat\r\n1;"Marché ""bio""\r\nsur deux lignes";2.35;48.86\r\n'
                     '2;Sans coordonnées;;\r\n3;trop;de;colonnes;ici\r\n'.encode())
    rows = list(open_source(path).rows)
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[0].raw == '1;"Marché ""bio""\nsur deux lignes";2.35;48.86'.encode()
    assert rows[0].props["nom"] == 'Marché "bio"\nsur deux lignes'
    assert (rows[0].x, rows[0].y) == (2.35, 48.86)
    assert rows[1].geom_error == "the row has no coordinates"
    assert "columns" in rows[2].geom_error
