"""What the moderation pages show: read-only queries, one per panel.

The pending queue, one item with its duplicate candidates, flagged features, a
feature's history.

The queue is keyset-paginated on ``(received_at, id)`` over the partial index of pending
submissions, so its cost does not grow with the queue (10,000 pending: see bench/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import version_snapshot_sql

from .errors import InvalidInput, NotFound

__all__ = [
    "PAGE_SIZE",
    "AreaGroup",
    "AreaOption",
    "QueueFilters",
    "area_choices",
    "area_groups",
    "category_choices",
    "feature_detail",
    "flagged_features",
    "history",
    "nearby_features",
    "neighbour",
    "pending_page",
    "recent_events",
    "source_choices",
    "submission_detail",
]

PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters, all optional: area code, category slug, source name."""

    area: str = ""
    category: str = ""
    source: str = ""

    def sql(self, area: tuple[str, int] | None = None) -> tuple[str, dict[str, Any]]:
        """A WHERE fragment (``AND ...``) and its parameters.

        ``area`` is the filter's area as ``(kind, id)``, looked up by the caller, so the
        condition is one containment test on ``area_ids``, whatever the area's level
        (the pending submissions' GIN index answers it).
        """
        where, params = [], {}
        if area is not None:
            where.append("s.area_ids @> ARRAY[CAST(:area_id AS integer)]")
            params["area_id"] = area[1]
        if self.category:
            where.append("s.category = :category")
            params["category"] = self.category
        if self.source:
            where.append("s.source = :source")
            params["source"] = self.source
        return "".join(" AND " + w for w in where), params

    def query(self) -> dict[str, str]:
        """The filters that are set, as query parameters (links and hidden fields)."""
        return {k: v for k, v in (("area", self.area), ("category", self.category),
                                  ("source", self.source)) if v}

    @classmethod
    def of(cls, values: Any, prefix: str = "") -> QueueFilters:
        """The filters of a query string or a form (a mapping with ``get``), cut to size.

        Forms carry them as ``f_area``… (``prefix="f_"``): an item's edit form has a
        ``category`` field of its own.
        """
        return cls(area=(values.get(prefix + "area") or "")[:16],
                   category=(values.get(prefix + "category") or "")[:64],
                   source=(values.get(prefix + "source") or "")[:64])


def _area(session: Session, code: str) -> tuple[str, int] | bool | None:
    """The area filter's ``(kind, id)``; ``None`` without one, ``False`` if unknown."""
    if not code:
        return None
    found = session.execute(text("SELECT kind, id FROM area WHERE code = :c AND depth > 0"),
                            {"c": code}).one_or_none()
    return False if found is None else (found[0], found[1])


_ITEM_COLUMNS = """
    s.id, s.version, s.received_at, s.source, s.status::text AS status, s.category,
    c.label_fr AS category_label, c.label_en AS category_label_en, c.colour, s.title,
    s.description, s.starts_at, s.ends_at, s.attributes, ra.email, s.client_key,
    ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, s.spam_score, s.spam_reasons,
    a.code AS arr_code, a.name AS arr_name, q.code AS quartier_code, q.name AS quartier_name,
    ARRAY(SELECT ar.name FROM unnest(s.area_ids) WITH ORDINALITY u(id, n)
          LEFT JOIN area ar ON ar.id = u.id ORDER BY u.n) AS area_names,
    s.possible_duplicate_of AS dup_id, f.title AS dup_title, f.description AS dup_description,
    f.category AS dup_category, f.status::text AS dup_status, f.version AS dup_version,
    ST_X(f.geom) AS dup_lon, ST_Y(f.geom) AS dup_lat,
    ST_Distance(s.geom::geography, f.geom::geography) AS dup_distance_m,
    (SELECT count(*) FROM flag fl WHERE fl.feature_id = s.possible_duplicate_of
       AND fl.status = 'open') AS dup_open_flags,
    s.possible_duplicate_submission_id AS dup_sub_id, o.title AS dup_sub_title,
    o.status::text AS dup_sub_status, ST_X(o.geom) AS dup_sub_lon, ST_Y(o.geom) AS dup_sub_lat,
    ST_Distance(s.geom::geography, o.geom::geography) AS dup_sub_distance_m,
    (SELECT min(l.id) FROM submission l WHERE l.possible_duplicate_submission_id = s.id
       AND l.status = 'pending') AS dup_later_id
"""
_ITEM_JOINS = """
    FROM submission s
    LEFT JOIN category c ON c.slug = s.category
    LEFT JOIN area a ON a.id = s.area_ids[1]
    LEFT JOIN area q ON q.id = s.area_ids[2]
    LEFT JOIN feature f ON f.id = s.possible_duplicate_of
    LEFT JOIN submission o ON o.id = s.possible_duplicate_submission_id
    LEFT JOIN resident_address ra ON ra.id = s.resident_address_id
"""


def pending_page(session: Session, filters: QueueFilters, *,
                 after: tuple[datetime, int] | None = None,
                 limit: int = PAGE_SIZE) -> tuple[list[Any], int]:
    """Pending submissions oldest first (after the keyset ``after``), and how many match."""
    area = _area(session, filters.area)
    if area is False:
        return [], 0
    where, params = filters.sql(area)
    keyset = ""
    if after is not None:
        keyset = " AND (s.received_at, s.id) > (:after_at, :after_id)"
        params.update(after_at=after[0], after_id=after[1])
    rows = session.execute(text(
        f"SELECT {_ITEM_COLUMNS} {_ITEM_JOINS} WHERE s.status = 'pending'{where}{keyset} "
        "ORDER BY s.received_at, s.id LIMIT :lim"), {**params, "lim": limit}).all()
    total = session.execute(text(
        f"SELECT count(*) FROM submission s WHERE s.status = 'pending'{where}"),  # noqa: S608
        params).scalar_one()
    return rows, total


def neighbour(session: Session, filters: QueueFilters, submission_id: int, *,
              forward: bool = True, wrap: bool = False) -> int | None:
    """The waiting submission after (or before) ``submission_id`` in the queue's order.

    The queue's order is oldest first, ``(received_at, id)``, under the same filters, so
    "next" on an item page is the row below it in the queue. ``submission_id`` itself
    may be decided already (its place in the order stays). ``wrap``: past the end, the
    oldest (or, backwards, the newest) other waiting one: after deciding the last row,
    the moderator goes on with the rows skipped above it rather than to an empty page.
    ``None`` when nothing else waits.
    """
    area = _area(session, filters.area)
    if area is False:
        return None
    where, params = filters.sql(area)
    params["sid"] = submission_id
    cmp, order = (">", "") if forward else ("<", " DESC")
    found = session.execute(text(
        f"SELECT s.id FROM submission s, submission me WHERE me.id = :sid "  # noqa: S608
        f"AND s.status = 'pending'{where} "
        f"AND (s.received_at, s.id) {cmp} (me.received_at, me.id) "
        f"ORDER BY s.received_at{order}, s.id{order} LIMIT 1"), params).scalar()
    if found is None and wrap:
        found = session.execute(text(
            f"SELECT s.id FROM submission s WHERE s.status = 'pending'{where} "  # noqa: S608
            f"AND s.id <> :sid ORDER BY s.received_at{order}, s.id{order} LIMIT 1"),
            params).scalar()
    return found


def submission_detail(session: Session, submission_id: int) -> Any:
    """One submission with its area and duplicate candidate; :class:`NotFound` if none."""
    row = session.execute(text(f"SELECT {_ITEM_COLUMNS}, s.reason, s.feature_id, "
                               f"s.decided_at, u.email AS decided_by {_ITEM_JOINS} "
                               "LEFT JOIN app_user u ON u.id = s.decided_by "
                               "WHERE s.id = :id AND s.status NOT IN ('received', 'invalid')"),
                          {"id": submission_id}).one_or_none()
    if row is None:
        raise NotFound(f"no submission {submission_id} to moderate")
    return row


def nearby_features(session: Session, lon: float, lat: float, *, metres: float = 150,
                    title: str = "", exclude: int | None = None, limit: int = 5) -> list[Any]:
    """Features near a point, most similar title first: merge candidates."""
    return session.execute(text("""
        SELECT f.id, f.version, f.title, f.description, f.category, f.status::text AS status,
               ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat,
               ST_Distance(f.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
                           ::geography) AS distance_m,
               similarity(f.title, :title) AS similarity
        FROM feature f
        WHERE f.status <> 'unpublished' AND f.id IS DISTINCT FROM :ex
          AND ST_DWithin(f.geom::geography,
                         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :m)
        ORDER BY similarity DESC, distance_m LIMIT :lim
    """), {"lon": lon, "lat": lat, "m": metres, "title": title, "ex": exclude,
           "lim": limit}).all()


def flagged_features(session: Session, *, limit: int = 50) -> list[Any]:
    """Features with open flags, hidden ones first, then by oldest flag."""
    return session.execute(text("""
        SELECT f.id, f.version, f.title, f.status::text AS status, f.category,
               count(fl.id) AS open_flags, min(fl.created_at) AS first_flag,
               (array_agg(fl.reason ORDER BY fl.created_at))[1:5] AS reasons
        FROM flag fl JOIN feature f ON f.id = fl.feature_id
        WHERE fl.status = 'open'
        GROUP BY f.id
        ORDER BY (f.status = 'hidden') DESC, min(fl.created_at)
        LIMIT :lim
    """), {"lim": limit}).all()


def feature_detail(session: Session, feature_id: int) -> tuple[Any, list[Any]]:
    """A feature (any status) with its area, and its flags."""
    row = session.execute(text("""
        SELECT f.id, f.version, f.status::text AS status, f.category, c.label_fr AS
               category_label, c.label_en AS category_label_en, f.attributes, f.title,
               f.description, f.starts_at, f.ends_at, f.source,
               f.attribution, f.merged_into, f.published_at, f.updated_at, f.submission_id,
               ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat, a.code AS arr_code,
               a.name AS arr_name, q.name AS quartier_name,
               ARRAY(SELECT ar.name FROM unnest(f.area_ids) WITH ORDINALITY u(id, n)
                     LEFT JOIN area ar ON ar.id = u.id ORDER BY u.n) AS area_names
        FROM feature f LEFT JOIN category c ON c.slug = f.category
        LEFT JOIN area a ON a.id = f.area_ids[1]
        LEFT JOIN area q ON q.id = f.area_ids[2]
        WHERE f.id = :id
    """), {"id": feature_id}).one_or_none()
    if row is None:
        raise NotFound(f"no feature {feature_id}")
    flags = session.execute(text("""
        SELECT fl.id, fl.created_at, fl.reason, fl.status::text AS status, fl.resolved_at,
               fl.client_key
        FROM flag fl WHERE fl.feature_id = :id ORDER BY fl.created_at DESC LIMIT 100
    """), {"id": feature_id}).all()
    return row, flags


def history(session: Session, *, submission_id: int | None = None,
            feature_id: int | None = None, limit: int = 100) -> list[Any]:
    """Audit events of a submission or a feature, newest first.

    A feature's versions written by an import point to the import's one event (no
    feature of its own, :mod:`geo.publish`): each appears here as that event with the
    feature's before and after, read from the version rows.
    """
    return session.execute(text(f"""
        SELECT e.id, e.at, e.action::text AS action, e.reason, e.before, e.after,
               e.submission_id, e.feature_id, u.email AS actor, e.import_run_id
        FROM moderation_event e LEFT JOIN app_user u ON u.id = e.actor_id
        WHERE (CAST(:s AS bigint) IS NOT NULL AND e.submission_id = :s)
           OR (CAST(:f AS bigint) IS NOT NULL AND e.feature_id = :f)
        UNION ALL
        SELECT e.id, e.at, e.action::text, e.reason,
               CASE WHEN pv.feature_id IS NOT NULL THEN {version_snapshot_sql("pv")} END,
               {version_snapshot_sql("v")}, e.submission_id, v.feature_id, u.email,
               e.import_run_id
        FROM feature_version v
        JOIN moderation_event e ON e.id = v.event_id AND e.feature_id IS NULL
        LEFT JOIN feature_version pv ON pv.feature_id = v.feature_id
                                    AND pv.version = v.version - 1
        LEFT JOIN app_user u ON u.id = e.actor_id
        WHERE CAST(:f AS bigint) IS NOT NULL AND v.feature_id = :f
        ORDER BY at DESC, id DESC LIMIT :lim
    """), {"s": submission_id, "f": feature_id, "lim": limit}).all()  # noqa: S608


def recent_events(session: Session, *, actor: str = "", action: str = "",
                  before_id: int | None = None, runs_only: bool = False,
                  limit: int = 100) -> list[Any]:
    """The audit trail across all items, newest first (keyset on the event id).

    ``runs_only``: only events on whole import runs (their decisions, and the one
    event an import's publication writes, which its features' versions point to).
    """
    return session.execute(text("""
        SELECT e.id, e.at, e.action::text AS action, e.reason, e.submission_id, e.feature_id,
               e.import_run_id, r.source AS run_source, r.file_name AS run_file,
               e.after AS after, u.email AS actor
        FROM moderation_event e LEFT JOIN app_user u ON u.id = e.actor_id
        LEFT JOIN import_run r ON r.id = e.import_run_id
        WHERE (:actor = '' OR lower(u.email) = lower(:actor))
          AND (:action = '' OR e.action::text = :action)
          AND (CAST(:before AS bigint) IS NULL OR e.id < :before)
          AND (NOT :runs OR (e.import_run_id IS NOT NULL AND e.feature_id IS NULL))
        ORDER BY e.id DESC LIMIT :lim
    """), {"actor": actor, "action": action, "before": before_id, "runs": runs_only,
           "lim": limit}).all()


def area_choices(session: Session) -> list[Any]:
    """The city's areas of every level, each right after its parent, for the area filter.

    Depth first, whatever the number of levels (Paris: an arrondissement, then its
    quartiers; a city of three levels: a sector, a district, its blocks, the next
    district...). Each row: ``code``, ``name``, ``kind`` (the level's slug), ``depth``,
    ``parent`` (code) and ``has_children``. An area whose parent is missing starts a
    group of its own rather than vanishing from the filter.
    """
    return session.execute(text("""
        WITH RECURSIVE tree AS (
            SELECT a.id, a.code, a.name, a.kind::text AS kind, a.depth,
                   CAST(NULL AS text) AS parent, ARRAY[a.code] AS path
            FROM area a
            WHERE a.depth >= 1 AND NOT EXISTS (
                SELECT 1 FROM area p WHERE p.id = a.parent_id AND p.depth >= 1)
            UNION ALL
            SELECT c.id, c.code, c.name, c.kind::text, c.depth, t.code, t.path || c.code
            FROM area c JOIN tree t ON c.parent_id = t.id
            WHERE c.depth > t.depth
        )
        SELECT code, name, kind, depth, parent,
               EXISTS (SELECT 1 FROM area ch WHERE ch.parent_id = tree.id) AS has_children
        FROM tree ORDER BY path
    """)).all()


@dataclass(frozen=True)
class AreaOption:
    """One choice of the area filter: the area's code and what the option says."""

    code: str
    text: str


@dataclass(frozen=True)
class AreaGroup:
    """A first-level area with every area under it, as one ``<optgroup>``.

    ``label`` is ``None`` for a first-level area without children (a lone option).
    """

    label: str | None
    options: tuple[AreaOption, ...]


# What indents an option one level deeper inside its group: no-break spaces survive
# the browser's trimming of option text and are not read aloud.
_INDENT = "\u00a0" * 4


def area_groups(rows: Iterable[Any], level_word: Callable[[str], str],
                whole: Callable[[str], str]) -> list[AreaGroup]:
    """The area filter's groups from :func:`area_choices` rows (already depth first).

    Pure, so every city's shape is tested without a database. Each first-level area with
    children becomes a group labelled with its name, whose first option is the area as
    a whole ("4e arrondissement (arrondissement en entier)": ``whole(level word)``), then
    every area under it, indented by depth and named with its level's word ("Saint-Gervais
    (quartier)"). ``level_word(kind)`` gives the city's word of a level (city.json, in the
    page's language), never a word written in the code.
    """
    groups: list[AreaGroup] = []
    label: str | None = None
    options: list[AreaOption] = []
    top_depth = 1

    def close() -> None:
        if options:
            groups.append(AreaGroup(label, tuple(options)))

    for row in rows:
        if row.parent is None:
            close()
            top_depth = row.depth
            if row.has_children:
                label = row.name
                options = [AreaOption(row.code, f"{row.name} ({whole(level_word(row.kind))})")]
            else:
                label, options = None, [AreaOption(row.code, row.name)]
                close()
                options = []
            continue
        indent = _INDENT * max(0, row.depth - top_depth - 1)
        options.append(AreaOption(row.code, f"{indent}{row.name} ({level_word(row.kind)})"))
    close()
    return groups


def category_choices(session: Session) -> list[Any]:
    """Categories (slug, French and English labels)."""
    return session.execute(text(
        "SELECT slug, label_fr, label_en, active FROM category ORDER BY position, slug")).all()


_SOURCES = text("""
    WITH RECURSIVE s(v) AS (
      SELECT min(source) FROM submission
      UNION ALL
      SELECT (SELECT min(source) FROM submission WHERE source > s.v) FROM s WHERE s.v IS NOT NULL
    )
    SELECT v FROM s WHERE v IS NOT NULL
""")


def source_choices(session: Session) -> list[str]:
    """Every source submissions came from.

    A loose index scan (one index probe per distinct source) rather than a DISTINCT over
    the whole table: a handful of sources among many thousand submissions.
    """
    return list(session.scalars(_SOURCES))


def parse_after(value: str | None) -> tuple[datetime, int] | None:
    """The queue's keyset from ``after=<iso>|<id>``; :class:`InvalidInput` when forged."""
    if not value:
        return None
    try:
        at, _, sid = value.rpartition("|")
        return datetime.fromisoformat(at), int(sid)
    except ValueError as exc:
        raise InvalidInput({"after": "not a queue position"}) from exc
