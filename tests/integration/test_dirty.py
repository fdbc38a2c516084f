from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.dirty import mark_points_dirty
from geo.tilemath import tiles_for_point


def test_marking_queues_the_whole_column_once(clean_db):
    with Session(clean_db) as s, s.begin():
        assert mark_points_dirty(s, [(2.3499, 48.8530)], max_zoom=14) == 15
        # Same point again (and a near one sharing the low zooms): no duplicates.
        mark_points_dirty(s, [(2.3499, 48.8530), (2.3500, 48.8531)], max_zoom=14)
    with clean_db.connect() as conn:
        rows = set(conn.execute(text("SELECT z, x, y FROM tile_dirty")).all())
    expected = set(tiles_for_point(2.3499, 48.8530, max_zoom=14)) | \
        set(tiles_for_point(2.3500, 48.8531, max_zoom=14))
    assert rows == {tuple(t) for t in expected}
