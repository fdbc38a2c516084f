"""Per-point decisions: nested, even and truthful thinning; clusters that add up."""

from __future__ import annotations

import numpy as np
import pytest

from tiles.options import TileOptions
from tiles.points import PointSet, deinterleave, interleave
from tiles.pyramid import plan, render, zoom_layout
from tiles.thinning import cluster_levels, drop_minzoom


def make_points(n, *, seed=1, max_zoom=14, hotspot=False):
    rng = np.random.default_rng(seed)
    if hotspot:
        lon = rng.normal(2.3488, 0.004, n)
        lat = rng.normal(48.8534, 0.003, n)
    else:
        lon, lat = rng.uniform(2.25, 2.42, n), rng.uniform(48.82, 48.90, n)
    return PointSet.from_arrays(ids=np.arange(1, n + 1), lon=lon, lat=lat,
                                cat=rng.integers(0, 3, n), titles=[f"p{i}" for i in range(n)],
                                categories=["a", "b", "c"], max_zoom=max_zoom)


def test_morton_code_round_trips():
    x = np.array([0, 1, 2**28 - 1, 123456789 % 2**28])
    y = np.array([0, 2**28 - 1, 5, 987654321 % 2**28])
    assert [a.tolist() for a in deinterleave(interleave(x, y))] == [x.tolist(), y.tolist()]


def test_drop_is_nested_and_keeps_one_in_2_5_per_zoom():
    pts = make_points(200_000)
    minzoom, factors = drop_minzoom(pts, rate=2.5, cap=10**9)
    assert factors == {}
    counts = [int((minzoom <= z).sum()) for z in range(15)]
    assert counts[14] == 200_000
    for z in range(6, 14):  # where tiles hold enough points for the rate to show
        assert counts[z] == pytest.approx(200_000 / 2.5 ** (14 - z), rel=0.10), z
    # Nested: kept at z means kept at every deeper zoom (minzoom is one number per point).
    assert all(counts[z] <= counts[z + 1] for z in range(14))


def test_drop_is_spatially_even():
    pts = make_points(200_000)
    minzoom, _ = drop_minzoom(pts, rate=2.5, cap=10**9)
    kept = minzoom <= 9  # ~1/98 of the points
    # Compare counts in a 4x4 grid of the area: no cell starved, none crowded.
    gx, gy = pts.gx, pts.gy
    cx = np.digitize(gx, np.quantile(gx, [0.25, 0.5, 0.75]))
    cy = np.digitize(gy, np.quantile(gy, [0.25, 0.5, 0.75]))
    cells = np.bincount(cx[kept] * 4 + cy[kept], minlength=16)
    assert cells.min() > 0.6 * cells.mean() and cells.max() < 1.4 * cells.mean()


def test_a_dense_zoom_is_thinned_as_a_whole_under_the_cap():
    pts = make_points(60_000, hotspot=True)
    minzoom, factors = drop_minzoom(pts, rate=2.5, cap=5_000)
    assert 14 in factors  # the deepest zoom had to be thinned too
    for z in range(15):
        tiles = pts.morton[minzoom <= z] >> np.uint64(2 * (14 - z + 12))
        assert np.unique(tiles, return_counts=True)[1].max() <= 5_000


def test_clusters_account_for_every_point_at_every_zoom():
    pts = make_points(50_000, hotspot=True)
    levels = cluster_levels(pts, cell=128, cap=10**9)
    assert levels[14] is None  # the deepest zoom shows the points themselves
    cats = np.bincount(pts.cat, minlength=3)
    for z in range(14):
        level = levels[z]
        assert level.count.sum() == 50_000
        assert level.cats.sum(axis=0).tolist() == cats.tolist()
        mx, my = level.mean_xy()
        # The mean position lies in the cluster's own cell.
        cell_bits = 2 * (14 - z + 12 - 5)
        assert (interleave(mx, my) >> np.uint64(cell_bits) == level.key).all()
    assert len(levels[0].key) <= 32 * 32


def test_one_point_per_tile_at_most_once_at_max_zoom_apart_from_buffers():
    pts = make_points(20_000, max_zoom=12)
    p = plan(pts, TileOptions(max_zoom=12, mode="drop", processes=1))
    lay = zoom_layout(p, 12)
    inside = (lay.pt_x >= 0) & (lay.pt_x < 4096) & (lay.pt_y >= 0) & (lay.pt_y < 4096)
    assert sorted(pts.ids[lay.pt_idx[inside]]) == sorted(pts.ids)
    buffered = ~inside
    assert ((lay.pt_x[buffered] >= -64) & (lay.pt_x[buffered] < 4096 + 64)).all()


def test_no_tile_over_the_byte_limit():
    from tiles.build import render_checked

    pts = make_points(120_000, hotspot=True, max_zoom=14)
    options = TileOptions(max_zoom=14, mode="drop", max_tile_bytes=100_000, processes=1)
    _, tiles = render_checked(pts, options)
    assert max(len(t.data) for t in tiles) <= 100_000
    assert sum(t.features for t in tiles if t.z == 14) < 120_000
    assert len(list(render(plan(pts, TileOptions(max_zoom=14, mode="cluster",
                                                 processes=1))))) > 15
