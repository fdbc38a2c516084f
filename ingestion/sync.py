"""Sources that stay current: re-read a configured source and bring the map in line.

``carte sources sync [NAME]`` and the worker's ``sources.sync`` job call
:func:`sync_source` for one of the city's sources (a seed or a partner entry of
``city.json``, :class:`geo.city.Dataset`: a file, or a URL of a GeoJSON file, a CSV file
or an OGC API collection). One sync:

0. a file byte for byte identical to the one the last applied sync read is not read
   again (``same_file``: every row on the map unchanged, nothing written);
1. **reads** the source through the ordinary importer (:func:`ingestion.importer.run_import`:
   same mappers, validation, refusals with reasons, stable references). The importer
   already marks a row whose bytes are those it had last time ``unchanged`` without
   validating it again: most of a 100,000-row source costs one bytes comparison;
2. **diffs** (:func:`diff`, pure) the rows read — reference, outcome, content hash —
   with what the source last said of each row (``source_row``: reference → feature,
   content hash, ``active``/``retired``): ``new``, ``changed``, ``gone``, ``back``
   (retired earlier, in the source again), ``unchanged``;
3. **guards**: an empty download, one that would retire more than the source's
   ``max_retire_share`` (default 10 %) of its rows on the map, or one whose addresses
   geocoded this time fail for more than ``geocode.max_unplaced_share`` (default 10 %,
   at least :data:`MIN_UNPLACED_HELD` rows), is **held**: nothing is
   applied, the run waits on ``/moderation/sources`` for a moderator who confirms it
   (:func:`confirm_run`, applied then) or discards it (:func:`discard_run`). An
   unreadable download (HTTP error, truncated JSON) fails: nothing is applied either;
4. **applies** through :mod:`geo.publish`, set-based: new rows published (or, with
   ``on_new: "queue"``, left for a moderator: :func:`publish_queued`), changed rows
   revised (a version, an ``import`` audit event, dirty tiles, ``changed`` in the feed),
   gone rows retired (``unpublished``, reason ``removed-at-source``, audited, ``removed``
   in the feed, dirty tiles; exports follow on the worker's next refresh), unchanged
   rows untouched (no version, no event, no dirty tile).

**Moderators' edits win on conflict, per field.** A feature whose content is no longer
what the source last said (its content hash differs from the base) was edited by hand:
the source's new values are merged field by field (attributes key by key) against the
base — a field only the source changed takes the source's value, a field only the
moderator changed keeps the moderator's, a field both changed keeps the moderator's and
is reported as a conflict in the run (``conflicts``: feature, fields). A feature a
moderator took off the map stays off (``kept_off``); one retired because it left the
source comes back when it returns (``back``). Rows that are still in the source but now
invalid keep their feature as it was (counted under ``refused``).

**Rows located by address.** A row with an address and no coordinates is placed by the
city's address file (:class:`geo.geocode.Geocoder`), exactly as ``carte import`` places
it: its match quality kept in ``attributes.address_match`` (``exact``, ``street``), an
address not found refused (``address_not_found``, with the geocoder's reason: kept,
counted in ``refused_by_reason``, the first ones listed in the report's ``unplaced``).
The source's ``geocode`` (:class:`geo.city.Geocoding`) may name its address and postcode
columns. Rows whose bytes are those the source gave last time are not geocoded again
(the importer stores them ``unchanged`` before validating anything): a daily sync of
thousands of address-only rows geocodes only its new and changed rows (``geocoded`` in
the report counts them by match quality). A changed row whose address line and postcode
are those its feature was placed from (a renamed place, a new phone number) keeps that
placement without asking the geocoder (``placements_kept``, :class:`_KeptPlacements`).
Each run stores the fingerprint of what placed its addresses (``address_file``: the
address file's SHA-256 and the geocoder's rules version, :data:`geo.geocode.RULES`);
when it differs from the last applied run's, every row last placed by address (or
refused as not found) is read and geocoded again, unchanged bytes or not
(``re_placed``): only the features whose point moved get a version, rows now found are
new, rows now lost keep their feature and are refused.

The held run's import run is marked ``failed`` (reason "held by sync run N") until it is
confirmed, so the importer's "same bytes as last time" never compares with rows that
were not applied. The caller's session holds the transaction and commits; the sync run
row itself is created and, on failure, marked apart (an unreadable source is on record).
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.city import City, Dataset, Geocoding
from geo.geocode import QUALITIES, Geocoder
from geo.models import FeatureStatus, ModerationAction
from geo.publish import publish_import_rows, revise_feature, set_status_many

from .errors import BadSourceFile, IngestError, RunAlreadyDecided, RunNotFound
from .filestore import _create_run, _engine_of

__all__ = ["Current", "Diff", "Known", "SyncReport", "UnknownSource", "confirm_run",
           "diff", "discard_run", "due_sources", "merge", "publish_queued", "sync_source",
           "unplaced_share_exceeded"]

REMOVED_AT_SOURCE = "removed-at-source"
UNPLACED = "address_not_found"  # the importer's code for an address not found
# A run is held for its geocoding only when at least this many rows failed: one partner
# row with a typo in its street is a refusal, not a broken source.
MIN_UNPLACED_HELD = 5
UNPLACED_KEPT = 50  # unplaced rows listed in a run's report (all are in its import run)
BACK_AT_SOURCE = "back-at-source"
CONFLICTS_KEPT = 100
Fetch = Callable[[str], bytes]


class UnknownSource(IngestError, LookupError):
    """No seed or partner source of the city has this name."""


class SyncRunNotFound(RunNotFound):
    """No sync run with this id."""


class SyncRunNotHeld(RunAlreadyDecided):
    """The sync run is not (or no longer) waiting for a moderator."""


# --- the pure middle ----------------------------------------------------------------------

class Current(NamedTuple):
    """A row of the source as read now: its reference, the importer's outcome, its hash.

    ``outcome``: ``valid`` (new bytes, validated: ``content_hash`` set), ``unchanged``
    (the same bytes as the last time this reference was read) or ``invalid``.
    """

    ref: str
    outcome: str
    content_hash: bytes | None


class Known(NamedTuple):
    """What the source last said of a reference, and the state of its feature."""

    feature_id: int
    base_hash: bytes
    state: str            # active | retired (left the source)
    status: str           # the feature's status now


@dataclass
class Diff:
    """What a sync would do, by reference (feature ids for ``gone``/``back``)."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    back: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    gone_off_map: list[str] = field(default_factory=list)
    kept_off: list[str] = field(default_factory=list)
    unchanged: int = 0
    refused: int = 0
    waiting: int = 0
    on_map: int = 0       # active references on the map before the sync

    def retire_share(self) -> float:
        """The share of the source's rows on the map this sync would retire."""
        return len(self.gone) / self.on_map if self.on_map else 0.0


def diff(current: Iterable[Current], known: Mapping[str, Known], *,
         settled: int = 0) -> Diff:
    """Compare the rows read now with what the source last said of each reference.

    ``settled``: rows left out of both sides because they are certainly unchanged (same
    bytes as last time, active, on the map): counted as unchanged and on the map.

    * ``new``: valid, never published from this source;
    * ``changed``: valid, content hash differs from the last one applied (a feature a
      moderator took off the map is ``kept_off`` instead: it stays off);
    * ``back``: retired because it left the source, and in the source again;
    * ``gone``: on the map, active, and no longer in the source (any outcome counts as
      present: a row that became invalid keeps its feature); ``gone_off_map``: the same
      but already off the map (just marked retired);
    * ``unchanged``: present with the content last applied; ``waiting``: same bytes as a
      row not published (queued or refused before); ``refused``: invalid now.
    """
    out = Diff(unchanged=settled, on_map=settled)
    seen: set[str] = set()
    for row in current:
        seen.add(row.ref)
        k = known.get(row.ref)
        if row.outcome == "invalid":
            out.refused += 1
            continue
        if k is None:
            if row.outcome == "valid":
                out.new.append(row.ref)
            else:
                out.waiting += 1
            continue
        if k.state == "retired" and k.status == "unpublished":
            out.back.append(row.ref)
        elif k.status != "published":
            if row.outcome == "valid" and row.content_hash != k.base_hash:
                out.kept_off.append(row.ref)
            else:
                out.unchanged += 1
            continue
        if row.outcome == "valid" and row.content_hash != k.base_hash:
            out.changed.append(row.ref)
        elif k.state != "retired" or k.status != "unpublished":
            out.unchanged += 1
    for ref, k in known.items():
        if k.state != "active":
            continue
        if k.status == "published":
            out.on_map += 1
        if ref not in seen:
            (out.gone if k.status == "published" else out.gone_off_map).append(ref)
    return out


_FIELDS = ("category", "title", "description", "starts_at", "ends_at")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and round(a, 7) == round(b, 7)
    return bool(a == b)


def merge(base: Mapping[str, Any] | None, ours: Mapping[str, Any],
          theirs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Three-way merge of a hand-edited feature: the changes to make, and the conflicts.

    ``base``: what the source said last time; ``ours``: the feature now (a moderator
    edited it); ``theirs``: what the source says now. Keys: the fields of
    :data:`geo.publish.EDITABLE` that a source sets (``attributes`` merged key by key,
    ``lon``/``lat`` as one position). A field the source changed and the moderator did
    not takes the source's value; one both changed keeps the moderator's and is a
    conflict. Without a base (unknown), every difference is a conflict.
    """
    changes: dict[str, Any] = {}
    conflicts: list[str] = []

    def one(name: str, b: Any, o: Any, t: Any) -> Any:
        if base is not None and _same(t, b):
            return o
        if base is not None and _same(o, b):
            return t
        if not _same(o, t):
            conflicts.append(name)
        return o

    b = base or {}
    for name in _FIELDS:
        value = one(name, b.get(name), ours.get(name), theirs.get(name))
        if not _same(value, ours.get(name)):
            changes[name] = value
    pos = one("position", (round(b["lon"], 7), round(b["lat"], 7)) if base else None,
              (round(ours["lon"], 7), round(ours["lat"], 7)),
              (round(theirs["lon"], 7), round(theirs["lat"], 7)))
    if pos != (round(ours["lon"], 7), round(ours["lat"], 7)):
        changes["lon"], changes["lat"] = pos
    b_attrs = dict(b.get("attributes") or {})
    o_attrs = dict(ours.get("attributes") or {})
    t_attrs = dict(theirs.get("attributes") or {})
    merged = dict(o_attrs)
    missing = object()
    for key in sorted(set(b_attrs) | set(o_attrs) | set(t_attrs)):
        value = one(f"attributes.{key}", b_attrs.get(key, missing) if base else None,
                    o_attrs.get(key, missing), t_attrs.get(key, missing))
        if value is missing:
            merged.pop(key, None)
        else:
            merged[key] = value
    if merged != o_attrs:
        changes["attributes"] = merged
    return changes, conflicts


# --- the report ---------------------------------------------------------------------------

@dataclass
class SyncReport:
    """What one sync did (the CLI's JSON line and the moderation page's row)."""

    source: str
    location: str
    run: int | None = None
    import_run: int | None = None
    status: str = "running"
    hold_reason: str | None = None
    read: int = 0
    new: int = 0
    queued: int = 0
    changed: int = 0
    merged: int = 0
    retired: int = 0
    back: int = 0
    unchanged: int = 0
    refused: int = 0
    kept_off: int = 0
    waiting: int = 0
    would_retire: int = 0
    on_map: int = 0
    refused_by_reason: Counter[str] = field(default_factory=Counter)
    # Rows placed by their address this time (new or changed), by match quality; rows
    # whose bytes did not change keep last time's outcome and are not geocoded again.
    geocoded: Counter[str] = field(default_factory=Counter)
    # Rows refused this time because their address was not found: ref, row, reason.
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    # Changed rows whose address did not change: their last placement kept, the
    # geocoder not asked (counted in ``geocoded`` too, by that placement's quality).
    placements_kept: int = 0
    # What placed addresses in this run (:meth:`geo.geocode.Geocoder.fingerprint`: the
    # address file's SHA-256 and the rules' version); ``None`` without an address file.
    address_file: dict[str, Any] | None = None
    # Rows placed by address before a new address file (or new rules), placed again.
    re_placed: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    # The file was byte for byte the one the last applied sync read: nothing imported.
    same_file: bool = False
    # Seconds from the start at the end of each step (read, diff, apply): where time goes.
    phases: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, counts first."""
        return {"source": self.source, "run": self.run, "status": self.status,
                "hold_reason": self.hold_reason, "read": self.read, "new": self.new,
                "queued": self.queued, "changed": self.changed, "merged": self.merged,
                "retired": self.retired, "back": self.back, "unchanged": self.unchanged,
                "refused": self.refused,
                "refused_by_reason": dict(self.refused_by_reason.most_common()),
                **({"geocoded": {q: self.geocoded[q] for q in QUALITIES},
                    "placements_kept": self.placements_kept,
                    "unplaced": self.unplaced} if self.geocoded else {}),
                **({"address_file": self.address_file} if self.address_file else {}),
                **({"re_placed": self.re_placed} if self.re_placed else {}),
                "kept_off": self.kept_off, "waiting": self.waiting,
                "would_retire": self.would_retire, "on_map": self.on_map,
                "conflicts": self.conflicts, "import_run": self.import_run,
                "location": self.location, "error": self.error,
                "seconds": round(self.seconds, 2), "phases": self.phases,
                **({"same_file": True} if self.same_file else {})}


# --- reading the source (I/O) -------------------------------------------------------------

def _format(dataset: Dataset) -> str:
    if dataset.format:
        return dataset.format
    path = urllib.parse.urlsplit(dataset.url or "").path.lower()
    return "csv" if path.endswith(".csv") else "geojson"


def _download(dataset: Dataset, folder: Path, fetch: Fetch | None) -> Path:
    """The source's current rows as a local file (a URL is fetched into ``folder``).

    Raises
    ------
    BadSourceFile
        Unreachable, an HTTP error, not JSON where JSON is expected.
    """
    from .sources import fetch_features, urllib_fetch

    fetch = fetch or urllib_fetch
    assert dataset.url is not None
    if _format(dataset) == "csv":
        path = folder / "source.csv"
        path.write_bytes(fetch(dataset.url))
        return path
    path = folder / "source.geojson"
    body = fetch(dataset.url)
    if not body.strip():
        path.write_bytes(b"")
        return path
    got = fetch_features(dataset.url, fetch=lambda u: body if u == dataset.url else fetch(u))
    path.write_text(json.dumps({"type": "FeatureCollection", "features": got.features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def _empty(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return not fh.read(4096).strip() and path.stat().st_size < 4096
    except OSError as exc:
        raise BadSourceFile(f"{path}: {exc.strerror}") from exc


def _cell(props: Mapping[str, Any], spec: str) -> str:
    """A column's value, or a template of columns filled (``"{numero} {voie}"``)."""
    if "{" in spec:
        from collections import defaultdict

        filled = spec.format_map(defaultdict(str, {
            k: "" if v is None else v for k, v in props.items()}))
        return " ".join(filled.split())
    value = props.get(spec)
    return "" if value is None else " ".join(str(value).split())


def _located_by(mapper: Any, geocoding: Geocoding) -> Any:
    """``mapper`` whose rows without coordinates take their address from ``geocoding``."""
    from .mapping import ADDRESS_KEY, POSTCODE_KEY

    def located(row: Any) -> Any:
        data, ref = mapper(row)
        if row.x is None or row.y is None:
            if geocoding.address:
                line = _cell(row.props, geocoding.address)
                if line:
                    data[ADDRESS_KEY] = line
                else:
                    data.pop(ADDRESS_KEY, None)
            if geocoding.postcode:
                data[POSTCODE_KEY] = _cell(row.props, geocoding.postcode)
        return data, ref

    located.__name__ = f"{getattr(mapper, '__name__', 'mapper')}+address"
    return located


def _import(session: Session, dataset: Dataset, path: Path, *, location: str,
            geocoder: Geocoder | None, fingerprint: Mapping[str, Any] | None = None,
            forget: list[str] | None = None) -> tuple[int, Any, int]:
    """Import the file's rows (not published); the import run, its summary, rows kept.

    Rows with an address and no coordinates are placed by ``geocoder`` (the city's
    address file), with the columns the source's ``geocode`` names, if any; a changed
    row whose address is the one its feature was placed from keeps that placement
    (:class:`_KeptPlacements`, for sources located by address: a ``geocode`` entry or
    their own mapper). ``forget``: references placed again even if their bytes are
    unchanged (the address file changed).
    """
    from .categories import specs_from_db
    from .importer import run_import
    from .mapping import generic_mapper
    from .seed import MAPPERS

    own = MAPPERS.get(dataset.source)
    mapper = own
    geocoding = dataset.geocode
    if geocoding is not None and (geocoding.address or geocoding.postcode):
        mapper = _located_by(own or generic_mapper(specs_from_db(session),
                                                   category=dataset.category), geocoding)
    kept: _KeptPlacements | None = None
    if geocoder is not None and fingerprint is not None and (
            own is not None or geocoding is not None):
        # The generic mapper named here is the importer's own (same category, no title
        # template); naming it only costs the column path, which address rows skip.
        kept = _KeptPlacements(session, dataset.source, fingerprint, geocoder,
                               mapper or generic_mapper(specs_from_db(session),
                                                        category=dataset.category))
    summary = run_import(path, session=session, source=dataset.source,
                         mapper=kept.mapper if kept is not None else mapper,
                         category=None if own else dataset.category, publish=False,
                         attribution=dataset.attribution,
                         buffer_m=0.0 if own else 500.0, file_name=location[:1000],
                         geocoder=kept if kept is not None else geocoder,  # type: ignore[arg-type]
                         forget=forget or ())
    assert summary.run_id is not None
    return summary.run_id, summary, kept.kept if kept is not None else 0


class _KeptPlacements:
    """The geocoder of one sync: a changed row whose address did not change keeps its place.

    The importer geocodes every row whose bytes changed. A partner who renames a place,
    fixes its phone or its hours has not moved it: its feature keeps the point its
    address gave last time, and the geocoder is not asked. "Its address did not change"
    is decided by the source's own mapper, the judge of what the address is: the row
    the feature was last placed from (``source_row``'s import row, read back with
    ``import_row_raw``) is mapped again, and its address line and postcode compared
    with the new row's. Only placements made with the same address file and rules
    (the ``address_file`` fingerprint of the sync run that imported that row) are kept.

    :meth:`mapper` wraps the source's mapper (it notes which reference gave which
    address); the instance is the geocoder the importer calls with that address.
    """

    def __init__(self, session: Session, source: str, fingerprint: Mapping[str, Any],
                 geocoder: Geocoder, inner: Any) -> None:
        self._session, self._source, self._geocoder = session, source, geocoder
        self._fingerprint = fingerprint
        self._inner = inner
        self._based: dict[str, tuple[int, int]] | None = None
        self._pending: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        self._csv: dict[tuple[str, ...], tuple[list[str], str] | None] = {}
        self.kept = 0

    def _bases(self) -> dict[str, tuple[int, int]]:
        """Each reference's import row its feature was placed from, same address file."""
        if self._based is None:
            rows = self._session.execute(text(
                "SELECT s.ref, s.run_id, s.row_number FROM source_row s "
                "JOIN source_sync_run w ON w.import_run_id = s.run_id AND w.source = s.source "
                "WHERE s.source = :s AND w.status IN ('applied', 'confirmed') "
                "AND w.report->'address_file'->>'sha256' = :sha "
                "AND w.report->'address_file'->>'rules' = :rules"),
                {"s": self._source, "sha": str(self._fingerprint.get("sha256")),
                 "rules": str(self._fingerprint.get("rules"))}).all()
            self._based = {r.ref: (r.run_id, r.row_number) for r in rows}
        return self._based

    def _reader(self, row: Any) -> Any:
        """How to read a row's older bytes like this one's: ``"json"`` or (header, sep)."""
        if row.raw[:1] == b"{":
            return "json"
        header = tuple(row.props)
        if header not in self._csv:
            from .readers import _split

            record = row.raw.decode("utf-8", "replace")
            values = [str(v) for v in row.props.values()]
            self._csv[header] = next(((list(header), sep) for sep in (";", ",", "\t", "|")
                                      if _split(record, sep) == values), None)
        return self._csv[header]

    def mapper(self, row: Any) -> Any:
        """The source's mapper, noting the address of each row placed by address before."""
        from .mapping import ADDRESS_KEY, POSTCODE_KEY

        data, ref = self._inner(row)
        line = data.get(ADDRESS_KEY)
        if line and (row.x is None or row.y is None) and ref in self._bases():
            reader = self._reader(row)
            if reader is not None:
                key = (str(line), str(data.get(POSTCODE_KEY) or ""))
                self._pending.setdefault(key, []).append((ref, reader))
        return data, ref

    def __call__(self, address: str, postcode: str = "") -> Any:
        """The last placement of a row that had this address, else the geocoder's."""
        for ref, reader in self._pending.pop((address, postcode), ()):
            match = self._last_placement(ref, reader, address, postcode)
            if match is not None:
                self.kept += 1
                return match
        return self._geocoder(address, postcode)

    def _last_placement(self, ref: str, reader: Any, address: str, postcode: str) -> Any:
        from geo.geocode import Match

        from .mapping import ADDRESS_KEY, POSTCODE_KEY
        from .readers import SourceRow, csv_row

        run_id, row_number = self._bases()[ref]
        got = self._session.execute(text(
            "SELECT import_row_raw(run_id, row_number) AS raw, ST_X(geom) AS lon, "
            "ST_Y(geom) AS lat, attributes->>'address' AS label, "
            "attributes->>'address_match' AS quality FROM import_row "
            "WHERE run_id = :r AND row_number = :n AND outcome = 'valid' "
            "AND attributes ? 'address_match'"), {"r": run_id, "n": row_number}).one_or_none()
        if got is None or got.raw is None or got.quality not in QUALITIES:
            return None
        raw = bytes(got.raw)
        try:
            if reader == "json":
                obj = json.loads(raw)
                props = obj.get("properties") if isinstance(obj.get("properties"), dict) \
                    else obj
                props = dict(props)
                if obj.get("type") == "Feature" and obj.get("id") is not None:
                    props.setdefault("id", obj["id"])
                before = SourceRow(0, raw, props, None, None)
            else:
                header, sep = reader
                before = csv_row(0, raw, raw.decode("utf-8"), header, sep, prefer_xy=False)
            data, _ = self._inner(before)
        except Exception:  # unreadable as this row is read: geocode it
            return None
        if (str(data.get(ADDRESS_KEY) or ""), str(data.get(POSTCODE_KEY) or "")) != \
                (address, postcode):
            return None
        return Match(got.quality, got.lon, got.lat, got.label or "")


def _unplaced(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The first rows of the import run refused because their address was not found."""
    rows = session.execute(text(
        "SELECT ref, row_number, errors->0->>'detail' AS reason FROM import_row "
        "WHERE run_id = :r AND outcome = 'invalid' AND errors->0->>'code' = :c "
        "ORDER BY row_number LIMIT :n"), {"r": run_id, "c": UNPLACED, "n": UNPLACED_KEPT})
    return [{"ref": r.ref, "row": r.row_number, "reason": r.reason} for r in rows]


def unplaced_share_exceeded(geocoded: Mapping[str, int], share: float) -> bool:
    """Whether the rows geocoded this time failed unusually often (hold the run).

    More than ``share`` of them not found, and at least :data:`MIN_UNPLACED_HELD`: a
    changed address format, a partner's broken export or a wrong address file would
    otherwise publish a map of refusals (or, for changed rows, freeze them unannounced).

    >>> unplaced_share_exceeded({"exact": 90, "street": 2, "none": 8}, 0.1)
    False
    >>> unplaced_share_exceeded({"exact": 10, "none": 30}, 0.1)
    True
    >>> unplaced_share_exceeded({"none": 1}, 0.1)
    False
    """
    done = sum(geocoded.values())
    failed = geocoded.get("none", 0)
    return failed >= MIN_UNPLACED_HELD and failed > share * done


# --- state (I/O) --------------------------------------------------------------------------

_HASH_OF = ("carte_content_hash({a}.category, {a}.title, {a}.description, {a}.starts_at, "
            "{a}.ends_at, {a}.attributes, {a}.geom)")

# Features of the source that no source_row describes yet (published by `carte demo`'s
# seed or `carte import --publish` before the first sync): their base is the latest valid
# row a published run gave for their reference, else their own content.
_MISSING = text("""
SELECT count(*) FROM feature f
WHERE f.source = :source AND f.source_ref IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM source_row s WHERE s.source = f.source
                  AND s.ref = f.source_ref)
""")
_BOOTSTRAP = text(f"""
INSERT INTO source_row (source, ref, feature_id, content_hash, run_id, row_number, state)
SELECT f.source, f.source_ref, f.id, coalesce(last.h, {_HASH_OF.format(a='f')}),
       last.run_id, last.row_number, 'active'
FROM feature f
LEFT JOIN (
  SELECT DISTINCT ON (r.ref) r.ref, {_HASH_OF.format(a='r')} AS h, r.run_id, r.row_number
  FROM import_row r JOIN import_run u ON u.id = r.run_id
  WHERE u.source = :source AND u.status = 'published' AND r.outcome = 'valid'
  ORDER BY r.ref, r.run_id DESC) last ON last.ref = f.source_ref
WHERE f.source = :source AND f.source_ref IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM source_row s WHERE s.source = f.source
                  AND s.ref = f.source_ref)
""")  # noqa: S608 - constant fragments


_ROWS = f"""
WITH r AS (
  SELECT r.ref, r.outcome::text AS outcome,
         CASE WHEN r.outcome = 'valid' THEN {_HASH_OF.format(a='r')} END AS h
  FROM import_row r WHERE r.run_id = %(run)s
), k AS (
  SELECT s.ref, s.feature_id, s.content_hash, s.state, f.status::text AS status
  FROM source_row s JOIN feature f ON f.id = s.feature_id WHERE s.source = %(s)s
), j AS MATERIALIZED (
  SELECT r.ref AS rref, r.outcome, r.h, k.ref AS kref, k.feature_id, k.content_hash,
         k.state, k.status,
         coalesce(r.outcome = 'unchanged' AND k.state = 'active'
                  AND k.status = 'published', false) AS settled
  FROM r FULL JOIN k ON k.ref = r.ref
)
SELECT rref, outcome, h, kref, feature_id, content_hash, state, status FROM j
WHERE NOT settled
UNION ALL
SELECT NULL, NULL, NULL, NULL, count(*), NULL, NULL, NULL FROM j WHERE settled
"""  # noqa: S608 - constant fragments


def _rows(session: Session, source: str,
          run_id: int | None) -> tuple[list[Current], dict[str, Known], int]:
    """The rows read now, what the source last said, and how many rows are settled.

    Settled: the same bytes as last time (the importer's ``unchanged``) for a reference
    that is active and on the map: certainly unchanged, so the database counts them
    instead of sending them (98 % of a daily sync); every other row of either side is
    returned for :func:`diff`.
    """
    if session.execute(_MISSING, {"source": source}).scalar_one():
        session.execute(_BOOTSTRAP, {"source": source})
    current: list[Current] = []
    known: dict[str, Known] = {}
    settled = 0
    with session.connection().connection.driver_connection.cursor() as cur:
        cur.execute(_ROWS, {"run": run_id if run_id is not None else -1, "s": source})
        for rref, outcome, h, kref, fid, base, state, status in cur.fetchall():
            if rref is None and kref is None:
                settled = int(fid)
                continue
            if rref is not None:
                current.append(Current(rref, outcome, bytes(h) if h is not None else None))
            if kref is not None:
                known[kref] = Known(fid, bytes(base), state, status)
    return current, known, settled


def _start_run(session: Session, dataset: Dataset, trigger: str) -> int:
    with _engine_of(session).begin() as conn:
        return int(conn.execute(text(
            "INSERT INTO source_sync_run (source, location, trigger) VALUES (:s, :l, :t) "
            "RETURNING id"), {"s": dataset.source, "l": dataset.location[:2000],
                              "t": trigger}).scalar_one())


def _fail_run(session: Session, run: int, report: SyncReport, exc: BaseException) -> None:
    report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
    with _engine_of(session).begin() as conn:
        if report.import_run is not None:  # its rows were rolled back with the sync
            conn.execute(text(
                "UPDATE import_run SET status = 'failed', finished_at = now(), reason = :e "
                "WHERE id = :r AND status = 'running'"),
                {"e": f"sync run {run} failed: {report.error}", "r": report.import_run})
        conn.execute(text(
            "UPDATE source_sync_run SET status = 'failed', error = :e, finished_at = now(), "
            "report = CAST(:rep AS jsonb) WHERE id = :r"),
            {"e": report.error, "rep": json.dumps(report.as_dict(), default=str), "r": run})


def _finish(session: Session, report: SyncReport) -> None:
    session.execute(text(
        "UPDATE source_sync_run SET status = :st, hold_reason = :hr, finished_at = now(), "
        "import_run_id = :ir, report = CAST(:rep AS jsonb) WHERE id = :r"),
        {"st": report.status, "hr": report.hold_reason, "ir": report.import_run,
         "rep": json.dumps(report.as_dict(), default=str), "r": report.run})


# --- applying (I/O) -----------------------------------------------------------------------

def _record(session: Session, run_id: int, ref: str) -> dict[str, Any] | None:
    row = session.execute(text(
        "SELECT category, title, coalesce(description, '') AS description, starts_at, "
        "ends_at, attributes, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM import_row "
        "WHERE run_id = :r AND ref = :ref AND outcome = 'valid'"),
        {"r": run_id, "ref": ref}).one_or_none()
    return dict(row._mapping) if row is not None else None


def _base(session: Session, source: str, ref: str) -> dict[str, Any] | None:
    row = session.execute(text(
        "SELECT run_id, row_number FROM source_row WHERE source = :s AND ref = :ref"),
        {"s": source, "ref": ref}).one_or_none()
    if row is None or row.run_id is None:
        return None
    got = session.execute(text(
        "SELECT category, title, coalesce(description, '') AS description, starts_at, "
        "ends_at, attributes, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM import_row "
        "WHERE run_id = :r AND row_number = :n AND outcome = 'valid'"),
        {"r": row.run_id, "n": row.row_number}).one_or_none()
    return dict(got._mapping) if got is not None else None


def _ours(session: Session, feature_id: int) -> dict[str, Any]:
    row = session.execute(text(
        "SELECT version, category, title, description, starts_at, ends_at, attributes, "
        "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM feature WHERE id = :i"),
        {"i": feature_id}).one()
    return dict(row._mapping)


def _remember(session: Session, source: str, run_id: int, refs: list[str]) -> None:
    """``source_row`` of ``refs`` := the rows of this run (published: a feature each)."""
    if not refs:
        return
    session.execute(text(f"""
        INSERT INTO source_row (source, ref, feature_id, content_hash, run_id, row_number,
                                state, updated_at)
        SELECT :s, r.ref, f.id, {_HASH_OF.format(a='r')}, r.run_id, r.row_number, 'active',
               now()
        FROM import_row r JOIN feature f ON f.source = :s AND f.source_ref = r.ref
        WHERE r.run_id = :run AND r.outcome = 'valid'
          AND r.ref IN (SELECT unnest(CAST(:refs AS text[])))
        ON CONFLICT (source, ref) DO UPDATE SET feature_id = excluded.feature_id,
          content_hash = excluded.content_hash, run_id = excluded.run_id,
          row_number = excluded.row_number, state = 'active', updated_at = now()
    """), {"s": source, "run": run_id, "refs": refs})  # noqa: S608


def _rebase_same(session: Session, source: str, run_id: int) -> None:
    """Point ``source_row`` at this run's rows that say exactly what the base says.

    Rows read again with new bytes and the same content (placed again after a new
    address file at the same point, a whitespace change) become the base, so that the
    next sync compares with the run that read them, and keeps their placement
    (:class:`_KeptPlacements` trusts a base placed with the current address file).
    """
    session.execute(text(f"""
        UPDATE source_row s SET run_id = r.run_id, row_number = r.row_number
        FROM import_row r
        WHERE s.source = :s AND s.state = 'active' AND r.run_id = :run AND r.ref = s.ref
          AND r.outcome = 'valid' AND s.run_id IS DISTINCT FROM r.run_id
          AND s.content_hash = {_HASH_OF.format(a='r')}
    """), {"s": source, "run": run_id})  # noqa: S608 - a constant fragment


def _set_state(session: Session, source: str, refs: list[str], state: str) -> None:
    if refs:
        session.execute(text(
            "UPDATE source_row SET state = :st, updated_at = now() "
            "WHERE source = :s AND ref IN (SELECT unnest(CAST(:refs AS text[])))"),
            {"st": state, "s": source, "refs": refs})


def _feature_hashes(session: Session, ids: list[int]) -> dict[int, bytes]:
    rows = session.execute(text(
        f"SELECT f.id, {_HASH_OF.format(a='f')} FROM feature f "  # noqa: S608
        "WHERE f.id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids}).all()
    return {int(i): bytes(h) for i, h in rows}


def _apply(session: Session, dataset: Dataset, d: Diff, known: Mapping[str, Known],
           run_id: int, report: SyncReport, *, actor_id: int | None) -> None:
    source = dataset.source
    sync_run = report.run
    if d.back:
        ids = [known[r].feature_id for r in d.back]
        report.back = len(set_status_many(
            session, ids, FeatureStatus.published, action=ModerationAction.restore,
            reason=f"{BACK_AT_SOURCE}: in {source} again (sync run {sync_run})",
            actor_id=actor_id, run_id=run_id))
        _set_state(session, source, d.back, "active")
    hashes = _feature_hashes(session, [known[r].feature_id for r in d.changed])
    clean = [r for r in d.changed if hashes.get(known[r].feature_id) == known[r].base_hash]
    edited = [r for r in d.changed if hashes.get(known[r].feature_id) != known[r].base_hash]
    publish = clean + (d.new if dataset.on_new == "publish" else [])
    created = revised = 0
    if publish:
        created, revised = publish_import_rows(
            session, run_id=run_id, source=source, attribution=dataset.attribution,
            actor_id=actor_id, refs=publish,
            reason=f"sync from {source} (sync run {sync_run})")
    report.new = created
    report.queued = len(d.new) if dataset.on_new == "queue" else 0
    merged = 0
    for ref in edited:
        fid = known[ref].feature_id
        theirs = _record(session, run_id, ref)
        if theirs is None:
            continue
        ours = _ours(session, fid)
        changes, conflicts = merge(_base(session, source, ref), ours, theirs)
        if conflicts and len(report.conflicts) < CONFLICTS_KEPT:
            report.conflicts.append({"feature": fid, "ref": ref, "fields": conflicts})
        if changes:
            kept = f"; the moderator's {', '.join(conflicts)} kept" if conflicts else ""
            revise_feature(session, fid, changes, expected_version=ours["version"],
                           action=ModerationAction.import_, actor_id=actor_id,
                           reason=f"sync from {source} (sync run {sync_run}): source "
                                  f"changes merged with a moderator's edits{kept}")
            merged += 1
    report.changed, report.merged = revised + merged, merged
    _remember(session, source, run_id, publish + edited)
    _rebase_same(session, source, run_id)
    if d.gone:
        report.retired = len(set_status_many(
            session, [known[r].feature_id for r in d.gone], FeatureStatus.unpublished,
            action=ModerationAction.unpublish,
            reason=f"{REMOVED_AT_SOURCE}: no longer in {source} (sync run {sync_run})",
            actor_id=actor_id, run_id=run_id))
    _set_state(session, source, d.gone + d.gone_off_map, "retired")
    session.execute(text(
        "UPDATE import_run SET status = 'published', decided_at = now(), decided_by = :a, "
        "reason = NULL, finished_at = coalesce(finished_at, now()) WHERE id = :r"),
        {"a": actor_id, "r": run_id})


def _counts(report: SyncReport, d: Diff) -> None:
    report.unchanged, report.kept_off, report.waiting = d.unchanged, len(d.kept_off), d.waiting
    report.would_retire, report.on_map = len(d.gone), d.on_map


# --- entry points -------------------------------------------------------------------------

def _same_file(session: Session, source: str, path: Path) -> dict[str, Any] | None:
    """The last applied sync's report if it read exactly these bytes, else ``None``.

    A source that did not change since its last applied sync (most days, for most
    datasets) is not imported again: no 100,000 ``import_row`` rows a day for nothing.
    Not when some feature of the source still lacks its ``source_row``.
    """
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).digest()
    row = session.execute(text(
        "SELECT u.file_sha256, r.report, r.import_run_id FROM source_sync_run r "
        "JOIN import_run u ON u.id = r.import_run_id WHERE r.source = :s "
        "AND r.status IN ('applied', 'confirmed') AND r.report->>'same_file' IS NULL "
        "ORDER BY r.id DESC LIMIT 1"), {"s": source}).one_or_none()
    if row is None or bytes(row.file_sha256) != digest:
        return None
    if session.execute(_MISSING, {"source": source}).scalar_one():
        return None
    return {**(row.report or {}), "import_run": row.import_run_id}


def _nothing_new(session: Session, report: SyncReport, last: Mapping[str, Any],
                 savepoint: Any, t0: float) -> SyncReport:
    """Record a sync of a file identical to the last one applied: every row unchanged."""
    session.execute(text(
        "UPDATE source_sync_run SET status = 'superseded', finished_at = now() "
        "WHERE source = :s AND status = 'held' AND id < :r"),
        {"s": report.source, "r": report.run})
    report.on_map = report.unchanged = int(session.execute(text(
        "SELECT count(*) FROM source_row s JOIN feature f ON f.id = s.feature_id "
        "WHERE s.source = :s AND s.state = 'active' AND f.status = 'published'"),
        {"s": report.source}).scalar_one())
    # Rows of that file still not on the map (queued, or refused before): still waiting.
    report.waiting = int(session.execute(text(
        "SELECT count(*) FROM import_row r WHERE r.run_id = :ir AND r.outcome <> 'invalid' "
        "AND NOT EXISTS (SELECT 1 FROM feature f WHERE f.source = :s "
        "AND f.source_ref = r.ref)"), {"ir": last["import_run"], "s": report.source})
        .scalar_one())
    report.read, report.refused = int(last.get("read", 0)), int(last.get("refused", 0))
    report.refused_by_reason = Counter(last.get("refused_by_reason") or {})
    report.same_file, report.status = True, "applied"
    report.seconds = time.perf_counter() - t0
    _finish(session, report)
    savepoint.commit()
    return report


def _fingerprint(geocoder: Any) -> dict[str, Any] | None:
    """What places this sync's addresses (:meth:`geo.geocode.Geocoder.fingerprint`)."""
    fingerprint = getattr(geocoder, "fingerprint", None)
    if not callable(fingerprint):
        return None
    try:
        return dict(fingerprint())
    except OSError:  # no address file to read: nothing placed by it either
        return None


_PLACED_BY_ADDRESS = text("""
SELECT ref FROM (
  SELECT DISTINCT ON (r.ref) r.ref, r.outcome::text AS outcome, r.attributes, r.errors
  FROM import_row r JOIN import_run u ON u.id = r.run_id
  WHERE u.source = :s AND u.status <> 'failed' AND r.outcome <> 'unchanged'
  ORDER BY r.ref, r.run_id DESC, r.row_number) last
WHERE (outcome = 'valid' AND attributes ? 'address_match')
   OR (outcome = 'invalid' AND errors->0->>'code' = :unplaced)
""")


def _placed_again(session: Session, source: str,
                  fingerprint: Mapping[str, Any] | None) -> list[str]:
    """The references to place again: the address file or rules changed since last time.

    The last applied sync that recorded a fingerprint is compared with this one; when the
    address file's bytes or the rules differ, every reference whose last row was placed
    by address (or refused because its address was not found) is read and geocoded
    again, unchanged bytes or not. Rows placed before any sync recorded a fingerprint
    (a seed, ``carte import``, a sync by an older release) are placed again once too:
    nothing says which file and rules placed them.
    """
    if fingerprint is None:
        return []
    last = session.execute(text(
        "SELECT report->'address_file' FROM source_sync_run WHERE source = :s "
        "AND status IN ('applied', 'confirmed') AND report ? 'address_file' "
        "ORDER BY id DESC LIMIT 1"), {"s": source}).scalar_one_or_none()
    if isinstance(last, dict) and (str(last.get("sha256")), str(last.get("rules"))) == \
            (str(fingerprint.get("sha256")), str(fingerprint.get("rules"))):
        return []
    return list(session.execute(_PLACED_BY_ADDRESS, {"s": source, "unplaced": UNPLACED})
                .scalars())


def _dataset(city: City, name: str) -> Dataset:
    try:
        return city.source(name)
    except KeyError:
        names = ", ".join(d.source for d in city.synced) or "none"
        raise UnknownSource(f"no source {name!r} in {city.slug}'s city.json "
                            f"(sources: {names})") from None


def sync_source(session: Session, city: City, name: str, *, fetch: Fetch | None = None,
                trigger: str = "cli", actor_id: int | None = None,
                geocoder: Geocoder | None = None) -> SyncReport:
    """Synchronise the source ``name`` of ``city`` now; the caller commits.

    Returns the report (``status``: ``applied``, ``held`` or ``failed``); a failed run is
    already on record (committed apart) and nothing of it is applied. ``geocoder``
    places rows that have an address and no coordinates (default: the city's address
    file; its index is read only when a row needs it).

    Raises
    ------
    UnknownSource
        The city has no seed or partner source of that name.
    """
    dataset = _dataset(city, name)
    if geocoder is None:
        geocoder = Geocoder.for_city(city)
    t0 = time.perf_counter()
    report = SyncReport(source=dataset.source, location=dataset.location,
                        address_file=_fingerprint(geocoder))
    # One sync of a source at a time (the CLI and the worker may both start one).
    _lock(session, dataset.source)
    report.run = _start_run(session, dataset, trigger)
    savepoint = session.begin_nested()  # a failure undoes the sync, not the caller's work
    try:
        with tempfile.TemporaryDirectory(prefix="carte-sync-") as tmp:
            path = _download(dataset, Path(tmp), fetch) if dataset.url else dataset.file
            assert path is not None
            again = _placed_again(session, dataset.source, report.address_file)
            last = None if again else _same_file(session, dataset.source, path)
            if last is not None:
                return _nothing_new(session, report, last, savepoint, t0)
            if _empty(path):
                # An import run all the same (no rows): the decision on it is audited.
                run_id = _create_run(_engine_of(session), source=dataset.source,
                                     file_name=dataset.location, data=b"", crs=None,
                                     category=None, options={"sync_run": report.run})
                report.import_run = run_id
            else:
                run_id, summary, report.placements_kept = _import(
                    session, dataset, path, location=dataset.location, geocoder=geocoder,
                    fingerprint=report.address_file, forget=again)
                report.re_placed = len(again)
                report.phases["read"] = round(time.perf_counter() - t0, 2)
                report.import_run, report.read = run_id, summary.read
                report.refused, report.refused_by_reason = (summary.refused,
                                                            summary.refused_by_reason)
                report.geocoded = Counter(summary.geocoded)
                if report.geocoded.get("none"):
                    report.unplaced = _unplaced(session, run_id)
        current, known, settled = _rows(session, dataset.source, run_id)
        d = diff(current, known, settled=settled)
        _counts(report, d)
        report.phases["diff"] = round(time.perf_counter() - t0, 2)
        session.execute(text(
            "UPDATE source_sync_run SET status = 'superseded', finished_at = now() "
            "WHERE source = :s AND status = 'held' AND id < :r"),
            {"s": dataset.source, "r": report.run})
        if report.read == 0 and d.on_map:
            report.status, report.hold_reason = "held", "empty"
        elif d.retire_share() > dataset.max_retire_share:
            report.status, report.hold_reason = "held", "retire_share"
        elif unplaced_share_exceeded(report.geocoded, (
                dataset.geocode or Geocoding()).max_unplaced_share):
            report.status, report.hold_reason = "held", "unplaced_share"
        if report.status == "held":
            if run_id is not None:
                session.execute(text(
                    "UPDATE import_run SET status = 'failed', reason = :why, "
                    "finished_at = coalesce(finished_at, now()) WHERE id = :r"),
                    {"why": f"held by sync run {report.run}: waits for a moderator on "
                             "/moderation/sources", "r": run_id})
        else:
            if run_id is not None:
                _apply(session, dataset, d, known, run_id, report, actor_id=actor_id)
            elif d.gone or d.gone_off_map:  # an empty source, nothing on the map
                _set_state(session, dataset.source, d.gone_off_map, "retired")
            report.status = "applied"
        report.phases["apply"] = round(time.perf_counter() - t0, 2)
        report.seconds = time.perf_counter() - t0
        _finish(session, report)
        savepoint.commit()
    except BaseException as exc:
        report.seconds = time.perf_counter() - t0
        if savepoint.is_active:
            savepoint.rollback()
        _fail_run(session, report.run, report, exc)
        if isinstance(exc, IngestError | OSError | ValueError):
            return report
        raise
    return report


def _lock(session: Session, source: str) -> None:
    """One sync, confirmation or publication of a source at a time (CLI, worker, web)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('carte-sync:' || :s))"),
                    {"s": source})


def _held(session: Session, run: int) -> Any:
    source = session.execute(text("SELECT source FROM source_sync_run WHERE id = :r"),
                             {"r": run}).scalar_one_or_none()
    if source is not None:
        _lock(session, source)
    row = session.execute(text(
        "SELECT id, source, status, hold_reason, import_run_id, report "
        "FROM source_sync_run WHERE id = :r FOR UPDATE"), {"r": run}).one_or_none()
    if row is None:
        raise SyncRunNotFound(f"no sync run {run}")
    if row.status != "held":
        raise SyncRunNotHeld(f"sync run {run} is {row.status}, not held")
    return row


def _audit(session: Session, import_run: int | None, *, action: str, actor_id: int,
           reason: str | None, after: dict[str, Any]) -> None:
    if import_run is None:
        return  # an empty download has no import run: the sync run records the decision
    session.execute(text(
        "INSERT INTO moderation_event (actor_id, action, import_run_id, reason, after) "
        "VALUES (:a, CAST(:act AS moderation_action), :r, :reason, CAST(:after AS jsonb))"),
        {"a": actor_id, "act": action, "r": import_run, "reason": reason,
         "after": json.dumps(after, default=str)})


def confirm_run(session: Session, city: City, run: int, *, actor_id: int) -> SyncReport:
    """A moderator confirms a held run: it is applied now (retirements included).

    Raises
    ------
    SyncRunNotFound, SyncRunNotHeld, UnknownSource
    """
    row = _held(session, run)
    dataset = _dataset(city, row.source)
    report = SyncReport(source=row.source, location=dataset.location, run=run,
                        import_run=row.import_run_id, hold_reason=row.hold_reason)
    saved = dict(row.report or {})
    report.read, report.refused = int(saved.get("read", 0)), int(saved.get("refused", 0))
    report.refused_by_reason = Counter(saved.get("refused_by_reason") or {})
    report.geocoded = Counter(saved.get("geocoded") or {})
    report.unplaced = list(saved.get("unplaced") or [])
    report.placements_kept = int(saved.get("placements_kept") or 0)
    report.address_file = saved.get("address_file")  # what placed the held rows
    report.re_placed = int(saved.get("re_placed") or 0)
    t0 = time.perf_counter()
    current, known, settled = _rows(session, row.source, row.import_run_id)
    d = diff(current, known, settled=settled)
    _counts(report, d)
    if row.import_run_id is not None:
        _apply(session, dataset, d, known, row.import_run_id, report, actor_id=actor_id)
    else:  # an empty source confirmed: everything it had on the map is retired
        report.retired = len(set_status_many(
            session, [known[r].feature_id for r in d.gone], FeatureStatus.unpublished,
            action=ModerationAction.unpublish,
            reason=f"{REMOVED_AT_SOURCE}: {row.source} is empty (sync run {run}, "
                   "confirmed)", actor_id=actor_id))
        _set_state(session, row.source, d.gone + d.gone_off_map, "retired")
    report.status, report.seconds = "confirmed", time.perf_counter() - t0
    session.execute(text(
        "UPDATE source_sync_run SET status = 'confirmed', decided_at = now(), "
        "decided_by = :a, report = CAST(:rep AS jsonb) WHERE id = :r"),
        {"a": actor_id, "rep": json.dumps(report.as_dict(), default=str), "r": run})
    _audit(session, row.import_run_id, action="approve", actor_id=actor_id,
           reason=f"sync run {run} confirmed", after=report.as_dict())
    return report


def discard_run(session: Session, run: int, *, actor_id: int, reason: str = "") -> None:
    """A moderator discards a held run: nothing of it is ever applied.

    Raises
    ------
    SyncRunNotFound, SyncRunNotHeld
    """
    row = _held(session, run)
    why = " ".join(reason.split()) or "discarded"
    session.execute(text(
        "UPDATE source_sync_run SET status = 'discarded', decided_at = now(), "
        "decided_by = :a, error = :why WHERE id = :r"), {"a": actor_id, "why": why, "r": run})
    if row.import_run_id is not None:
        session.execute(text(
            "UPDATE import_run SET reason = :why WHERE id = :r"),
            {"why": f"sync run {run} discarded: {why}", "r": row.import_run_id})
    _audit(session, row.import_run_id, action="refuse", actor_id=actor_id,
           reason=f"sync run {run} discarded: {why}", after={"status": "discarded"})


def publish_queued(session: Session, city: City, run: int, *, actor_id: int) -> int:
    """Publish the new rows a run left for a moderator (``on_new: "queue"``); how many.

    Raises
    ------
    SyncRunNotFound
    """
    row = session.execute(text(
        "SELECT source, import_run_id FROM source_sync_run WHERE id = :r "
        "AND status IN ('applied', 'confirmed')"), {"r": run}).one_or_none()
    if row is None or row.import_run_id is None:
        raise SyncRunNotFound(f"no applied sync run {run}")
    _lock(session, row.source)
    dataset = _dataset(city, row.source)
    refs = list(session.execute(text(
        "SELECT r.ref FROM import_row r WHERE r.run_id = :ir AND r.outcome = 'valid' "
        "AND NOT EXISTS (SELECT 1 FROM feature f WHERE f.source = :s "
        "AND f.source_ref = r.ref)"), {"ir": row.import_run_id, "s": row.source}).scalars())
    if not refs:
        return 0
    created, _ = publish_import_rows(
        session, run_id=row.import_run_id, source=row.source,
        attribution=dataset.attribution, actor_id=actor_id, refs=refs,
        reason=f"sync from {row.source} (sync run {run}): new rows published by a "
               "moderator")
    _remember(session, row.source, row.import_run_id, refs)
    _audit(session, row.import_run_id, action="approve", actor_id=actor_id,
           reason=f"sync run {run}: {created} queued rows published",
           after={"published": created})
    return created


def due_sources(session: Session, city: City, *, now: datetime | None = None) -> list[str]:
    """The sources with an ``every`` whose last sync started longer ago than that."""
    now = now or datetime.now(UTC)
    last = dict(session.execute(text(
        "SELECT source, max(started_at) FROM source_sync_run GROUP BY source")).all())
    due = []
    for dataset in city.synced:
        if dataset.every_s is None:
            continue
        at = last.get(dataset.source)
        if at is None or (now - at).total_seconds() >= dataset.every_s:
            due.append(dataset.source)
    return due
