"""Query parameters of the public feature APIs: typed values or a 400 naming the parameter."""

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.events import local_midnight, next_local_midnight
from opendata.exports import neutralise_cell
from webmap.ogc.params import (
    BadParameter,
    parse_bbox,
    parse_datetime,
    parse_days,
    parse_feature_id,
    parse_hours,
    parse_int,
    parse_lonlat,
    parse_window,
)


@given(st.text(max_size=40))
def test_bbox_never_raises_anything_but_bad_parameter(raw):
    try:
        box = parse_bbox(raw, allow_3d=True)
    except BadParameter as exc:
        assert exc.name == "bbox"
    else:
        w, s, e, n = box
        assert all(math.isfinite(v) for v in box) and w <= e and s <= n


@given(st.floats(-180, 180), st.floats(-90, 90), st.floats(0, 10), st.floats(0, 10))
def test_valid_boxes_round_trip(w, s, dw, dh):
    e, n = min(180.0, w + dw), min(90.0, s + dh)
    assert parse_bbox(f"{w!r},{s!r},{e!r},{n!r}") == (w, s, e, n)


@pytest.mark.parametrize("raw", ["NaN,1,2,3", "1,2,3,inf", "0x1,2,3,4", "1_0,2,30,40",
                                 "1,2,3", "3,2,1,4", "1,4,3,2", "1,2,3,4,5,6"])
def test_bad_boxes(raw):
    with pytest.raises(BadParameter):
        parse_bbox(raw)


def test_six_numbers_only_where_allowed():
    assert parse_bbox("1,2,0,3,4,10", allow_3d=True) == (1, 2, 3, 4)
    with pytest.raises(BadParameter, match="height"):
        parse_bbox("1,2,10,3,4,0", allow_3d=True)


@given(st.text(max_size=30))
def test_ids_and_ints_are_bounded(raw):
    try:
        value = parse_feature_id(raw)
    except BadParameter:
        pass
    else:
        assert 1 <= value < 2**63
    try:
        value = parse_int(raw, name="limit", default=1, minimum=1, maximum=10_000)
    except BadParameter:
        pass
    else:
        assert 1 <= value <= 10_000


def test_datetime_instants_dates_and_intervals():
    day = parse_datetime("2026-05-29")
    assert day.start == datetime(2026, 5, 29, tzinfo=UTC)
    assert day.end.date() == day.start.date() and day.end.hour == 23
    assert parse_datetime("../2026-05-29T10:00:00+02:00").end == datetime(
        2026, 5, 29, 8, tzinfo=UTC)
    assert parse_datetime("2026-05-29T10:00:00Z/").end is None
    assert parse_datetime("../..") is None
    for bad in ("2026-06-01/2026-05-01", "tomorrow", "1/2/3", "2026-02-30"):
        with pytest.raises(BadParameter):
            parse_datetime(bad)


@pytest.mark.parametrize(("cell", "out"), [
    ("=SUM(A1)", "'=SUM(A1)"), ("+33", "'+33"), ("-2", "'-2"), ("@x", "'@x"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("jardin", "jardin"), ("", ""), ("a=b", "a=b")])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell, out):
    assert neutralise_cell(cell) == out


# --- the map's filter parameters (TEAM.md "Filter parameters") ---------------------------

PARIS = ZoneInfo("Europe/Paris")


def test_bare_dates_of_the_window_are_whole_days_in_the_citys_zone():
    # Summer time: Paris is UTC+2, the day of 13 June runs from 22:00Z on the 12th.
    start, end = parse_window("2026-06-13", "2026-06-13", zone=PARIS)
    assert start == datetime(2026, 6, 12, 22, tzinfo=UTC)
    assert end == datetime(2026, 6, 13, 21, 59, 59, 999999, tzinfo=UTC)
    # The last Sunday of October has 25 hours.
    start, end = parse_window("2026-10-25", "2026-10-25", zone=PARIS)
    assert end - start == timedelta(hours=25, microseconds=-1)
    assert parse_window(None, None, zone=PARIS) is None
    assert parse_window("2026-06-13T10:00:00Z", None, zone=PARIS) == (
        datetime(2026, 6, 13, 10, tzinfo=UTC), None)


@pytest.mark.parametrize(("raw_from", "raw_to", "name"), [
    ("9999-12-31T23:59:59-14:00", None, "from"),
    (None, "9999-12-31", "to"),
    ("0001-01-01T00:00:00+14:00", None, "from"),
    ("2026-06-14", "2026-06-13", "to"),
    ("2026-06-13\x00", None, "from"),
    ("nan", None, "from"),
    ("2026-06-13T25:00:00Z", None, "from"),
])
def test_bad_windows_name_their_parameter(raw_from, raw_to, name):
    with pytest.raises(BadParameter) as info:
        parse_window(raw_from, raw_to, zone=PARIS)
    assert info.value.name == name


def test_days_hours_and_points():
    assert parse_days("sun,mon,sun") == ("mon", "sun")
    assert parse_hours("09:00-24:00") == ("09:00", "24:00")
    assert parse_lonlat("2.35,48.85", name="near") == (2.35, 48.85)
    for bad in ("18:00-09:00", "9:00-10:00", "09:00-09:00", "09:60-10:00", ""):
        with pytest.raises(BadParameter):
            parse_hours(bad)
    for bad in ("monday", "mon,", "lun"):
        with pytest.raises(BadParameter):
            parse_days(bad)
    for bad in ("nan,48", "2.35", "2.35,48.85,3", "181,0", "0,-91", "0x1,2"):
        with pytest.raises(BadParameter):
            parse_lonlat(bad, name="near")


def test_local_midnights_around_the_clock_change():
    moment = datetime(2026, 3, 29, 12, tzinfo=UTC)  # the 23-hour day
    assert local_midnight(moment, PARIS) == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert next_local_midnight(moment, PARIS) == datetime(2026, 3, 29, 22, tzinfo=UTC)
