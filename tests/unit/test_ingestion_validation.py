"""The pure validation rules, driven by hypothesis (thousands of generated examples)."""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from functools import cache

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from geo.config import data_dir
from ingestion.categories import read_categories
from ingestion.text import BIDI_CONTROLS, clean_text
from ingestion.types import FieldError, Record
from ingestion.validation import (
    ServiceArea,
    ValidationConfig,
    check_coordinates,
    check_email,
    parse_datetime,
    to_lonlat,
    validate_submission,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MANY = settings(max_examples=2000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@cache
def categories():
    return {c.slug: c for c in read_categories(data_dir() / "categories.json")}


@cache
def area(buffer_m: float = 500.0) -> ServiceArea:
    doc = json.loads((data_dir() / "cities" / "paris" / "arrondissements.geojson").read_text())
    outline = shapely.union_all([shape(f["geometry"]) for f in doc["features"]])
    return ServiceArea(outline, buffer_m=buffer_m)


def base(**over):
    body = {"lon": 2.35, "lat": 48.86, "title": "Jardin", "category": "jardin-partage"}
    body.update(over)
    return body


def validate(data, **kw):
    return validate_submission(data, categories=categories(), area=area(), now=NOW, **kw)


# --- text ---------------------------------------------------------------------------

@MANY
@given(st.text(), st.booleans())
def test_clean_text_is_nfc_without_controls_and_idempotent(value, multiline):
    out = clean_text(value, multiline=multiline)
    assert unicodedata.is_normalized("NFC", out)
    assert not (set(out) & BIDI_CONTROLS)
    allowed = {"\n", "\t"} if multiline else set()
    assert all(unicodedata.category(c) != "Cc" or c in allowed for c in out)
    assert out == out.strip()
    assert clean_text(out, multiline=multiline) == out
    if not multiline:
        assert "\n" not in out


def test_clean_text_examples():
    assert clean_text("e\u0301te\u0301") == "été"
    assert clean_text("abc\u202edef\u2066") == "abcdef"
    assert clean_text("a\r\n\r\n\r\n\r\nb", multiline=True) == "a\n\nb"
    # HTML is plain text here; it is escaped wherever it is shown.
    assert clean_text("<script>alert(1)</script>") == "<script>alert(1)</script>"


# --- coordinates --------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@MANY
@given(st.one_of(finite, st.just(math.nan), st.just(math.inf), st.just(-math.inf),
                 st.text(max_size=5), st.none(), st.booleans(), st.integers()),
       st.one_of(finite, st.just(math.nan), st.just(math.inf), st.text(max_size=5),
                 st.none(), st.integers()))
def test_coordinates_are_accepted_only_when_finite_in_range_and_in_the_area(lon, lat):
    errors = check_coordinates(lon, lat, area())
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat))
    ok = numbers and all(math.isfinite(float(v)) for v in (lon, lat)) \
        and -180 <= lon <= 180 and -90 <= lat <= 90 and area().contains(float(lon), float(lat))
    assert (errors == []) == ok
    assert all(e.pointer in ("/lon", "/lat") for e in errors)


paris_points = st.tuples(st.floats(2.25, 2.42), st.floats(48.82, 48.90)).filter(
    lambda p: area(0.0).contains(*p))


@settings(max_examples=500, deadline=None)
@given(paris_points)
def test_swapped_points_in_the_city_get_the_swapped_hint(p):
    lon, lat = p
    assert check_coordinates(lon, lat, area()) == []
    errors = check_coordinates(lat, lon, area())
    assert errors and all(e.code == "swapped" for e in errors)


def test_the_buffer_is_in_metres():
    # Porte de la Chapelle is on the boundary; 300 m north of it is outside the city.
    north = (2.3595, 48.9005 + 300 / 111_320)
    assert not area(0.0).contains(*north)
    assert area(500.0).contains(*north)
    assert not area(100.0).contains(2.3595, 48.9005 + 2000 / 111_320)


# --- dates --------------------------------------------------------------------------

aware = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 30),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)),
                                                timezone(timedelta(hours=-5))]))


@MANY
@given(aware)
def test_aware_datetimes_round_trip(dt):
    parsed, err = parse_datetime(dt.isoformat(), "/starts_at")
    assert err is None and parsed == dt


@MANY
@given(st.one_of(st.text(max_size=60), st.integers(), st.floats(), st.none()))
def test_any_value_parses_or_is_refused_without_raising(value):
    parsed, err = parse_datetime(value, "/starts_at")
    assert (parsed is None) != (err is None)
    if parsed is not None:
        assert parsed.tzinfo is not None and 2000 <= parsed.year <= 2100


@pytest.mark.parametrize(("value", "code"), [
    ("2026-06-05T18:00:00", "timezone"),
    ("9999-12-31T23:59:59+00:00", "out_of_range"),
    ("0001-01-01T00:00:00+00:00", "out_of_range"),
    ("+275760-09-13T00:00:00Z", "format"),
    ("demain", "format"),
])
def test_bad_datetimes(value, code):
    assert parse_datetime(value, "/starts_at")[1].code == code


@settings(max_examples=1000, deadline=None)
@given(aware, st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)))
def test_event_dates_rules(start, length):
    end = start + length if start.year < 2100 or length <= timedelta(0) else start
    if end.year > 2100 or end.year < 2000:
        return
    result = validate(base(category="disco-soupe", starts_at=start.isoformat(),
                           ends_at=end.isoformat()))
    cfg = ValidationConfig()
    expected_ok = (end >= start and end - start <= cfg.max_event_duration
                   and end >= NOW - cfg.past_tolerance and start <= NOW + cfg.max_future)
    assert isinstance(result, Record) == expected_ok, result


def test_events_need_dates_and_places_do_not():
    errors = validate(base(category="disco-soupe"))
    assert {e.pointer for e in errors} == {"/starts_at", "/ends_at"}
    assert isinstance(validate(base()), Record)


# --- email --------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.emails())
def test_generated_emails_are_accepted_with_a_lower_case_domain(email):
    if len(email) > 254:
        return
    value, err = check_email(email)
    assert err is None
    assert value.rpartition("@")[2] == email.rpartition("@")[2].lower()


@pytest.mark.parametrize("email", ["a", "a@b", "a b@c.fr", "@c.fr", "a@@c.fr",
                                   "a@c.fr\nBcc: b@d.fr",
                                   "x" * 250 + "@c.fr", 42])
def test_bad_emails(email):
    assert check_email(email)[1] is not None


# --- the whole pipeline -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=20)
submissions = st.fixed_dictionaries({}, optional={
    "lon": st.one_of(finite, st.floats(2.25, 2.42), json_values),
    "lat": st.one_of(finite, st.floats(48.82, 48.90), json_values),
    "title": st.one_of(st.text(max_size=200), json_values),
    "description": st.one_of(st.text(max_size=50), json_values),
    "category": st.one_of(st.sampled_from(sorted(categories())), json_values),
    "starts_at": st.one_of(aware.map(datetime.isoformat), json_values),
    "ends_at": st.one_of(aware.map(datetime.isoformat), json_values),
    "email": st.one_of(st.emails(), json_values),
    "attributes": json_values,
    "extra": json_values,
})


@settings(max_examples=1000, deadline=None)
@given(st.one_of(submissions, json_values))
def test_validation_never_raises_and_returns_a_record_or_errors(data):
    result = validate(data)
    if isinstance(result, Record):
        assert 0 < len(result.title) <= 120 and len(result.description) <= 2000
        assert result.category in categories()
        assert area().contains(result.lon, result.lat)
        assert unicodedata.is_normalized("NFC", result.title)
        json.dumps(dict(result.attributes))
    else:
        assert result and all(isinstance(e, FieldError) for e in result)
        assert all(e.pointer == "" or e.pointer.startswith("/") for e in result)


@MANY
@given(st.text(min_size=1, max_size=400))
def test_text_lengths_are_counted_after_cleaning(title):
    from ingestion.text import forbidden_character, is_visible

    result = validate(base(title=title))
    cleaned = clean_text(title)
    if forbidden_character(title):  # refused, never silently removed (issue 18)
        assert [e.code for e in result] == ["forbidden_character"]
    elif not is_visible(cleaned):  # nothing a reader would see counts as empty
        assert result[0].code in ("blank", "required")
    elif len(cleaned) > 120:
        assert result[0].code == "too_long"
    else:
        assert isinstance(result, Record) and result.title == cleaned


def test_required_attributes_per_category_and_their_types():
    errors = validate(base(category="mission-benevole"))
    assert [e.pointer for e in errors] == ["/attributes/availability"]
    ok = validate(base(category="mission-benevole", attributes={
        "availability": [{"day": "sat", "from": "10:00", "to": "12:00"}], "min_age": 16,
        "audiences": ["seniors"], "accessibility": ["step_free_access"]}))
    assert isinstance(ok, Record) and ok.attributes["min_age"] == 16
    errors = validate(base(category="mission-benevole", attributes={
        "availability": [{"day": "xyz", "from": "25:00", "to": "10:00"}], "min_age": 1.5,
        "audiences": ["aliens"], "nope": 1}))
    assert {e.pointer for e in errors} == {
        "/attributes/availability/0/day", "/attributes/availability/0/from",
        "/attributes/min_age", "/attributes/audiences", "/attributes/nope"}
    kit = validate(base(category="fete-des-voisins", starts_at="2026-06-05T18:00:00+02:00",
                        ends_at="2026-06-05T23:00:00+02:00",
                        attributes={"party_kit_request": "yes"}))
    assert kit[0].pointer == "/attributes/party_kit_request"
    assert validate(base(category="pret-troc"))[0].pointer == "/attributes/offer_type"


# --- CRS ----------------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.floats(600_000, 700_000), st.floats(6_840_000, 6_880_000))
def test_lambert93_points_around_paris_transform_into_its_area(x, y):
    lon, lat = to_lonlat(x, y, "EPSG:2154")
    assert 1.0 < lon < 3.7 and 48.2 < lat < 49.5


@settings(max_examples=500, deadline=None)
@given(paris_points)
def test_wgs84_coordinates_read_as_lambert93_are_refused(p):
    err = to_lonlat(p[0], p[1], "EPSG:2154")
    assert isinstance(err, FieldError) and err.code == "crs_area"
