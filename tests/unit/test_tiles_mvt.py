"""Our MVT encoder, checked against mapbox-vector-tile as the decoding oracle."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tiles.mvt import LayerSchema, abbreviate, encode_varints, pb_varint

CATS = ("jardin", "disco-soupe", "fête")


def _encode(points, clusters=()):
    """points: (tile, id, cat, x, y, title); clusters: (tile, x, y, count, cats)."""
    points = sorted(points, key=lambda p: p[0])
    clusters = sorted(clusters, key=lambda c: c[0])
    titles = [p[5].encode() for p in points]
    lens = np.array([len(t) for t in titles], dtype=np.int64)
    blob = np.frombuffer(b"".join(titles), dtype=np.uint8)
    schema = LayerSchema(CATS)
    return schema.encode(
        pt_tile=np.array([p[0] for p in points], dtype=np.int64),
        pt_ids=np.array([p[1] for p in points], dtype=np.int64),
        pt_cat=np.array([p[2] for p in points], dtype=np.int16),
        pt_x=np.array([p[3] for p in points], dtype=np.int64),
        pt_y=np.array([p[4] for p in points], dtype=np.int64),
        titles=blob, title_start=np.cumsum(lens) - lens, title_len=lens,
        cl_tile=np.array([c[0] for c in clusters], dtype=np.int64),
        cl_x=np.array([c[1] for c in clusters], dtype=np.int64),
        cl_y=np.array([c[2] for c in clusters], dtype=np.int64),
        cl_count=np.array([c[3] for c in clusters], dtype=np.int64),
        cl_cats=np.array([c[4] for c in clusters], dtype=np.int32).reshape(-1, len(CATS)))


point = st.tuples(st.integers(0, 3), st.integers(1, 2**53), st.integers(0, 2),
                  st.integers(-64, 4159), st.integers(-64, 4159), st.text(max_size=40))
cluster = st.tuples(st.integers(0, 3), st.integers(-64, 4159), st.integers(-64, 4159),
                    st.lists(st.integers(0, 10**6), min_size=3, max_size=3))


@settings(max_examples=60, deadline=None)
@given(st.lists(point, max_size=40), st.lists(cluster, max_size=10))
def test_every_feature_decodes_as_written(points, clusters):
    clusters = [(t, x, y, max(2, sum(c)), c) for t, x, y, c in clusters]
    tiles = _encode(points, clusters)
    assert set(tiles) == {p[0] for p in points} | {c[0] for c in clusters}
    for key, data in tiles.items():
        layer = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
        layer = layer["features"]
        assert layer["extent"] == 4096
        got_points = sorted((f["id"], CATS.index(f["properties"]["category"]),
                             *f["geometry"]["coordinates"], f["properties"]["title"])
                            for f in layer["features"] if "cluster" not in f["properties"])
        want = sorted((p[1], p[2], p[3], p[4], p[5]) for p in points if p[0] == key)
        assert got_points == want
        for f in layer["features"]:
            if "cluster" not in f["properties"]:
                assert f["properties"]["id"] == f["id"]
        got_clusters = sorted(
            (*f["geometry"]["coordinates"], f["properties"]["point_count"],
             f["properties"]["point_count_abbreviated"],
             tuple(f["properties"].get(f"count_{c}", 0) for c in CATS))
            for f in layer["features"] if f["properties"].get("cluster") is True)
        want_clusters = sorted((c[1], c[2], c[3], abbreviate(c[3]), tuple(c[4]))
                               for c in clusters if c[0] == key)
        assert got_clusters == want_clusters


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=30))
def test_vectorised_varints_match_the_scalar_encoder(values):
    data, rows = encode_varints(np.array([values], dtype=np.uint64))
    assert data.tobytes() == b"".join(pb_varint(v) for v in values)
    assert rows.tolist() == [len(data)]


def test_abbreviations_follow_supercluster():
    assert [abbreviate(n) for n in (7, 999, 1000, 1234, 9999, 12_345, 1_500_000)] == \
        ["7", "999", "1k", "1.2k", "10k", "12k", "1.5M"]
