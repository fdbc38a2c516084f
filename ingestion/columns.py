"""A vectorised pre-check of whole import batches: which rows are *certainly* valid.

Bulk imports validate every row with :func:`ingestion.validation.validate_submission`,
about 30 µs a row in Python. Most rows of a partner's file are plain (an ASCII or French
title, no description, a point in the city, a category that needs no dates or
attributes), and for those the answer can be computed a whole column at a time.
:func:`precheck` does that and marks each row ``ok`` only when it is sure; every other
row keeps the scalar path and its exact error message.

The guarantee, checked by hypothesis properties in ``tests/unit/test_import_columns.py``:
``ok[i]`` implies ``validate_submission({"lon": lon[i], "lat": lat[i], "title":
title[i], "description": description[i], "category": category[i]}, ...)`` returns a
:class:`~ingestion.types.Record` whose title, description, lon, lat and category are
the ones returned here (attributes empty, no dates, no email). When in doubt the
answer is ``False``: being conservative only costs speed, never correctness.

Pure: no database, no Flask, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely

from .categories import CategorySpec
from .text import INVISIBLE, is_visible
from .validation import ServiceArea, ValidationConfig

__all__ = ["CleanColumns", "ColumnBatch", "precheck"]


@dataclass(frozen=True)
class ColumnBatch:
    """One batch of rows as columns, in file order.

    ``lon``/``lat`` are float64 (NaN where missing) already in WGS84; ``has_other``
    marks rows carrying dates, an email or attribute values, which only the scalar
    validator checks.
    """

    lon: np.ndarray
    lat: np.ndarray
    title: list[str | None]
    description: list[str | None]
    category: list[str | None]
    has_other: np.ndarray


@dataclass(frozen=True)
class CleanColumns:
    """The pre-check's answer: ``ok`` rows and their normalised text.

    ``title`` and ``description`` hold, where ``ok``, exactly what the scalar validator
    would store (``description`` is ``""`` when the row has none, as in
    :class:`~ingestion.types.Record`), and ``None`` elsewhere.
    """

    ok: np.ndarray
    title: list[str | None]
    description: list[str | None]


def _clean(value: object, limit: int) -> str | None:
    """``clean_text(value)`` when it is certain and fits ``limit``, else None.

    Valid for single-line and multi-line cleaning alike. ``str.isprintable`` is false
    for every character ``clean_text`` removes or rewrites (controls, format
    characters such as the bidi overrides, surrogates, private use, unassigned code
    points, line and paragraph separators, every space but U+0020), so a printable
    NFC string only has its runs of spaces collapsed and its ends stripped.
    Format characters clean_text keeps (soft hyphen, zero-width joiner) are not
    printable either: those rows take the scalar path, which is merely slower.
    """
    if value.__class__ is not str:
        return None
    text: str = value  # type: ignore[assignment]
    if not text.isprintable():
        return None
    # The only whitespace left is U+0020: clean_text collapses its runs and strips it.
    out = " ".join(text.split()) if "  " in text else text.strip()
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text) or _PRINTABLE_INVISIBLE.search(text):
            return None
        # clean_text normalises again after removing spaces: be sure that is a no-op.
        if len(out) != len(text) and not unicodedata.is_normalized("NFC", out):
            return None
    return out if len(out) <= limit else None


_MANY_BLANK_LINES = re.compile(r"\n{3,}")  # as in ingestion.text
# Invisible characters clean_text removes although str.isprintable() calls them printable
# (the combining grapheme joiner, the Hangul fillers): their rows take the scalar path.
_PRINTABLE_INVISIBLE = re.compile(
    "[" + "".join(sorted(ch for ch in INVISIBLE if ch.isprintable())) + "]")


def _clean_multiline(value: object, limit: int) -> str | None:
    r"""``clean_text(value, multiline=True)`` when it is certain and fits ``limit``, else None.

    Line breaks (``\r\n``, ``\r``, ``\n``) are kept, at most one blank line in a
    row; each line must be printable (no tab, no control...) and is cleaned as in
    :func:`_clean`.
    """
    if value.__class__ is not str:
        return None
    text: str = value  # type: ignore[assignment]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if not all(line.isprintable() for line in lines):
        return None
    ascii_only = text.isascii()
    if not ascii_only and (not unicodedata.is_normalized("NFC", text)
                           or _PRINTABLE_INVISIBLE.search(text)):
        return None
    joined = "\n".join([" ".join(line.split()) for line in lines])
    if "\n\n\n" in joined:
        joined = _MANY_BLANK_LINES.sub("\n\n", joined)
    # clean_text normalises again after removing spaces: be sure that is a no-op.
    if not ascii_only and not unicodedata.is_normalized("NFC", joined):
        return None
    out = joined.strip()
    return out if len(out) <= limit else None


def _category_ok(categories: Mapping[str, CategorySpec]) -> dict[str, bool]:
    """Per slug, whether a row with no dates, attributes or email can pass.

    Events need dates, and some categories need attributes: their rows are never ok.
    """
    out: dict[str, bool] = {}
    for slug, spec in categories.items():
        out[slug] = (isinstance(slug, str) and slug != "" and spec.slug == slug
                     and not spec.needs_dates and not any(f.required for f in spec.fields))
    return out


def _coordinates_ok(lon: np.ndarray, lat: np.ndarray, area: ServiceArea | None) -> np.ndarray:
    """Finite, in range, and inside the service area exactly as ``ServiceArea.contains``."""
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(lon) & np.isfinite(lat) & (lon >= -180.0) & (lon <= 180.0)
              & (lat >= -90.0) & (lat <= 90.0))
        if area is not None:
            minx, miny, maxx, maxy = area.bounds
            ok &= (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
            idx = np.flatnonzero(ok)
            if idx.size:
                ok[idx] = shapely.intersects_xy(area.geometry, lon[idx], lat[idx])
    return ok


def precheck(batch: ColumnBatch, *, categories: Mapping[str, CategorySpec],
             area: ServiceArea | None, config: ValidationConfig) -> CleanColumns:
    """Decide for a whole batch which rows are certainly valid, and their normalised text.

    Parameters
    ----------
    batch
        The rows as columns.
    categories
        Active categories by slug, as given to ``validate_submission``.
    area
        The service area (``None``: no area check, as in ``validate_submission``).
    config
        The validation limits (title and description lengths).

    Returns
    -------
    CleanColumns
        ``ok[i]`` means ``validate_submission`` would return a Record with these
        values; ``False`` means "take the scalar path" (the row may still be valid).

    Raises
    ------
    ValueError
        The columns do not all have the same length.
    """
    lon = np.asarray(batch.lon, dtype=np.float64)
    lat = np.asarray(batch.lat, dtype=np.float64)
    has_other = np.asarray(batch.has_other, dtype=bool)
    n = len(batch.title)
    if not (lon.shape == lat.shape == has_other.shape == (n,)
            and len(batch.description) == len(batch.category) == n):
        raise ValueError("precheck: every column of the batch must have the same length")
    ok = _coordinates_ok(lon, lat, area) & ~has_other
    by_slug = _category_ok(categories)
    ok &= np.fromiter((c.__class__ is str and by_slug.get(c, False)  # type: ignore[arg-type]
                       for c in batch.category), dtype=bool, count=n)
    title_max, description_max = config.title_max, config.description_max
    titles: list[str | None] = [None] * n
    descriptions: list[str | None] = [None] * n
    in_titles, in_descriptions = batch.title, batch.description
    for i in np.flatnonzero(ok).tolist():
        raw = in_titles[i]
        # Inlined clean_text fast path (printable ASCII, no double space), else _clean.
        if raw.__class__ is str and raw.isascii() and raw.isprintable() and "  " not in raw:
            title = raw.strip()
            if len(title) > title_max:
                title = None
        else:
            title = _clean(raw, title_max)
            if title and not is_visible(title):  # e.g. only combining marks: blank
                title = None
        if not title:  # None (not certain) or "" (blank: refused)
            ok[i] = False
            continue
        raw = in_descriptions[i]
        if raw is None or (raw.__class__ is str and raw == ""):
            description: str | None = ""
        else:
            description = _clean_multiline(raw, description_max)
            if description is None:
                ok[i] = False
                continue
        titles[i], descriptions[i] = title, description
    return CleanColumns(ok=ok, title=titles, description=descriptions)
