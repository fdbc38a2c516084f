"""Query parameters of the public feature APIs: typed values or a 400 naming the parameter."""

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmap.exports import neutralise_cell
from webmap.ogc_params import (
    BadParameter,
    parse_bbox,
    parse_datetime,
    parse_feature_id,
    parse_int,
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
