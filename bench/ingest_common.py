"""Shared set-up of the ingestion benchmarks: a throwaway cluster, migrated, with data."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo import migrate
from geo.areas import city_outline, load_areas
from geo.city import load_city
from geo.config import data_dir
from geo.embedded import EmbeddedPostgres
from ingestion.categories import load_categories, read_categories


@contextmanager
def cluster(durable: bool = True) -> Iterator[tuple[str, Path]]:
    """A fresh cluster (durable: fsync on, as in production), migrated and loaded."""
    # A killed benchmark must still stop its cluster: SIGTERM unwinds like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="carte-ingest-bench-", dir="/tmp"))
    root.chmod(0o755)
    settings = None if durable else {"fsync": "off", "synchronous_commit": "off"}
    pg = EmbeddedPostgres(root / "pg", settings=settings)
    pg.up()
    try:
        engine = create_engine(pg.url)
        migrate.upgrade(engine)
        with Session(engine) as s, s.begin():
            load_areas(s, load_city("paris"))
            load_categories(s, read_categories(data_dir() / "categories.json"))
        engine.dispose()
        yield pg.url, root
    finally:
        pg.down()
        shutil.rmtree(root, ignore_errors=True)


def paris_points(n: int, *, seed: int = 42, url: str) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random points inside the city (seeded)."""
    engine = create_engine(url)
    with Session(engine) as s:
        outline = city_outline(s)
    engine.dispose()
    shapely.prepare(outline)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = outline.bounds
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    have = 0
    while have < n:
        x = rng.uniform(minx, maxx, 2 * n)
        y = rng.uniform(miny, maxy, 2 * n)
        inside = shapely.contains_xy(outline, x, y)
        lons.append(x[inside])
        lats.append(y[inside])
        have += int(inside.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]
