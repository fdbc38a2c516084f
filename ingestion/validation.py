"""The validation pipeline: pure functions from a parsed submission to a record or errors.

No database, no Flask, no clock read inside: categories, the service area and ``now``
are passed in, so the same rules run for the JSON API, the HTML form and file imports,
and tests can drive them with thousands of generated examples.

Every rule reports *all* the fields it refuses, each under a JSON pointer
(``/lat``, ``/attributes/availability/0/from``), so a resident fixes everything at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from .categories import CategorySpec, FieldSpec
from .errors import CrsError
from .hours import parse_hours
from .text import clean_text, forbidden_character, is_visible
from .types import FieldError, Record

__all__ = [
    "KNOWN_KEYS",
    "ServiceArea",
    "ValidationConfig",
    "check_characters",
    "check_coordinates",
    "check_email",
    "parse_datetime",
    "to_lonlat",
    "validate_submission",
]

KNOWN_KEYS = frozenset({"lon", "lat", "title", "description", "category", "starts_at",
                        "ends_at", "email", "attributes", "not_duplicate_of"})
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
# Deliberately simple: one @, a dotted domain of letters, digits and hyphens; what the
# mail server accepts is only known by sending, which moderation may do later.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                    r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class ValidationConfig:
    """Limits of the rules; defaults are the product's."""

    title_max: int = 120
    description_max: int = 2000
    email_max: int = 254
    attributes_max: int = 30
    past_tolerance: timedelta = timedelta(days=1)
    max_future: timedelta = timedelta(days=2 * 366)
    max_event_duration: timedelta = timedelta(days=31)
    max_duration: timedelta = timedelta(days=366)
    availability_max: int = 21


class ServiceArea:
    """The city outline grown by a buffer in metres; answers "is this point served?".

    The buffer is applied in an azimuthal equidistant projection centred on the city,
    so ``buffer_m`` means metres on the ground whatever the latitude.
    """

    def __init__(self, outline: BaseGeometry, *, buffer_m: float = 500.0) -> None:
        if outline is None or outline.is_empty:
            raise ValueError("the service area needs a non-empty outline")
        self.outline = outline
        self.buffer_m = float(buffer_m)
        if buffer_m > 0:
            c = outline.centroid
            local = CRS.from_proj4(f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84")
            fwd = Transformer.from_crs("EPSG:4326", local, always_xy=True)
            back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
            grown = shapely.transform(outline, fwd.transform, interleaved=False).buffer(buffer_m)
            self.geometry = shapely.transform(grown, back.transform, interleaved=False)
        else:
            self.geometry = outline
        shapely.prepare(self.geometry)
        minx, miny, maxx, maxy = self.geometry.bounds
        self.bounds = (minx, miny, maxx, maxy)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether ``(lon, lat)`` lies in the served area (boundary included)."""
        minx, miny, maxx, maxy = self.bounds
        if not (minx <= lon <= maxx and miny <= lat <= maxy):
            return False
        return bool(shapely.intersects_xy(self.geometry, lon, lat))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_coordinates(lon: Any, lat: Any, area: ServiceArea | None) -> list[FieldError]:
    """Errors for a position: numbers, finite, in range, inside the service area.

    When the point is outside but ``(lat, lon)`` read the other way round would be
    inside, the message says the two look swapped: the most common mistake.
    """
    errors: list[FieldError] = []
    for name, value, bound in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if value is None:
            errors.append(FieldError(f"/{name}", "required", f"{name} is required"))
        elif not _is_number(value):
            errors.append(FieldError(f"/{name}", "type", f"{name} must be a number"))
        elif not math.isfinite(float(value)):
            errors.append(FieldError(f"/{name}", "not_finite", f"{name} must be finite"))
        elif not -bound <= float(value) <= bound:
            errors.append(FieldError(f"/{name}", "out_of_range",
                                     f"{name} must be between -{bound:g} and {bound:g}"))
    if errors:
        if len(errors) == 1 and errors[0].code == "out_of_range" and errors[0].pointer == "/lat" \
                and area is not None and _is_number(lon) and -90 <= float(lon) <= 90 \
                and area.contains(float(lat), float(lon)):
            middle = area.outline.representative_point()  # the city's, not Paris's
            return [FieldError("/lat", "swapped",
                               "lat is out of range and lon/lat look swapped: "
                               f"lon is east-west (about {middle.x:.2f} here), lat "
                               f"north-south (about {middle.y:.2f})")]
        return errors
    x, y = float(lon), float(lat)
    if area is not None and not area.contains(x, y):
        if area.contains(y, x):
            return [FieldError("/lon", "swapped",
                               f"({x}, {y}) is outside the service area, but "
                               f"({y}, {x}) is inside: lon and lat look swapped"),
                    FieldError("/lat", "swapped", "lon and lat look swapped")]
        return [FieldError("/lon", "outside_area",
                           f"({x:.6f}, {y:.6f}) is outside the service area "
                           f"(the city and {area.buffer_m:g} m around it)"),
                FieldError("/lat", "outside_area", "the point is outside the service area")]
    return []


def parse_datetime(value: Any, pointer: str) -> tuple[datetime | None, FieldError | None]:
    """An ISO 8601 date-time with a time zone, within years 2000–2100 (no overflow)."""
    if not isinstance(value, str):
        return None, FieldError(pointer, "type", "must be an ISO 8601 date-time string")
    text = value.strip()
    if len(text) > 40:
        return None, FieldError(pointer, "format", "must be an ISO 8601 date-time")
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None, FieldError(pointer, "format",
                                "must be an ISO 8601 date-time, e.g. 2026-06-05T18:30:00+02:00")
    if dt.tzinfo is None or dt.utcoffset() is None:
        return None, FieldError(pointer, "timezone",
                                "must carry a time zone offset, e.g. +02:00 or Z")
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        return None, FieldError(pointer, "out_of_range",
                                f"year must be between {MIN_YEAR} and {MAX_YEAR}",
                                {"min": MIN_YEAR, "max": MAX_YEAR, "year": True})
    return dt, None


def check_email(value: Any, *, max_length: int = 254) -> tuple[str | None, FieldError | None]:
    """A syntactically plausible address, domain lower-cased; ``None`` stays ``None``."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        return None, FieldError("/email", "type", "email must be a string")
    email = value.strip()
    if len(email) > max_length or not _EMAIL.fullmatch(email):
        return None, FieldError("/email", "format", "email is not a valid address")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}", None


def _text(data: Mapping[str, Any], name: str, limit: int, *, required: bool,
          multiline: bool, errors: list[FieldError]) -> str | None:
    value = data.get(name)
    if value is None or (value == "" and not required):
        if required:
            errors.append(FieldError(f"/{name}", "required", f"{name} is required"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(f"/{name}", "type", f"{name} must be a string"))
        return None
    cleaned = clean_text(value, multiline=multiline)
    if required and not is_visible(cleaned):
        errors.append(FieldError(f"/{name}", "blank", f"{name} must not be blank"))
        return None
    if len(cleaned) > limit:
        errors.append(FieldError(f"/{name}", "too_long",
                                 f"{name} has {len(cleaned)} characters; at most {limit}",
                                 {"max": limit, "n": len(cleaned)}))
        return None
    return cleaned


def _availability(value: Any, ptr: str, cfg: ValidationConfig,
                  errors: list[FieldError]) -> list[dict[str, str]] | None:
    if not isinstance(value, list) or not value:
        errors.append(FieldError(ptr, "type",
                                 "must be a non-empty list of {day, from, to} time slots"))
        return None
    if len(value) > cfg.availability_max:
        errors.append(FieldError(ptr, "too_long", f"at most {cfg.availability_max} slots",
                                 {"max": cfg.availability_max, "slots": True}))
        return None
    out: list[dict[str, str]] = []
    before = len(errors)
    for i, slot in enumerate(value):
        p = f"{ptr}/{i}"
        if not isinstance(slot, dict):
            errors.append(FieldError(p, "type", "a slot is an object {day, from, to}"))
            continue
        day, start, end = slot.get("day"), slot.get("from"), slot.get("to")
        if day not in DAYS:
            errors.append(FieldError(f"{p}/day", "choice", f"day must be one of {', '.join(DAYS)}"))
        for key, v in (("from", start), ("to", end)):
            if not isinstance(v, str) or not _HHMM.match(v):
                errors.append(FieldError(f"{p}/{key}", "format", f"{key} must be HH:MM"))
        if isinstance(start, str) and isinstance(end, str) and _HHMM.match(start) \
                and _HHMM.match(end) and end <= start:
            errors.append(FieldError(f"{p}/to", "order", "to must be after from"))
        if len(errors) == before:
            out.append({"day": day, "from": start, "to": end})
    return out if len(errors) == before else None


def _attribute(spec: FieldSpec, value: Any, ptr: str, cfg: ValidationConfig,
               errors: list[FieldError]) -> Any:
    t = spec.type
    if t == "text":
        if not isinstance(value, str):
            errors.append(FieldError(ptr, "type", f"{spec.name} must be a string"))
            return None
        cleaned = clean_text(value, multiline=True)
        if len(cleaned) > spec.max_length:
            errors.append(FieldError(ptr, "too_long", f"at most {spec.max_length} characters",
                                     {"max": spec.max_length, "n": len(cleaned)}))
            return None
        return cleaned
    if t == "boolean":
        if not isinstance(value, bool):
            errors.append(FieldError(ptr, "type", f"{spec.name} must be true or false"))
            return None
        return value
    if t in ("integer", "number"):
        ok = _is_number(value) and math.isfinite(float(value)) and (
            t == "number" or isinstance(value, int) or float(value).is_integer())
        if not ok:
            errors.append(FieldError(ptr, "type", f"{spec.name} must be a finite {t}"))
            return None
        num = int(value) if t == "integer" else float(value)
        if (spec.min is not None and num < spec.min) or (spec.max is not None and num > spec.max):
            errors.append(FieldError(ptr, "out_of_range",
                                     f"{spec.name} must be between {spec.min} and {spec.max}",
                                     {"min": spec.min, "max": spec.max}))
            return None
        return num
    if t == "enum":
        if value not in spec.choices:
            errors.append(FieldError(ptr, "choice",
                                     f"{spec.name} must be one of {', '.join(spec.choices)}"))
            return None
        return value
    if t == "tags":
        return _tags(value, spec.choices, ptr, errors)
    if t == "url":
        if not isinstance(value, str) or len(value) > 500 or not _URL.match(value.strip()):
            errors.append(FieldError(ptr, "format", f"{spec.name} must be an http(s) URL"))
            return None
        return value.strip()
    return _availability(value, ptr, cfg, errors)


def _tags(value: Any, choices: tuple[str, ...], ptr: str,
          errors: list[FieldError]) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(FieldError(ptr, "type", "must be a list of strings"))
        return None
    bad = [v for v in value if v not in choices]
    if bad:
        errors.append(FieldError(ptr, "choice",
                                 f"unknown value(s) {', '.join(map(repr, bad[:5]))}; "
                                 f"allowed: {', '.join(choices)}"))
        return None
    return sorted(set(value), key=choices.index)


def _attributes(value: Any, cat: CategorySpec, cfg: ValidationConfig,
                errors: list[FieldError]) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        errors.append(FieldError("/attributes", "type", "attributes must be an object"))
        return {}
    if len(value) > cfg.attributes_max:
        errors.append(FieldError("/attributes", "too_long",
                                 f"at most {cfg.attributes_max} attributes"))
        return {}
    out: dict[str, Any] = {}
    for spec in cat.fields:
        if spec.required and value.get(spec.name) in (None, "", []):
            errors.append(FieldError(f"/attributes/{spec.name}", "required",
                                     f"{spec.name} is required for {cat.slug}"))
    for key, v in value.items():
        ptr = "/attributes/" + str(key).replace("~", "~0").replace("/", "~1")
        if key == "audiences":
            tags = _tags(v, cat.audiences, ptr, errors)
            if tags is not None:
                out[key] = tags
            continue
        if key in ("accessibility", "accessibility_lacks"):  # known present / known absent
            tags = _tags(v, cat.accessibility, ptr, errors)
            if tags is not None:
                out[key] = tags
            continue
        spec = cat.field(key) if isinstance(key, str) else None
        if spec is None:
            errors.append(FieldError(ptr, "unknown", f"{cat.slug} has no attribute {key!r}"))
            continue
        if v is None or v == "":
            continue
        checked = _attribute(spec, v, ptr, cfg, errors)
        if checked is not None:
            out[key] = checked
    hours_spec = cat.field("hours")
    if isinstance(out.get("opening_hours"), str) and "hours" not in out \
            and hours_spec is not None and hours_spec.type == "availability":
        # "lun-ven 9h-17h" typed by a resident becomes slots the day-and-hour filter reads
        slots = parse_hours(out["opening_hours"])
        if slots and len(slots) <= cfg.availability_max:
            out["hours"] = slots
    return out


def _dates(data: Mapping[str, Any], cat: CategorySpec | None, now: datetime,
           cfg: ValidationConfig, errors: list[FieldError]
           ) -> tuple[datetime | None, datetime | None]:
    starts = ends = None
    had_error = False
    for name in ("starts_at", "ends_at"):
        value = data.get(name)
        if value is None or value == "":
            if cat is not None and cat.needs_dates:
                errors.append(FieldError(f"/{name}", "required",
                                         f"{name} is required for an event"))
                had_error = True
            continue
        dt, err = parse_datetime(value, f"/{name}")
        if err:
            errors.append(err)
            had_error = True
        elif name == "starts_at":
            starts = dt
        else:
            ends = dt
    if had_error:
        return None, None
    # Years are bounded above, so none of this arithmetic can overflow.
    if ends is not None and ends < now - cfg.past_tolerance:
        errors.append(FieldError("/ends_at", "past", "ends_at is in the past"))
    elif ends is None and starts is not None and starts < now - cfg.past_tolerance:
        errors.append(FieldError("/starts_at", "past", "starts_at is in the past"))
    if starts is not None and starts > now + cfg.max_future:
        errors.append(FieldError("/starts_at", "too_far",
                                 f"starts_at is more than {cfg.max_future.days} days ahead",
                                 {"days": cfg.max_future.days}))
    if starts is not None and ends is not None:
        limit = cfg.max_event_duration if cat is not None and cat.needs_dates \
            else cfg.max_duration
        if ends < starts:
            errors.append(FieldError("/ends_at", "order", "ends_at is before starts_at"))
        elif ends - starts > limit:
            errors.append(FieldError("/ends_at", "too_long",
                                     f"lasts more than {limit.days} days", {"days": limit.days}))
    return starts, ends


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff\U000e0000-\U000e007f]")


def check_characters(data: Any, pointer: str = "", *, depth: int = 0,
                     errors: list[FieldError] | None = None) -> list[FieldError]:
    """Errors for characters that can never be stored, wherever they are in ``data``.

    NUL, lone surrogates and Unicode tag characters are refused, each under the pointer
    of the value (or key) that carries it; the pointer itself is made safe to store
    (the offending characters become U+FFFD), so the error can be kept and answered.
    """
    errors = [] if errors is None else errors
    if len(errors) >= 10 or depth > 32:
        return errors
    if isinstance(data, str):
        bad = forbidden_character(data)
        if bad:
            errors.append(FieldError(pointer, "forbidden_character",
                                     f"contains a character that cannot be stored ({bad})",
                                     {"char": bad}))
    elif isinstance(data, dict):
        for key, value in data.items():
            key = str(key)
            bad = forbidden_character(key)
            ptr = pointer + "/" + _escape(_UNSTORABLE.sub("\ufffd", key) if bad else key)
            if bad:
                errors.append(FieldError(ptr, "forbidden_character",
                                         f"a key contains a character that cannot be stored "
                                         f"({bad})", {"char": bad}))
                continue
            check_characters(value, ptr, depth=depth + 1, errors=errors)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            check_characters(value, f"{pointer}/{i}", depth=depth + 1, errors=errors)
    return errors


def validate_submission(data: Any, *, categories: Mapping[str, CategorySpec],
                        area: ServiceArea | None, now: datetime,
                        config: ValidationConfig | None = None,
                        allow_unknown: bool = False) -> Record | list[FieldError]:
    """Check and normalise one submission.

    Parameters
    ----------
    data
        The parsed JSON body (or an import row mapped to the same keys).
    categories
        Active categories by slug.
    area
        The service area; ``None`` skips the check (tests of other rules only).
    now
        The reference time for "not in the past" (timezone-aware).
    allow_unknown
        Ignore keys outside the contract instead of refusing them (imports carry more).

    Returns
    -------
    Record | list[FieldError]
        The normalised record, or every field error found (never both, never empty).
    """
    cfg = config or ValidationConfig()
    if not isinstance(data, dict):
        return [FieldError("", "type", "the submission must be a JSON object")]
    errors = check_characters(data)
    if errors:  # nothing else is looked at: other messages would echo the characters
        return errors
    if not allow_unknown:
        for key in sorted(set(data) - KNOWN_KEYS, key=str)[:10]:
            errors.append(FieldError("/" + str(key).replace("~", "~0").replace("/", "~1"),
                                     "unknown", f"unknown field {key!r}"))
    cat: CategorySpec | None = None
    slug = data.get("category")
    if slug is None or slug == "":
        errors.append(FieldError("/category", "required", "category is required"))
    elif not isinstance(slug, str) or slug not in categories:
        shown = slug if isinstance(slug, str) and len(slug) < 60 else "this value"
        errors.append(FieldError("/category", "choice",
                                 f"unknown category {shown!r}; see /api/v1/categories"))
    else:
        cat = categories[slug]
    errors.extend(check_coordinates(data.get("lon"), data.get("lat"), area))
    title = _text(data, "title", cfg.title_max, required=True, multiline=False, errors=errors)
    description = _text(data, "description", cfg.description_max, required=False,
                        multiline=True, errors=errors)
    starts, ends = _dates(data, cat, now, cfg, errors)
    email, err = check_email(data.get("email"), max_length=cfg.email_max)
    if err:
        errors.append(err)
    attributes = _attributes(data.get("attributes"), cat, cfg, errors) if cat else {}
    different = data.get("not_duplicate_of") or []
    if not isinstance(different, list) or len(different) > 20 or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in different):
        errors.append(FieldError("/not_duplicate_of", "type",
                                 "not_duplicate_of is a list of feature ids"))
        different = []
    if errors:
        return errors
    assert cat is not None and title is not None
    return Record(category=cat.slug, title=title, lon=float(data["lon"]),
                  lat=float(data["lat"]), description=description or "", starts_at=starts,
                  ends_at=ends, email=email, attributes=attributes,
                  not_duplicate_of=tuple(sorted(set(different))))


@dataclass
class _TransformerCache:
    items: dict[str, tuple[Transformer, tuple[float, float, float, float] | None]] = field(
        default_factory=dict)


_TRANSFORMERS = _TransformerCache()


def _transformer(crs: str) -> tuple[Transformer, tuple[float, float, float, float] | None]:
    hit = _TRANSFORMERS.items.get(crs)
    if hit is None:
        try:
            src = CRS.from_user_input(crs)
        except Exception as exc:  # pyproj raises CRSError, a plain Exception subclass
            raise CrsError(f"unknown CRS {crs!r}") from exc
        aou = src.area_of_use
        bounds = (aou.west, aou.south, aou.east, aou.north) if aou else None
        hit = (Transformer.from_crs(src, "EPSG:4326", always_xy=True), bounds)
        _TRANSFORMERS.items[crs] = hit
    return hit


def to_lonlat(x: Any, y: Any, crs: str) -> tuple[float, float] | FieldError:
    """Transform one point of ``crs`` to (lon, lat), refusing it outside the area of use.

    pyproj happily returns finite numbers for a point thousands of kilometres outside
    a projected CRS's domain (a WGS84 point read as Lambert-93 lands in the sea off
    Africa); checking the result against the CRS's declared area of use catches it.
    """
    tr, bounds = _transformer(crs)
    try:
        fx, fy = float(x), float(y)
    except (TypeError, ValueError):
        return FieldError("/lon", "type", "coordinates must be numbers")
    if not (math.isfinite(fx) and math.isfinite(fy)):
        return FieldError("/lon", "not_finite", "coordinates must be finite")
    lon, lat = tr.transform(fx, fy)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return FieldError("/lon", "crs", f"({fx}, {fy}) cannot be transformed from {crs}")
    if bounds is not None:
        w, s, e, n = bounds
        tol = 0.5  # degrees: areas of use are rounded, and a city near an edge is fine
        if not (w - tol <= lon <= e + tol and s - tol <= lat <= n + tol):
            return FieldError("/lon", "crs_area",
                              f"({fx}, {fy}) read as {crs} lands at ({lon:.4f}, {lat:.4f}), "
                              f"outside the CRS's area of use: wrong --crs?")
    return lon, lat
