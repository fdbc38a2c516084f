"""Incremental rebuilds from the tile_dirty queue: fast, consistent, never colliding."""

from __future__ import annotations

import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mapbox_vector_tile
import pyogrio.raw
import pytest
from pmtiles.reader import MmapSource
from pmtiles.reader import Reader as PMTilesReader
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature, revise_feature
from geo.tilemath import lonlat_to_tile
from tests.tiles_fixtures import CATEGORIES, insert_features
from tiles.build import build_full, build_incremental
from tiles.options import TileOptions

SPOT = (2.3522, 48.8566)


def _tiles(path: Path) -> dict[tuple[int, int, int], dict]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
        return {(z, x, (1 << z) - 1 - r): mapbox_vector_tile.decode(gzip.decompress(d))
                for z, x, r, d in rows}


def _ids(tile: dict) -> set[int]:
    return {f["id"] for f in tile["features"]["features"] if "cluster" not in f["properties"]}


def _publish(engine, title="Disco Soupe du marché", lonlat=SPOT) -> int:
    with Session(engine) as session, session.begin():
        feature = publish_feature(session, FeatureDraft(
            category=CATEGORIES[1], title=title, lon=lonlat[0], lat=lonlat[1]))
        return feature.id


@pytest.mark.parametrize("mode", ["drop", "cluster"])
def test_approval_reaches_the_archive_and_matches_a_full_build(clean_db, var_dir, tmp_path,
                                                                mode):
    options = TileOptions(max_zoom=12, mode=mode)
    insert_features(clean_db, 3000)
    build_full(clean_db, var_dir, options, density=False)
    path = var_dir / "tiles" / "features.mbtiles"
    before = _tiles(path)
    new_id = _publish(clean_db)
    report = build_incremental(clean_db, var_dir, options)
    assert report.kind == "incremental" and report.dirty == 17  # z0..z16 column
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tile_dirty")).scalar_one() == 0
    after = _tiles(path)
    x, y = lonlat_to_tile(*SPOT, 12)
    assert new_id in _ids(after[(12, int(x), int(y))])
    # Same tiles as building everything again: the column is consistent with the rest.
    other = tmp_path / "full"
    other.mkdir()
    build_full(clean_db, other, options, density=False)
    assert after == _tiles(other / "tiles" / "features.mbtiles")
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed and all(abs(k[1] - int(x) // (1 << (12 - k[0]))) <= 1 for k in changed)
    # The PMTiles snapshot followed.
    with open(var_dir / "tiles" / "features.pmtiles", "rb") as f:
        reader = PMTilesReader(MmapSource(f))
        data = reader.get(12, int(x), int(y))
    assert new_id in _ids(mapbox_vector_tile.decode(gzip.decompress(data)))


def test_unpublishing_removes_the_feature(clean_db, var_dir):
    options = TileOptions(max_zoom=10, mode="drop")
    new_id = _publish(clean_db)
    build_full(clean_db, var_dir, options, density=False)
    with Session(clean_db) as session, session.begin():
        revise_feature(session, new_id, {"status": "unpublished"}, expected_version=1,
                       action="unpublish")
    report = build_incremental(clean_db, var_dir, options)
    assert report.removed >= 11  # its only tile at every zoom is now empty
    assert _tiles(var_dir / "tiles" / "features.mbtiles") == {}


def test_two_builders_never_take_the_same_rows(clean_db, var_dir, engine):
    options = TileOptions(max_zoom=12, mode="cluster")
    insert_features(clean_db, 200)
    build_full(clean_db, var_dir, options, density=False)
    _publish(clean_db)
    _publish(clean_db, lonlat=(2.2950, 48.8738))
    with engine.connect() as other:
        # Another builder holds the z0..z5 rows (shared by both points) in its transaction.
        held = other.execute(text(
            "SELECT z, x, y FROM tile_dirty WHERE z <= 5 FOR UPDATE")).all()
        report = build_incremental(clean_db, var_dir, options)
        with clean_db.connect() as conn:
            left = conn.execute(text("SELECT z, x, y FROM tile_dirty")).all()
        other.rollback()
    assert sorted(left) == sorted(held)
    assert report.dirty > 0 and report.dirty + len(held) >= 17


def test_cli_build_and_watch(clean_db, runner, var_dir):
    from webmap.cli import main

    insert_features(clean_db, 100)
    result = runner.invoke(main, ["tiles", "build", "--full", "--max-zoom", "10"])
    assert result.exit_code == 0, result.output
    assert '"kind": "full"' in result.output and '"points": 100' in result.output
    result = runner.invoke(main, ["tiles", "build", "--max-zoom", "10"])
    assert result.exit_code == 0 and '"dirty": 0' in result.output
    _publish(clean_db)
    result = runner.invoke(main, ["tiles", "watch", "--once", "--max-zoom", "10",
                                  "--interval", "0.05"])
    assert result.exit_code == 0, result.output
    assert '"kind": "incremental"' in result.output and '"points": 101' in result.output
    bad = runner.invoke(main, ["tiles", "build", "--max-zoom", "30"])
    assert bad.exit_code == 2 and "30" in bad.output


def test_sigkill_at_any_moment_leaves_whole_archives(clean_db, cli_env, var_dir):
    insert_features(clean_db, 30_000)
    env = {**os.environ, **cli_env}
    args = [str(Path(sys.executable).with_name("carte")), "tiles", "build", "--full",
            "--max-zoom", "14", "--mode", "drop"]
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=120)
    tiles = var_dir / "tiles"

    def whole() -> tuple[int, int]:
        with sqlite3.connect(f"file:{tiles / 'features.mbtiles'}?mode=ro", uri=True) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            n = db.execute("SELECT count(*) FROM tiles").fetchone()[0]
        _, _, geometry, _ = pyogrio.raw.read(str(tiles / "features.pmtiles"),
                                             layer="features")
        return n, len(geometry)

    reference = whole()
    assert reference[1] == 30_000
    started = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    proc.wait(timeout=120)
    duration = time.monotonic() - started
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.85, 0.95):
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(duration * fraction)
        os.killpg(proc.pid, signal.SIGKILL)  # the builder and its forked workers
        proc.wait(timeout=30)
        assert whole() == reference, f"killed at {fraction:.0%}"
    leftovers = [p.name for p in tiles.iterdir() if p.name.endswith(".tmp")]
    # A killed build may leave its temporary file behind; the next build removes its own.
    assert all(name.startswith(".") for name in leftovers)
