"""The column pre-check of bulk imports never says "ok" where the scalar validator would not.

Property: for every generated row the pre-check marks ok, ``validate_submission`` returns
a Record with exactly the title, description, position and category the pre-check gave.
And the plain rows of a real import (ASCII or French titles, a point in Paris, a place
category) are ok, so imports really take the fast path.
"""

from __future__ import annotations

import json
import math
import sys
import unicodedata
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from geo.config import data_dir
from ingestion.categories import read_categories
from ingestion.columns import CleanColumns, ColumnBatch, _clean, _clean_multiline, precheck
from ingestion.text import BIDI_CONTROLS, INVISIBLE, _keep
from ingestion.types import Record
from ingestion.validation import ServiceArea, ValidationConfig, validate_submission

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONFIG = ValidationConfig()
BATCHES = 400  # hypothesis examples: batches of 5 to 25 rows, about 3,500 rows in all


@cache
def categories():
    return {c.slug: c for c in read_categories(data_dir() / "categories.json")}


@cache
def area() -> ServiceArea:
    doc = json.loads((data_dir() / "cities" / "paris" / "arrondissements.geojson").read_text())
    outline = shapely.union_all([shape(f["geometry"]) for f in doc["features"]])
    return ServiceArea(outline, buffer_m=500.0)


@cache
def boundary_points() -> list[tuple[float, float]]:
    """Vertices of the service area: on its boundary, where "inside" is decided exactly."""
    coords = shapely.get_coordinates(area().geometry)
    return [(float(x), float(y)) for x, y in coords[:: max(1, len(coords) // 200)]]


# --- strategies -----------------------------------------------------------------------

TRICKY = ("\u00a0", "\u202f", "\u2009", "\u3000", "\t", "\n", "\r", "\r\n", "\x00", "\x07",
          "\x1f", "\x7f", "\x85", "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u200f",
          "\u061c", "\u200b", "\u200d", "\u00ad", "\ufeff", "\u2028", "\u2029", "\u0301",
          "\u0300", "\u0327", "\u0308", "\u0378", "\ue000", "\ud800", "\U0001f333",
          "\U0001f600", "\U000e0001", "\u1100\u1161", "\u0345", "\u1fb3", "\u212b", "  ")
FRENCH = "éèêëàâçùûôîïœæÉÈÀÇŒ’«»–—…"
pieces = st.one_of(
    st.text(alphabet=st.characters(codec="ascii"), max_size=12),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz " + FRENCH, max_size=12),
    st.sampled_from(TRICKY),
    st.just(" "),
    st.text(max_size=6),
    st.sampled_from([unicodedata.normalize("NFD", "Fête à l'église"), "Jardin partagé",
                     "Disco Soupe", "a" * 119, "a" * 120, "é" * 121]))
clean_pieces = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDE-'0123", max_size=12),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz " + FRENCH, max_size=12),
    st.sampled_from(["  ", " ", "Jardin partagé", "\U0001f333", "Ω", "日本"]))
texts = st.lists(pieces, max_size=6).map("".join)
clean_texts = st.lists(clean_pieces, min_size=1, max_size=4).map("".join)
line_breaks = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n\n\n\n", "\n \n", " \n\t"])
paragraphs = st.builds(
    lambda lines, breaks: "".join(map("".join, zip(lines, breaks, strict=False))),
    st.lists(clean_texts, min_size=1, max_size=4), st.lists(line_breaks, min_size=4, max_size=4))
long_texts = st.builds(lambda c, n, tail: c * n + tail, st.sampled_from(["a", "é", "e\u0301", " "]),
                       st.integers(100, 2_100), st.sampled_from(["", " ", "é", "\u202e"]))
titles = st.one_of(st.none(), st.just(""), texts, long_texts, clean_texts, st.integers(),
                   st.just(["x"]))
descriptions = st.one_of(st.none(), st.just(""), texts, long_texts, clean_texts, paragraphs,
                         st.integers())
known_slugs = st.sampled_from(sorted(categories()))
slugs = st.one_of(st.none(), st.just(""), st.just("unknown-kind"), known_slugs, st.integers(),
                  st.just(["jardin-partage"]))

lon_paris = st.floats(2.22, 2.47)
lat_paris = st.floats(48.80, 48.92)
odd = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 180.0, -180.0, 90.0, 180.5,
                       -90.5, 1e308, 5e-324])
in_paris = st.tuples(st.floats(2.28, 2.40), st.floats(48.83, 48.89))  # certainly inside
coordinates = st.one_of(
    st.tuples(lon_paris, lat_paris),                                  # around the edge
    st.tuples(lat_paris, lon_paris),                                  # swapped
    st.sampled_from(boundary_points()),                               # exactly on the edge
    st.tuples(st.floats(allow_nan=True, allow_infinity=True),
              st.floats(allow_nan=True, allow_infinity=True)),        # anything
    st.tuples(st.one_of(lon_paris, odd), st.one_of(lat_paris, odd)),  # Paris mixed with dirt
)
# A row is a plausible one (any known category, a point in or near Paris, a title of
# clean pieces) with, most of the time, one field drawn from the dirty strategies.
plausible = st.fixed_dictionaries({
    "point": in_paris, "title": clean_texts,
    "description": st.one_of(st.none(), clean_texts, paragraphs), "category": known_slugs,
    "has_other": st.just(False)})
dirty_field = {"point": coordinates, "title": titles, "description": descriptions,
               "category": slugs, "has_other": st.booleans()}
dirty = st.fixed_dictionaries(dirty_field)


def _flawed(flaw: str | None) -> st.SearchStrategy[dict]:
    if flaw is None:
        return plausible
    if flaw == "all":
        return dirty
    return st.builds(lambda row, bad: {**row, flaw: bad}, plausible, dirty_field[flaw])


rows = st.sampled_from((None, "point", "title", "description", "category", "has_other",
                        "all")).flatmap(_flawed)

configs = st.sampled_from([CONFIG, ValidationConfig(title_max=10, description_max=15)])


def as_batch(generated: list[dict]) -> ColumnBatch:
    return ColumnBatch(
        lon=np.array([r["point"][0] for r in generated], dtype=np.float64),
        lat=np.array([r["point"][1] for r in generated], dtype=np.float64),
        title=[r["title"] for r in generated],
        description=[r["description"] for r in generated],
        category=[r["category"] for r in generated],
        has_other=np.array([r["has_other"] for r in generated], dtype=bool))


def scalar(batch: ColumnBatch, i: int, *, config: ValidationConfig,
           served: ServiceArea | None) -> Record | list:
    data = {"lon": float(batch.lon[i]), "lat": float(batch.lat[i]), "title": batch.title[i],
            "description": batch.description[i], "category": batch.category[i]}
    return validate_submission(data, categories=categories(), area=served, now=NOW,
                               config=config, allow_unknown=True)


def assert_ok_rows_are_records(batch: ColumnBatch, out: CleanColumns, *,
                               config: ValidationConfig, served: ServiceArea | None) -> None:
    n = len(batch.title)
    assert out.ok.dtype == bool and out.ok.shape == (n,)
    assert len(out.title) == len(out.description) == n
    for i in range(n):
        if not out.ok[i]:
            assert out.title[i] is None and out.description[i] is None
            continue
        assert not batch.has_other[i]
        record = scalar(batch, i, config=config, served=served)
        assert isinstance(record, Record), (i, batch.title[i], record)
        assert record.title == out.title[i]
        assert record.description == out.description[i]
        assert record.category == batch.category[i]
        assert record.lon == batch.lon[i] and record.lat == batch.lat[i]
        assert record.attributes == {} and record.starts_at is None \
            and record.ends_at is None and record.email is None


# --- properties -----------------------------------------------------------------------

@settings(max_examples=BATCHES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(rows, min_size=5, max_size=25), configs, st.booleans())
def test_every_ok_row_is_a_record_with_the_same_values(generated, config, with_area):
    batch = as_batch(generated)
    served = area() if with_area else None
    out = precheck(batch, categories=categories(), area=served, config=config)
    assert_ok_rows_are_records(batch, out, config=config, served=served)
    event(f"ok rows: {out.ok.mean():.1f}")


CLEAN_PIECES = ("Jardin", " ", "  ", "partagé", "É", "Œuvre", "’", "«", "»", "\U0001f333",
                "日本", "x" * 60, "é" * 60, "")


BREAKS = ("\n", "\r\n", "\n\n\n", " ", "")


def mixed_batch(n: int, seed: int) -> ColumnBatch:
    """``n`` seeded rows of every kind at once: the same dirt as above, at volume."""
    rng = np.random.default_rng(seed)
    clean = np.array(CLEAN_PIECES, dtype=object)
    dirty = np.array(CLEAN_PIECES + TRICKY + ("e\u0301",), dtype=object)
    texts = []
    for _ in range(n):
        pool = clean if rng.random() < 0.7 else dirty
        texts.append("".join(pool[rng.integers(0, len(pool), rng.integers(0, 5))]))
    lon = rng.uniform(2.22, 2.47, n)
    lat = rng.uniform(48.80, 48.92, n)
    swap = rng.random(n) < 0.05
    lon[swap], lat[swap] = lat[swap], lon[swap]
    lon[rng.random(n) < 0.02] = math.nan
    lat[rng.random(n) < 0.02] = math.inf
    edge = rng.random(n) < 0.05
    points = np.array(boundary_points())[rng.integers(0, len(boundary_points()), int(edge.sum()))]
    lon[edge], lat[edge] = points[:, 0], points[:, 1]
    slugs = [*sorted(categories()), None, "", "unknown"]
    return ColumnBatch(
        lon=lon, lat=lat, title=texts,
        description=[None if k % 3 else texts[(k * 7) % n] + BREAKS[k % 5] + texts[k % 11]
                     for k in range(n)],
        category=[slugs[k] for k in rng.integers(0, len(slugs), n)],
        has_other=rng.random(n) < 0.1)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_seeded_batch_of_ten_thousand_mixed_rows(seed):
    batch = mixed_batch(10_000, seed)
    out = precheck(batch, categories=categories(), area=area(), config=CONFIG)
    assert 0.05 < out.ok.mean() < 0.95  # both paths are exercised
    assert_ok_rows_are_records(batch, out, config=CONFIG, served=area())


# --- the fast path applies --------------------------------------------------------------

PLAIN_TITLES = ["Jardin partagé de la Butte", "Fontaine Wallace", "Fête des voisins square",
                "Marché d'Aligre", "Œuvre collective « Vert »", "Jardin Saint-Éloi",
                "  Espace vert du Moulin  ", "Compost de quartier n°3"]


MULTILINE = "Ouvert à tous.\r\nLe samedi  matin. \n\n\n\nEntrée libre.\n"
MULTILINE_CLEANED = "Ouvert à tous.\nLe samedi matin.\n\nEntrée libre."


def plain_batch(n: int = 2_000, seed: int = 7) -> ColumnBatch:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(2.30, 2.38, n)
    lat = rng.uniform(48.84, 48.88, n)
    return ColumnBatch(lon=lon, lat=lat, title=[PLAIN_TITLES[i % 8] for i in range(n)],
                       description=[None if i % 3 else MULTILINE if i % 2 else "Ouvert à tous."
                                    for i in range(n)],
                       category=["jardin-partage" if i % 2 else "fontaine" for i in range(n)],
                       has_other=np.zeros(n, dtype=bool))


def test_plain_rows_of_an_import_are_ok_with_their_cleaned_values():
    batch = plain_batch()
    out = precheck(batch, categories=categories(), area=area(), config=CONFIG)
    assert out.ok.all()
    assert out.title[:8] == [t.strip() for t in PLAIN_TITLES]
    assert out.description[:4] == ["Ouvert à tous.", "", "", MULTILINE_CLEANED]
    assert_ok_rows_are_records(batch, out, config=CONFIG, served=area())


def test_rows_the_scalar_path_must_explain_are_not_ok():
    cats = categories()
    n = 11
    lon = np.full(n, 2.35)
    lat = np.full(n, 48.86)
    lon[0], lat[1], lon[2] = math.nan, math.inf, 48.86  # missing, infinite, swapped
    lat[2] = 2.35
    titles = ["Jardin"] * n
    titles[3], titles[4] = "\u00a0", "x" * 121                  # blank (NBSP), too long
    titles[5] = "Jardin\u202e des Plantes"                      # needs cleaning: scalar path
    slugs = ["jardin-partage"] * n
    slugs[6], slugs[7], slugs[8] = "disco-soupe", "mission-benevole", "nope"
    has_other = np.zeros(n, dtype=bool)
    has_other[9] = True
    batch = ColumnBatch(lon=lon, lat=lat, title=titles, description=[None] * n,
                        category=slugs, has_other=has_other)
    out = precheck(batch, categories=cats, area=area(), config=CONFIG)
    assert out.ok.tolist() == [False] * 10 + [True]
    # Each of the first nine really is refused by the scalar validator.
    for i in range(9):
        if i != 5:
            assert isinstance(scalar(batch, i, config=CONFIG, served=area()), list), i


def test_columns_of_different_lengths_are_refused():
    batch = ColumnBatch(lon=np.zeros(2), lat=np.zeros(2), title=["a"], description=[None],
                        category=["fontaine"], has_other=np.zeros(1, dtype=bool))
    with pytest.raises(ValueError, match="same length"):
        precheck(batch, categories=categories(), area=None, config=CONFIG)


def test_printable_means_untouched_by_clean_text_for_every_code_point():
    # The pre-check trusts str.isprintable(): every printable character but the space is
    # kept by clean_text and is not whitespace (so neither stripped nor collapsed), except
    # the few invisible ones clean_text removes, which the pre-check sends to the scalar
    # path.
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if ch.isprintable() and ch != " ":
            assert not ch.isspace() and ch not in BIDI_CONTROLS, hex(cp)
            if ch in INVISIBLE:
                assert _clean(f"a{ch}b", 10) is None, hex(cp)
                assert _clean_multiline(f"a{ch}b", 10) is None, hex(cp)
            else:
                assert _keep(ch, False) and _keep(ch, True), hex(cp)
