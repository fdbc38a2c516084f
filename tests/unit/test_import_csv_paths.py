"""The fast CSV split (pyarrow) reads exactly the rows the csv-module path reads."""

from __future__ import annotations

import gzip
import math
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st

from geo.config import data_dir
from ingestion.readers import _csv_rows, csv_columns, csv_columns_rows


def same_rows(a, b) -> bool:
    def norm(r):
        return (r.number, r.raw, r.props, None if r.x is None or math.isnan(r.x) else r.x,
                None if r.y is None or math.isnan(r.y) else r.y, r.geom_error,
                r.x is not None and math.isnan(r.x), r.y is not None and math.isnan(r.y))
    return [norm(r) for r in a] == [norm(r) for r in b]


def both(data: bytes, *, prefer_xy: bool = False):
    cols = csv_columns(data)
    text = data.decode("utf-8")
    slow = list(_csv_rows(text, prefer_xy=prefer_xy))
    fast = None if cols is None else list(csv_columns_rows(cols, prefer_xy=prefer_xy))
    return fast, slow


CELL = st.one_of(st.text(alphabet=list("ab é1.2,;-\t\\ \u00a0\u2003\x1f#"), max_size=8),
                 st.sampled_from(["48.85", "2.35", "", " ", "nan", "1e3", "POINT(2 48)"]))


@settings(max_examples=1500, deadline=None)
@given(header=st.lists(st.sampled_from(["id", "title", "lon", "lat", "x", "y", "nom", "wkt",
                                        "description", "category"]),
                       min_size=1, max_size=5, unique=True),
       rows=st.lists(st.lists(CELL, min_size=0, max_size=6), max_size=8),
       sep=st.sampled_from([",", ";"]), bom=st.booleans(), tail=st.booleans(),
       prefer_xy=st.booleans())
def test_fast_split_gives_the_csv_module_rows(header, rows, sep, bom, tail, prefer_xy):
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in rows) + ("\n" if tail else "")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    fast, slow = both(data, prefer_xy=prefer_xy)
    if fast is not None:
        assert same_rows(fast, slow)


def test_files_with_quotes_or_other_line_breaks_take_the_csv_module_path():
    assert csv_columns(b'id,title\n1,"a, b"\n') is None
    assert csv_columns(b"id,title\r\n1,a\r\n") is None
    assert csv_columns(b"id,title\n1,a\xe2\x80\xa8b\n") is None
    assert csv_columns(b"id,id\n1,2\n") is None  # a repeated column name
    assert csv_columns(b"id,title\n1,\xff\n") is None  # not UTF-8
    cols = csv_columns(b"id,title,lon,lat\np1,A,2.35,48.85\n\n  \np2,B,2.36\n")
    assert cols is not None and cols.numbers.tolist() == [1, 2]


def test_the_real_paris_csv_files_read_the_same_both_ways():
    checked = 0
    for path in sorted((data_dir() / "cities" / "paris").iterdir()):
        if path.is_dir():  # basemap/: layers for the tile builder, not imports
            continue
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        elif path.name.endswith(".zip"):
            import io

            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                raw = z.read(z.namelist()[0])
        elif not path.name.endswith(".csv"):
            continue
        for prefer_xy in (False, True):
            fast, slow = both(raw, prefer_xy=prefer_xy)
            assert slow
            if fast is not None:
                assert same_rows(fast, slow)
                checked += 1
    assert checked >= 2  # the addresses file at least takes the fast path, both ways
