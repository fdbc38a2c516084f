"""Pure parts of moderation: edit parsing, charter, cursors, login keys, safe redirects."""

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.categories import CategorySpec
from moderation.accounts import account_key, validate_email, validate_password
from moderation.changes import Cursor, decode_cursor, encode_cursor, parse_since
from moderation.charter import REASONS, charter_html, charter_text, reason_label
from moderation.edits import parse_edits
from moderation.errors import AccountError, InvalidInput

CATS = {"jardin": CategorySpec("jardin", "place", "Jardin", "Garden", "#2e7d32", "leaf"),
        "soupe": CategorySpec("soupe", "event", "Soupe", "Soup", "#c62828", "pot")}
NOW = datetime(2026, 6, 1, tzinfo=UTC)
GOOD = {"title": "  Jardin   partagé ", "description": "Ouvert\r\nle samedi",
        "category": "jardin", "lon": "2,35", "lat": "48.85", "starts_at": "2026-06-21T18:00Z",
        "ends_at": "2026-06-21T23:00+02:00"}


def test_a_local_time_is_read_in_the_city_zone():
    from zoneinfo import ZoneInfo

    out = parse_edits({**GOOD, "starts_at": "2026-06-21T18:00", "ends_at": ""},
                      categories=CATS, now=NOW, zone=ZoneInfo("Europe/Paris"))
    assert out["starts_at"] == datetime(2026, 6, 21, 16, 0, tzinfo=UTC)


def test_edits_are_typed_and_normalised():
    out = parse_edits(GOOD, categories=CATS, now=NOW)
    assert out["title"] == "Jardin partagé"
    assert out["description"] == "Ouvert\nle samedi"
    assert (out["lon"], out["lat"]) == (2.35, 48.85)
    assert out["starts_at"] == datetime(2026, 6, 21, 18, 0, tzinfo=UTC)
    assert out["ends_at"].utcoffset().total_seconds() == 7200


@pytest.mark.parametrize("field,value", [
    ("title", ""), ("title", "x" * 121), ("description", "x" * 2001), ("category", "autre"),
    ("lon", "nan"), ("lon", "inf"), ("lon", "181"), ("lat", "-91"), ("lat", ""),
    ("starts_at", "demain"), ("ends_at", "2026-06-21T17:00Z"),
])
def test_each_bad_field_is_named(field, value):
    with pytest.raises(InvalidInput) as info:
        parse_edits({**GOOD, field: value}, categories=CATS, now=NOW)
    assert field in info.value.errors


@given(st.dictionaries(st.sampled_from(list(GOOD)), st.text(max_size=50)))
def test_any_form_gives_values_or_named_errors(form):
    try:
        out = parse_edits(form, categories=CATS, now=NOW)
    except InvalidInput as exc:
        assert set(exc.errors) <= set(GOOD) | {"attributes"}
    else:
        assert math.isfinite(out["lon"]) and math.isfinite(out["lat"])


def test_every_reason_is_in_both_languages_of_the_charter():
    for lang in ("fr", "en"):
        text = charter_text(lang)
        for code in REASONS:
            assert f"(`{code}`)" in text, (lang, code)
    assert reason_label("advertising") == "Publicité / Advertising"


def test_charter_html_escapes_text(tmp_path):
    path = tmp_path / "charter.md"
    path.write_text("<!-- lang: fr -->\n# T <b>\n- **gras** <script>x</script>\n\npara & co\n")
    html = str(charter_html("fr", path=path))
    assert "<h1>T &lt;b&gt;</h1>" in html
    assert "<li><strong>gras</strong> &lt;script&gt;x&lt;/script&gt;</li>" in html
    assert "<p>para &amp; co</p>" in html


@given(st.datetimes(timezones=st.just(UTC)), st.integers(1, 2**62), st.integers(1, 2**30))
def test_cursor_round_trip(at, fid, version):
    c = Cursor(at, fid, version)
    assert decode_cursor(encode_cursor(c)) == c


@pytest.mark.parametrize("bad", ["", "zzz", "W10",
                                 encode_cursor(Cursor(datetime.now(UTC), 1, 1))[:-3]])
def test_forged_cursors_are_named(bad):
    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor(bad)


def test_since_takes_iso_and_refuses_the_rest():
    assert parse_since("2026-11-27").tzinfo is UTC
    assert parse_since("2026-11-27T10:00:00Z") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="since"):
        parse_since("last week")


def test_account_keys_ignore_case_and_hide_the_email():
    assert account_key("Mod@Example.org ", "k") == account_key("mod@example.org", "k")
    assert account_key("mod@example.org", "k") != account_key("mod@example.org", "other")
    assert "@" not in account_key("mod@example.org", "k")


def test_emails_and_passwords_are_checked():
    assert validate_email(" a@b.fr ") == "a@b.fr"
    for bad in ("", "a", "a@b", "a b@c.fr"):
        with pytest.raises(AccountError):
            validate_email(bad)
    with pytest.raises(AccountError, match="12"):
        validate_password("short")


def test_unknown_emails_are_verified_against_a_hash_of_the_same_cost():
    from moderation.accounts import _dummy_hash, hash_password

    def params(h):
        return h.rsplit("$", 2)[0]

    assert params(_dummy_hash()) == params(hash_password("some password 123"))
    assert _dummy_hash().startswith("$argon2id$")
