"""Partner file imports under ``/moderation/imports``: one decision for a whole run.

A file imported without ``--publish`` becomes a *pending* import run (ingestion/runs.py):
nobody approves 100,000 partner rows one by one, so the moderator looks at the run's
summary, a map of where its valid rows fall and its rows 50 at a time (every refusal
with its fields), then publishes the valid rows with an attribution or refuses the
import with a reason. Both decisions go through :func:`ingestion.runs.publish_run` and
:func:`ingestion.runs.refuse_run`, which audit them in ``moderation_event`` and mark the
published points' tiles dirty; a second decision on a decided run is a 409 page.

Pages are read with plain SQL here (the list, per-outcome counts, the sampled points
with their arrondissement) because the moderation pages need joins the ingestion
dataclasses do not carry.

Strings are written in French (the moderation UI's language) and translated to English
through a Flask-Babel domain whose catalogue is ``moderation/translations``.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections import OrderedDict
from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingestion import runs
from ingestion.errors import RunAlreadyDecided, RunNotFound

from . import svg
from .charter import REASONS
from .errors import InvalidInput, NotFound
from .i18n import lang, t, tn
from .views import MODERATOR, bp, frame
from .web import db, engine, require_role

__all__ = ["OUTCOMES", "ROWS_PER_PAGE", "SAMPLE_POINTS", "outcome_counts", "pending_count",
           "raw_text", "row_page", "run_detail", "run_events", "run_page", "sample_points",
           "scatter_map", "shown"]

ROWS_PER_PAGE = 50
RUNS_PER_PAGE = 50
SAMPLE_POINTS = 2_000
RAW_SHOWN = 8_000  # characters of a raw row shown; the rest is in the database
MAX_ID = 2**63 - 1
MAX_ROW = 2**31 - 1  # import_row.row_number is an integer
STATUSES = ("running", "pending", "published", "refused", "failed")
# The row filters of a run page: name -> SQL condition (constants, never user text).
# ``changed``: a reference seen in an earlier run of the source, with other bytes now.
OUTCOMES = {"valid": "ir.outcome = 'valid'", "refused": "ir.outcome = 'invalid'",
            "changed": "ir.changed", "unchanged": "ir.outcome = 'unchanged'"}
ATTRIBUTION_MAX = 300
# From this many valid rows a decision runs as a background job (geo.jobs, run by
# `carte worker`): the request answers at once and the run page shows its progress.
# app.config["IMPORT_JOB_MIN_ROWS"] overrides it (0: always a job).
JOB_MIN_ROWS = 2_000
JOB_KINDS = ("import.publish", "import.refuse")
REASON_MAX = 1_000

# --- text shown to moderators ------------------------------------------------------------

def _invisible(ch: str) -> bool:
    # Bidi embeddings, overrides, isolates and marks, and every control character except
    # tab and newline: a moderator must see them, not have them reorder the page.
    return (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n") \
        or unicodedata.bidirectional(ch) in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI",
                                             "RLI", "FSI", "PDI")


def shown(value: Any) -> str:
    """User text with every control or bidi character made visible as ``⟨U+202E⟩``.

    The result is plain text: Jinja escapes it for HTML as usual. Bytes are decoded as
    UTF-8 with invalid sequences replaced (U+FFFD), so a bad file still shows.
    """
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", errors="replace")
    value = str(value)
    if not any(_invisible(ch) for ch in value):
        return value
    return "".join(f"⟨U+{ord(ch):04X}⟩" if _invisible(ch) else ch for ch in value)


def raw_text(raw: Any) -> tuple[str, bool]:
    """A raw row as text to show (decoded, made visible, cut), and whether it was cut."""
    text_ = shown(raw)
    return (text_[:RAW_SHOWN], True) if len(text_) > RAW_SHOWN else (text_, False)


# --- the map ------------------------------------------------------------------------------

def scatter_map(outlines: dict[str, svg.Outline], points: list[tuple[float, float]], *,
                frame: svg.Frame, size: int = 420, label: str = "") -> Markup:
    """An inline SVG of the city's arrondissements with one dot per point.

    Same frame as :mod:`moderation.svg` (the outlines are ``<use>`` references to the
    page's ``defs``); the dots are one path of zero-length round-capped segments, ~12
    bytes a point. Numbers only, and the label escaped.
    """
    from markupsafe import escape

    city = svg.city_outline(outlines)
    arrs = [o for _code, o in sorted(outlines.items()) if o.kind != "city"]
    extent = [o.bounds for o in ([city] if city else arrs)]
    projected = [frame.project(lon, lat) for lon, lat in points]
    xs = [b[0] for b in extent] + [b[2] for b in extent] + [p[0] for p in projected]
    ys = [b[1] for b in extent] + [b[3] for b in extent] + [p[1] for p in projected]
    if not xs:
        xs, ys = [-500.0, 500.0], [-500.0, 500.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = max(x1 - x0, y1 - y0) * 0.03
    x0, y0, w, h = x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    dot = max(w, h) / 110
    shapes = "".join(f'<use href="#area-{o.code}"/>' for o in arrs)
    dots = "".join(f"M{x:.0f},{y:.0f}h0" for x, y in projected)
    return Markup(  # noqa: S704
        f'<svg class="runmap" role="img" width="{size}" height="{size * h / w:.0f}" '
        f'viewBox="{x0:.0f} {y0:.0f} {w:.0f} {h:.0f}" preserveAspectRatio="xMidYMid meet">'
        f'<title>{escape(label)}</title>'
        f'<g fill="#e3ecd9" stroke="#5a7a3a" stroke-width="{dot / 3:.0f}">{shapes}</g>'
        f'<path d="{dots}" stroke="#c00" stroke-width="{dot:.0f}" stroke-linecap="round" '
        f'fill="none"/></svg>')


# --- reads ------------------------------------------------------------------------------

_RUN_COLUMNS = """
    r.id, r.source, r.file_name, r.file_size, r.status::text AS status, r.crs, r.category,
    r.started_at, r.finished_at, r.summary, r.options->>'attribution' AS attribution,
    r.decided_at, r.reason AS decision_reason, u.email AS decided_by
"""


def pending_count(session: Session) -> int:
    """How many runs wait for a decision (the navigation's badge)."""
    return int(session.execute(text(
        "SELECT count(*) FROM import_run WHERE status = 'pending'")).scalar_one())


def run_page(session: Session, *, status: str = "", before: int | None = None,
             limit: int = RUNS_PER_PAGE) -> list[Any]:
    """Runs newest first (keyset on the id), optionally of one status."""
    return session.execute(text(f"""
        SELECT {_RUN_COLUMNS} FROM import_run r LEFT JOIN app_user u ON u.id = r.decided_by
        WHERE (:status = '' OR r.status::text = :status)
          AND (CAST(:before AS bigint) IS NULL OR r.id < :before)
        ORDER BY r.id DESC LIMIT :lim
    """), {"status": status, "before": before, "lim": limit}).all()  # noqa: S608


def run_detail(session: Session, run_id: int) -> Any:
    """One run; :class:`NotFound` when there is none."""
    row = session.execute(text(f"""
        SELECT {_RUN_COLUMNS} FROM import_run r LEFT JOIN app_user u ON u.id = r.decided_by
        WHERE r.id = :id
    """), {"id": run_id}).one_or_none()  # noqa: S608
    if row is None:
        raise NotFound(f"no import {run_id}")
    return row


def outcome_counts(session: Session, run_id: int) -> dict[str, int]:
    """Rows of a run by filter (valid, refused, changed, unchanged), counted in the database.

    Keys are those of :data:`OUTCOMES`; the run's summary is what the importer counted,
    these are the rows actually stored.
    """
    filters = ", ".join(f"count(*) FILTER (WHERE {cond}) AS {name}"
                        for name, cond in OUTCOMES.items())
    row = session.execute(text(
        f"SELECT {filters} FROM import_row ir WHERE ir.run_id = :id"),  # noqa: S608
        {"id": run_id}).one()
    return dict(row._mapping)


def sample_points(session: Session, run_id: int, valid: int,
                  limit: int = SAMPLE_POINTS) -> list[tuple[float, float]]:
    """At most ``limit`` valid points of a run, spread over the file.

    Every k-th row number is probed through the primary key (k = valid / limit), rather
    than reading every row of the run: ~2,000 index probes instead of a 100,000-row scan.
    The valid rows among the probes are drawn (about ``limit`` when rows are mixed).
    """
    step = max(1, math.ceil(valid / limit))
    return [(lon, lat) for lon, lat in session.execute(text("""
        SELECT ST_X(ir.geom), ST_Y(ir.geom)
        FROM generate_series(CAST(:step AS integer), (
               SELECT coalesce(max(row_number), 0) FROM import_row WHERE run_id = :id),
             CAST(:step AS integer)) n
        JOIN import_row ir ON ir.run_id = :id AND ir.row_number = n
        WHERE ir.outcome = 'valid' AND ir.geom IS NOT NULL
        LIMIT :lim
    """), {"id": run_id, "step": step, "lim": limit})]


def row_page(session: Session, run_id: int, outcome: str, *, start: int = 1,
             limit: int = ROWS_PER_PAGE) -> list[Any]:
    """Rows of a run matching ``outcome`` (a key of :data:`OUTCOMES`) from row ``start``.

    In file order, keyset on the row number: the primary key (run, row number) serves
    the start, the filter and the order, so row 90,000 costs what row 1 costs.
    """
    return session.execute(text(f"""
        SELECT ir.row_number, ir.ref, ir.outcome::text AS outcome, ir.changed, ir.errors,
               import_row_raw(ir.run_id, ir.row_number) AS raw,
               ir.title, ir.category, c.label_fr AS category_label,
               a.name AS arr_name
        FROM import_row ir
        LEFT JOIN category c ON c.slug = ir.category
        LEFT JOIN area a ON a.id = ir.area_ids[1]
        WHERE ir.run_id = :id AND ir.row_number >= :start AND {OUTCOMES[outcome]}
        ORDER BY ir.row_number LIMIT :lim
    """), {"id": run_id, "start": start, "lim": limit}).all()  # noqa: S608


def run_events(session: Session, run_id: int) -> list[Any]:
    """The audit events of a run's decisions, newest first.

    Publishing also writes one event per feature (with the run's id); those are on each
    feature's own history, not repeated here.
    """
    return session.execute(text("""
        SELECT e.id, e.at, e.action::text AS action, e.reason, u.email AS actor
        FROM moderation_event e LEFT JOIN app_user u ON u.id = e.actor_id
        WHERE e.import_run_id = :id AND e.feature_id IS NULL ORDER BY e.id DESC LIMIT 100
    """), {"id": run_id}).all()


# --- pages --------------------------------------------------------------------------------

def _int_arg(name: str, value: str | None, *, default: int | None = None) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput({name: t("un nombre entier est attendu")}) from exc
    if not 0 < number <= MAX_ID:
        raise InvalidInput({name: t("hors limites")})
    return number


def _context(**kw: Any) -> dict[str, Any]:
    return {"t": t, "tn": tn, "lang": lang(), "shown": shown, **kw}


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    # The navigation's badge; a function, so pages without a moderator never query it.
    def pending_imports() -> int:
        if "pending_imports" not in g:
            g.pending_imports = pending_count(db())
        return int(g.pending_imports)
    return {"pending_imports": pending_imports}


@bp.get("/imports")
@require_role(MODERATOR)
def imports_page() -> str:
    """Import runs, newest first, filtered by status."""
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        raise InvalidInput({"status": t("état inconnu")})
    before = _int_arg("before", request.args.get("before"))
    rows = run_page(db(), status=status, before=before)
    older = rows[-1].id if len(rows) == RUNS_PER_PAGE else None
    return render_template("moderation/imports.html", **_context(
        runs=rows, status=status, statuses=STATUSES, older=older))


def _run_page(run_id: int, *, errors: dict[str, str] | None = None,
              values: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    outcome = request.args.get("outcome", "valid")
    if outcome not in OUTCOMES:
        raise InvalidInput({"outcome": t("valid, refused, changed ou unchanged")})
    start = _int_arg("start", request.args.get("start"), default=1) or 1
    if start > MAX_ROW:
        raise InvalidInput({"start": t("hors limites")})
    s = db()
    run = run_detail(s, run_id)
    counts = _finished_counts(s, run)
    valid = counts.get("valid", 0)
    shared = frame()
    outlines = svg.outlines(s, current_app.config["DATABASE_URL"], shared)
    points = sample_points(s, run_id, valid)
    label = tn("%(num)s point valide (échantillon de %(shown)s)",
               "%(num)s points valides (échantillon de %(shown)s)", valid, shown=len(points))
    rows = row_page(s, run_id, outcome, start=start)
    total = counts[outcome]
    return render_template("moderation/import_run.html", **_context(
        run=run, counts=counts, valid=valid, outcome=outcome, start=start, rows=rows,
        total=total, next_start=rows[-1].row_number + 1 if len(rows) == ROWS_PER_PAGE
        else None,
        map=scatter_map(outlines, points, frame=shared, label=label), defs=svg.defs(outlines),
        raw_text=raw_text, reasons=REASONS.values(), events=run_events(s, run_id),
        errors=errors or {}, values=values or {}, job=run_job(s, run_id))), status


@bp.get("/imports/<int:run_id>")
@require_role(MODERATOR)
def import_run_page(run_id: int) -> tuple[str, int]:
    """One run: summary, map of its valid rows, its rows by outcome, the decision."""
    if run_id > MAX_ID:
        raise NotFound(f"no import {run_id}")
    return _run_page(run_id)


_COUNTS: OrderedDict[tuple[str, int, Any], dict[str, int]] = OrderedDict()
_COUNTS_LOCK = threading.Lock()
_COUNTS_KEPT = 256


def _finished_counts(session: Session, run: Any) -> dict[str, int]:
    """:func:`outcome_counts`, remembered per process once the run has finished.

    A finished run's rows never change (``import_row`` is append-only and a run only
    writes rows while ``running``), so its counts, a scan of all its rows, are read once.
    The key includes the run's start time: a database recreated with the same ids
    (tests, a restored dump) does not reuse stale counts.
    """
    if run.status == "running":
        return outcome_counts(session, run.id)
    key = (current_app.config["DATABASE_URL"], run.id, run.started_at)
    with _COUNTS_LOCK:
        cached = _COUNTS.get(key)
    if cached is None:
        cached = outcome_counts(session, run.id)
        with _COUNTS_LOCK:
            _COUNTS[key] = cached
            while len(_COUNTS) > _COUNTS_KEPT:
                _COUNTS.popitem(last=False)
    return cached


def run_job(session: Session, run_id: int) -> dict[str, Any] | None:
    """The latest background decision on a run (its progress), if any."""
    from geo.jobs import job_status

    job_id = session.execute(text(
        "SELECT id FROM job WHERE kind = ANY(:k) AND payload->>'run_id' = :r "
        "ORDER BY id DESC LIMIT 1"), {"k": list(JOB_KINDS), "r": str(run_id)}).scalar()
    return job_status(session, job_id) if job_id is not None else None


def _as_job(run_id: int, kind: str, payload: dict[str, Any]) -> int | None:
    """Queue a decision on a run as a job; its id.

    ``None`` when one is already queued or the run was decided (the caller answers 409).
    """
    from geo.jobs import enqueue_job

    with Session(engine()) as s, s.begin():
        status = s.execute(text("SELECT status::text FROM import_run WHERE id = :r "
                                "FOR UPDATE"), {"r": run_id}).scalar()
        waiting = s.execute(text(
            "SELECT id FROM job WHERE status = 'queued' AND kind = ANY(:k) "
            "AND payload->>'run_id' = :r"), {"k": list(JOB_KINDS), "r": str(run_id)}).first()
        if status != "pending" or waiting is not None:
            return None
        return enqueue_job(s, kind, {"run_id": run_id, "actor_id": g.user.id, **payload},
                           created_by=g.user.id)


def _big(run_id: int) -> bool:
    limit = int(current_app.config.get("IMPORT_JOB_MIN_ROWS", JOB_MIN_ROWS))
    with Session(engine()) as s:
        run = run_detail(s, run_id)
        return _finished_counts(s, run).get("valid", 0) >= limit


@bp.get("/jobs/<int:job_id>")
@require_role(MODERATOR)
def job_page(job_id: int) -> Response:
    """A job's state as JSON (the run page polls it to draw its progress)."""
    import json

    from geo.jobs import job_status

    if job_id > MAX_ID:
        abort(404)
    status = job_status(db(), job_id)
    if status is None:
        raise NotFound(f"no job {job_id}")
    body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in status.items()}
    return Response(json.dumps(body), mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _conflict(run_id: int, exc: Exception) -> tuple[str, int]:
    return render_template(
        "moderation/message.html", status=409,
        title=t("Conflit : cet import a déjà été décidé"),
        message=t("Quelqu'un a déjà décidé de cet import ; rien n'a été modifié.")
        + f" ({exc})", back=f"/moderation/imports/{run_id}"), 409


@bp.post("/imports/<int:run_id>/<action>")
@require_role(MODERATOR)
def import_run_decide(run_id: int, action: str) -> Response | tuple[str, int]:
    """Publish the valid rows (with an attribution) | refuse the whole import."""
    if action not in ("publish", "refuse") or run_id > MAX_ID:
        abort(404)
    form = request.form
    with Session(engine()) as s:
        run_detail(s, run_id)  # 404 before anything else
    if action == "publish":
        attribution = " ".join(form.get("attribution", "").split())
        if not attribution:
            return _run_page(run_id, errors={"attribution": t(
                "indiquez à qui attribuer les points publiés")}, values=dict(form), status=400)
        if len(attribution) > ATTRIBUTION_MAX:
            return _run_page(run_id, errors={"attribution": t(
                "%(n)s caractères au plus", n=ATTRIBUTION_MAX)}, values=dict(form), status=400)
        if _big(run_id):
            if _as_job(run_id, "import.publish", {"attribution": attribution}) is None:
                return _conflict(run_id, RunAlreadyDecided(str(run_id)))
            flash(t("Import n° %(id)s : la publication est lancée en arrière-plan ; cette "
                    "page montre où elle en est.", id=run_id), "ok")
            return redirect(f"/moderation/imports/{run_id}", code=303)
        try:
            with Session(engine()) as s, s.begin():
                n = runs.publish_run(s, run_id, actor_id=g.user.id, attribution=attribution)
        except RunNotFound as exc:
            raise NotFound(str(exc)) from exc
        except RunAlreadyDecided as exc:
            return _conflict(run_id, exc)
        flash(tn("Import n° %(id)s : %(num)s point publié, attribué à « %(who)s ».",
                 "Import n° %(id)s : %(num)s points publiés, attribués à « %(who)s ».",
                 n, id=run_id, who=attribution), "ok")
    else:
        code = form.get("reason", "")
        message = " ".join(form.get("message", "").split())
        if code and code not in REASONS:
            return _run_page(run_id, errors={"reason": t("raison inconnue")},
                             values=dict(form), status=400)
        if not code and not message:
            return _run_page(run_id, errors={"reason": t(
                "choisissez une raison de la charte ou écrivez-la")}, values=dict(form),
                status=400)
        if len(message) > REASON_MAX:
            return _run_page(run_id, errors={"message": t(
                "%(n)s caractères au plus", n=REASON_MAX)}, values=dict(form), status=400)
        reason = ": ".join(p for p in (code, message) if p)
        if _big(run_id):
            if _as_job(run_id, "import.refuse", {"reason": reason}) is None:
                return _conflict(run_id, RunAlreadyDecided(str(run_id)))
            flash(t("Import n° %(id)s : le refus est lancé en arrière-plan ; cette page "
                    "montre où il en est.", id=run_id), "ok")
            return redirect(f"/moderation/imports/{run_id}", code=303)
        try:
            with Session(engine()) as s, s.begin():
                runs.refuse_run(s, run_id, actor_id=g.user.id, reason=reason)
        except RunNotFound as exc:
            raise NotFound(str(exc)) from exc
        except RunAlreadyDecided as exc:
            return _conflict(run_id, exc)
        flash(t("Import n° %(id)s refusé : aucun point publié.", id=run_id), "ok")
    return redirect(f"/moderation/imports/{run_id}", code=303)
