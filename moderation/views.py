"""The moderation pages under ``/moderation/`` and the public ``/charter``.

Views are thin: parse the form, call :mod:`moderation.actions` in one transaction,
redirect (303) with a flashed message, or show a conflict (409) / the form with its
errors (400). Every route is wrapped by :func:`~moderation.web.require_role`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.models import UserRole
from ingestion.categories import CategorySpec, specs_from_db

from . import actions, blocks, queue, svg
from .accounts import create_user, end_user_sessions
from .charter import LANGS, REASONS, Reason, charter_html
from .edits import parse_edits
from .errors import AccountError, Conflict, InvalidInput, NotFound
from .fields import from_form, shown, widgets
from .i18n import city, lang, outside_areas, t, template_globals, tn, zone
from .web import close_db, db, engine, require_role

__all__ = ["bp", "public_bp"]

bp = Blueprint("moderation", __name__, url_prefix="/moderation", template_folder="templates",
               static_folder="static", static_url_path="/static")
bp.teardown_app_request(close_db)
bp.context_processor(template_globals)
public_bp = Blueprint("charter", __name__, template_folder="templates")
public_bp.context_processor(template_globals)
MODERATOR = UserRole.moderator
MAX_ID = 2**63 - 1


@bp.after_request
def _no_store(response: Response) -> Response:
    # Moderation pages hold unpublished content: never kept by browsers or proxies.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict) -> tuple[str, int]:
    back = (f"/moderation/submissions/{exc.item_id}" if exc.kind == "submission"
            else f"/moderation/features/{exc.item_id}")
    return render_template("moderation/message.html", status=409,
                           title=t("Conflit : déjà traité"),
                           message=str(exc), back=back), 409


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> tuple[str, int]:
    return render_template("moderation/message.html", status=404, title=t("Introuvable"),
                           message=str(exc), back="/moderation/"), 404


def _field_word(name: str) -> str:
    """A form field as the moderator reads it on the form, not its code."""
    words = {"reason": t("Raison (charte)"), "message": t("Message au contributeur"),
             "into": t("N° du point à garder"), "items": t("Sélection"),
             "version": t("Version"), "action": t("Action"), "then": t("Après la décision"),
             "after": t("Position dans la file")}
    return words.get(name, name)


@bp.errorhandler(InvalidInput)
def _invalid(exc: InvalidInput) -> tuple[str, int]:
    return render_template("moderation/message.html", status=400,
                           title=t("Formulaire incorrect"),
                           message="", errors={_field_word(k): v for k, v in exc.errors.items()},
                           back=request.referrer if _local(request.referrer) else "/moderation/"
                           ), 400


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)  # type: ignore[union-attr]


def _int(name: str, value: str | None) -> int:
    try:
        number = int(value or "")
    except ValueError as exc:
        raise InvalidInput({name: t("un nombre entier est attendu")}) from exc
    if not 0 < number <= MAX_ID:
        raise InvalidInput({name: t("hors limites")})
    return number


def _write() -> Session:
    return Session(engine())


def _specs() -> dict[str, CategorySpec]:
    """Every category (active or not: an old item keeps its category) by slug."""
    if "mod_specs" not in g:
        g.mod_specs = specs_from_db(db())
    return g.mod_specs


def _edits(form: Any) -> dict[str, Any]:
    """The edit form checked by the submission rules (:mod:`ingestion.validation`)."""
    active = set(actions.category_slugs(db()))
    return parse_edits(form, categories={k: v for k, v in _specs().items() if k in active},
                       zone=zone(), lang=lang())


def _blocked(client_key: str | None) -> blocks.Block | None:
    return blocks.is_blocked(db(), client_key) if client_key else None


def _fields_of(item: Any, form: Any = None) -> dict[str, Any]:
    """The labelled fields of an item and its edit form's inputs.

    After a refused post the inputs hold what was typed, not the stored values.
    """
    specs = _specs()
    spec = specs.get(item.category)
    attributes = item.attributes or {}
    edit_spec = spec
    if form is not None:
        edit_spec = specs.get(form.get("category", "")) or spec
        attributes = from_form(edit_spec, form)
    return {"shown": shown(spec, item.attributes or {}, lang()),
            "widgets": widgets(edit_spec, attributes, lang())}


def frame() -> svg.Frame:
    """The small maps' frame, around the configured city's centre."""
    centre = city().centre
    return svg.Frame(centre.lon, centre.lat)


def _maps(rows: list[Any], size: int = 110) -> tuple[dict[int, Any], Any]:
    shared = frame()
    outlines = svg.outlines(db(), current_app.config["DATABASE_URL"], shared)
    used: dict[str, svg.Outline] = {}
    maps = {}
    for r in rows:
        outline = outlines.get(r.arr_code or "") or svg.city_outline(outlines)
        if outline:
            used[outline.code] = outline
        others = ((r.dup_lon, r.dup_lat),) if getattr(r, "dup_lon", None) is not None else ()
        maps[r.id] = svg.mini_map(outline, r.lon, r.lat, frame=shared, size=size,
                                  others=others,
                                  label=f"{r.lat:.5f}, {r.lon:.5f} — "
                                        f"{r.arr_name or outside_areas()}")
    return maps, svg.defs(used)


# --- queue -------------------------------------------------------------------------------

def _area_groups(s: Session) -> list[queue.AreaGroup]:
    """The area filter's choices: every level under its parent, in the city's words."""
    language = lang()
    words = {level.slug: level.label(language) or level.slug for level in city().levels}
    return queue.area_groups(queue.area_choices(s), lambda kind: words.get(kind, kind),
                             lambda level: t("%(level)s en entier", level=level))


SPAM_HIGH = 0.5
"""Spam score from which the queue marks a row as spam (red in ``_spam.html``, which
reads it as ``spam_high``) and no longer offers to approve it in one click."""
bp.context_processor(lambda: {"spam_high": SPAM_HIGH})


def quick_approve_risks(item: Any) -> list[str]:
    """Why ``item`` (a queue row or submission) must be read before it is approved.

    ``[]`` when one click is fine. A possible duplicate (of a published place or of
    another proposal) or a spam score at or above :data:`SPAM_HIGH` is approved only
    from the item's page, where the duplicate sits beside it; the queue shows a link to
    that page instead of its button, and :func:`decide` refuses a forged quick approval.
    """
    why = []
    if item.dup_id:
        why.append(t("doublon possible du point n° %(id)s", id=item.dup_id))
    if item.dup_sub_id:
        why.append(t("doublon possible de la proposition n° %(id)s", id=item.dup_sub_id))
    if (item.spam_score or 0) >= SPAM_HIGH:
        why.append(t("score de spam %(score)s (seuil %(limit)s)",
                     score=f"{item.spam_score:.2f}", limit=f"{SPAM_HIGH:.2f}"))
    return why


@bp.get("/")
@require_role(MODERATOR)
def queue_page() -> str:
    """Pending submissions, oldest first, with filters; flagged features alongside.

    Each row decides on its own (approve, or refuse with a reason): the forms post to
    the item's decision route with ``then=queue``, which comes back here at the same
    filters, scrolled to the next row (``#item-<id>``).
    """
    filters = queue.QueueFilters.of(request.args)
    after = queue.parse_after(request.args.get("after"))
    s = db()
    rows, total = queue.pending_page(s, filters, after=after)
    maps, defs = _maps(rows)
    specs, language = _specs(), lang()
    fields = {r.id: [f for f in shown(specs.get(r.category), r.attributes, language)
                     if not f.empty] for r in rows}
    next_after = (f"{rows[-1].received_at.isoformat()}|{rows[-1].id}"
                  if len(rows) == queue.PAGE_SIZE else None)
    return render_template(
        "moderation/queue.html", rows=rows, total=total, filters=filters, maps=maps,
        fields=fields,
        defs=defs, next_after=next_after, area_groups=_area_groups(s),
        after_raw=request.args.get("after", "") if after else "", flow_qs=_query(filters),
        categories=queue.category_choices(s), sources=queue.source_choices(s),
        flagged=queue.flagged_features(s, limit=20), reasons=REASONS.values(),
        risks={r.id: quick_approve_risks(r) for r in rows})


@bp.post("/bulk")
@require_role(MODERATOR)
def bulk() -> Response:
    """Approve or refuse the ticked submissions; conflicts are reported, not fatal."""
    action = request.form.get("action")
    if action not in ("approve", "refuse"):
        raise InvalidInput({"action": t("approuver ou refuser")})
    items = request.form.getlist("items")
    if not items:
        raise InvalidInput({"items": t("cochez au moins une soumission")})
    if len(items) > queue.PAGE_SIZE:
        raise InvalidInput({"items": t("%(n)s au plus", n=queue.PAGE_SIZE)})
    pairs = []
    for item in items:
        sid, _, version = item.partition(":")
        pairs.append((_int("items", sid), _int("items", version)))
    reason, message = request.form.get("reason", ""), request.form.get("message", "")
    if action == "refuse" and reason not in REASONS:
        raise InvalidInput({"reason": t("choisissez une raison de la charte")})
    done, conflicts = [], []
    # One transaction (one commit), a savepoint per item: a conflict on one item rolls
    # back that item only.
    with _write() as s, s.begin():
        for sid, version in pairs:
            try:
                with s.begin_nested():
                    if action == "approve":
                        actions.approve(s, sid, version, actor_id=g.user.id)
                    else:
                        actions.refuse(s, sid, version, actor_id=g.user.id, reason=reason,
                                       message=message)
                done.append(sid)
            except (Conflict, NotFound):
                conflicts.append(sid)
    if done:
        ids = ", ".join(map(str, done))
        flash(tn("%(num)s soumission approuvée : n° %(ids)s.",
                 "%(num)s soumissions approuvées : n° %(ids)s.", len(done), ids=ids)
              if action == "approve" else
              tn("%(num)s soumission refusée : n° %(ids)s.",
                 "%(num)s soumissions refusées : n° %(ids)s.", len(done), ids=ids), "ok")
    if conflicts:
        flash(tn("%(num)s déjà traitée par quelqu'un d'autre, non modifiée : n° %(ids)s.",
                 "%(num)s déjà traitées par quelqu'un d'autre, non modifiées : n° %(ids)s.",
                 len(conflicts), ids=", ".join(map(str, conflicts))), "conflict")
    return redirect(request.form.get("back") if (request.form.get("back") or "").startswith(
        "/moderation/") else "/moderation/", code=303)


# --- the moderator's flow: back to the queue where they were, or on to the next item --------

THEN = ("queue", "next")


def _query(filters: queue.QueueFilters, **more: str) -> str:
    """``?area=…&category=…`` of the filters that are set (and ``more``), or ``""``."""
    query = filters.query() | {k: v for k, v in more.items() if v}
    return "?" + urlencode(query) if query else ""


def _flow() -> tuple[str, queue.QueueFilters, str]:
    """Where the decision form asked to go next: ``(then, filters, after)``.

    Checked before deciding, so a forged field never follows a decision already made.
    ``then``: ``queue`` (the queue's own buttons), ``next`` (the item page), or ``""``
    (older forms, scripts: the queue, as before).
    """
    form = request.form
    then = form.get("then", "")
    if then not in ("", *THEN):
        raise InvalidInput({"then": "queue | next"})
    after = form.get("f_after", "")[:80]
    queue.parse_after(after)  # InvalidInput when forged
    return then, queue.QueueFilters.of(form, prefix="f_"), after


def _short_title(submission_id: int) -> str:
    """The item's title for the notice, cut at 80 characters."""
    title = db().execute(text("SELECT title FROM submission WHERE id = :i"),
                         {"i": submission_id}).scalar() or ""
    return title if len(title) <= 80 else title[:79] + "…"


def _onwards(submission_id: int, flow: tuple[str, queue.QueueFilters, str]) -> Response:
    """After a decision: the queue at the same filters and place, or the next item.

    ``then=queue``: the queue (its page, ``after``, kept), scrolled to the row that
    followed the decided one (or the one before it, at the end). ``then=next``: the
    next waiting item of the same filters, oldest first, wrapping to the oldest one
    skipped above; the queue when nothing else waits.
    """
    then, filters, after = flow
    s = db()
    if then == "queue":
        anchor = (queue.neighbour(s, filters, submission_id)
                  or queue.neighbour(s, filters, submission_id, forward=False))
        query = _query(filters, after=after)
        return redirect(f"/moderation/{query}" + (f"#item-{anchor}" if anchor else ""),
                        code=303)
    if then == "next":
        following = queue.neighbour(s, filters, submission_id, wrap=True)
        if following is not None:
            flash(t("Suivante dans la file : n° %(id)s.", id=following), "ok")
            return redirect(f"/moderation/submissions/{following}{_query(filters)}", code=303)
        flash(t("Rien en attente avec ces filtres.") if filters.query()
              else t("Rien en attente."), "ok")
        return redirect(f"/moderation/{_query(filters)}", code=303)
    return redirect("/moderation/", code=303)


def _quick_approve_refused(submission_id: int, filters: queue.QueueFilters
                           ) -> tuple[str, int] | None:
    """The 409 page when the queue's one-click approval is not for this item, else None.

    Checked on the server (a forged or stale queue form gets the same answer): the
    message names why, and links to the item page where it can be approved.
    """
    why = quick_approve_risks(queue.submission_detail(db(), submission_id))
    if not why:
        return None
    return render_template(
        "moderation/message.html", status=409, title=t("Approbation en un clic refusée"),
        message=t("n° %(sid)s n'est pas approuvé : %(why)s. Ouvrez la soumission pour la "
                  "comparer avant d'approuver.", sid=submission_id, why=" ; ".join(why)),
        back=f"/moderation/submissions/{submission_id}{_query(filters)}"), 409


def _reason_word(code: str) -> str:
    reason = REASONS.get(code) or Reason(code, code, code)
    return reason.en if lang() == "en" else reason.fr


# --- one submission ------------------------------------------------------------------------

def _submission_page(submission_id: int, *, errors: dict[str, str] | None = None,
                     form: Any = None, status: int = 200) -> tuple[str, int]:
    s = db()
    item = queue.submission_detail(s, submission_id)
    # The queue's filters travel with the item (links and forms), so "next" stays in
    # the moderator's selection; a refused edit keeps them from its form.
    filters = (queue.QueueFilters.of(request.form, prefix="f_") if request.method == "POST"
               else queue.QueueFilters.of(request.args))
    values = dict(form) if form is not None else {}
    nearby = queue.nearby_features(s, item.lon, item.lat, title=item.title or "")
    maps, defs = _maps([item], size=320)
    return render_template(
        "moderation/submission.html", item=item, nearby=nearby, map=maps[item.id], defs=defs,
        categories=queue.category_choices(s), reasons=REASONS.values(),
        events=queue.history(s, submission_id=submission_id), errors=errors or {},
        values=values, blocked=_blocked(item.client_key), filters=filters,
        flow_qs=_query(filters), next_id=queue.neighbour(s, filters, submission_id),
        prev_id=queue.neighbour(s, filters, submission_id, forward=False),
        **_fields_of(item, form)), status


@bp.get("/submissions/<int:submission_id>")
@require_role(MODERATOR)
def submission_page(submission_id: int) -> tuple[str, int]:
    """One submission: map, fields, duplicate side by side, decisions, history."""
    if submission_id > MAX_ID:
        raise NotFound(f"no submission {submission_id}")
    return _submission_page(submission_id)


@bp.post("/submissions/<int:submission_id>/<action>")
@require_role(MODERATOR)
def decide(submission_id: int, action: str) -> Response | tuple[str, int]:
    """Approve | edit (then approve) | refuse | merge | reopen.

    The item page and the queue's own buttons post here alike (one code path: same
    checks, audit, mail to the resident, publication); their ``then`` field says where
    to go afterwards (:func:`_onwards`). The notice names what was decided.
    """
    if action not in ("approve", "edit", "refuse", "merge", "reopen") or submission_id > MAX_ID:
        abort(404)
    form = request.form
    version = _int("version", form.get("version"))
    flow = _flow()
    uid = g.user.id
    if action == "edit":
        try:
            edits = _edits(form)
            with _write() as s, s.begin():
                fid = actions.approve(s, submission_id, version, actor_id=uid, edits=edits)
        except InvalidInput as exc:
            return _submission_page(submission_id, errors=exc.errors, form=form, status=400)
        flash(t("n° %(sid)s « %(title)s » corrigé et approuvé : publié sur la carte "
                "(point n° %(fid)s).", sid=submission_id, title=_short_title(submission_id),
                fid=fid), "ok")
    elif action == "approve":
        if flow[0] == "queue":
            refused = _quick_approve_refused(submission_id, flow[1])
            if refused is not None:
                return refused
        with _write() as s, s.begin():
            fid = actions.approve(s, submission_id, version, actor_id=uid)
        flash(t("n° %(sid)s « %(title)s » approuvé : publié sur la carte (point n° %(fid)s).",
                sid=submission_id, title=_short_title(submission_id), fid=fid), "ok")
    elif action == "refuse":
        reason = form.get("reason", "")
        with _write() as s, s.begin():
            actions.refuse(s, submission_id, version, actor_id=uid,
                           reason=reason, message=form.get("message", ""))
        flash(t("n° %(sid)s « %(title)s » refusé : %(reason)s.", sid=submission_id,
                title=_short_title(submission_id), reason=_reason_word(reason.strip())), "ok")
    elif action == "merge":
        into = _int("into", form.get("into"))
        into_version = _int("into_version", form.get("into_version")) \
            if form.get("into_version") else None
        with _write() as s, s.begin():
            actions.merge_submission(s, submission_id, version, actor_id=uid, into=into,
                                     into_version=into_version, take=form.getlist("take"))
        flash(t("n° %(sid)s « %(title)s » fusionné dans le point n° %(fid)s.",
                sid=submission_id, title=_short_title(submission_id), fid=into), "ok")
    else:
        with _write() as s, s.begin():
            actions.reopen(s, submission_id, version, actor_id=uid)
        flash(t("Soumission n° %(sid)s remise dans la file.", sid=submission_id), "ok")
        return redirect(f"/moderation/submissions/{submission_id}", code=303)
    return _onwards(submission_id, flow)


# --- features and flags -------------------------------------------------------------------

def _feature_page(feature_id: int, *, errors: dict[str, str] | None = None,
                  form: Any = None, status: int = 200) -> tuple[str, int]:
    s = db()
    feature, flags = queue.feature_detail(s, feature_id)
    values = dict(form) if form is not None else {}
    nearby = queue.nearby_features(s, feature.lon, feature.lat, title=feature.title,
                                   exclude=feature_id)
    maps, defs = _maps([feature], size=320)
    return render_template(
        "moderation/feature.html", feature=feature, flags=flags, nearby=nearby,
        map=maps[feature.id], defs=defs, reasons=REASONS.values(),
        categories=queue.category_choices(s), errors=errors or {}, values=values,
        events=queue.history(s, feature_id=feature_id),
        blocked_flags={fl.id: _blocked(fl.client_key) for fl in flags
                       if fl.status == "open"}, **_fields_of(feature, form)), status


@bp.get("/features/<int:feature_id>")
@require_role(MODERATOR)
def feature_page(feature_id: int) -> tuple[str, int]:
    """A feature: state, flags, history; unpublish, restore, dismiss flags, merge, edit."""
    if feature_id > MAX_ID:
        raise NotFound(f"no feature {feature_id}")
    return _feature_page(feature_id)


@bp.post("/features/<int:feature_id>/<action>")
@require_role(MODERATOR)
def feature_action(feature_id: int, action: str) -> Response | tuple[str, int]:
    """Unpublish | restore | dismiss | merge | edit."""
    if action not in ("unpublish", "restore", "dismiss", "merge", "edit") \
            or feature_id > MAX_ID:
        abort(404)
    form = request.form
    version = _int("version", form.get("version"))
    uid = g.user.id
    if action == "edit":
        try:
            edits = _edits(form)
            with _write() as s, s.begin():
                actions.edit_feature(s, feature_id, version, actor_id=uid, edits=edits)
        except InvalidInput as exc:
            return _feature_page(feature_id, errors=exc.errors, form=form, status=400)
        flash(t("Point n° %(fid)s modifié.", fid=feature_id), "ok")
        return redirect(f"/moderation/features/{feature_id}", code=303)
    with _write() as s, s.begin():
        if action == "unpublish":
            actions.unpublish(s, feature_id, version, actor_id=uid,
                              reason=form.get("reason", ""), message=form.get("message", ""))
            done = t("Point n° %(fid)s retiré de la carte.", fid=feature_id)
        elif action == "restore":
            actions.restore(s, feature_id, version, actor_id=uid)
            done = t("Point n° %(fid)s remis sur la carte.", fid=feature_id)
        elif action == "dismiss":
            actions.dismiss_flags(s, feature_id, version, actor_id=uid)
            done = t("Point n° %(fid)s gardé : signalements rejetés.", fid=feature_id)
        else:
            into = _int("into", form.get("into"))
            actions.merge_feature(s, feature_id, version, actor_id=uid, into=into)
            done = t("Point n° %(fid)s fusionné dans le point n° %(into)s.", fid=feature_id,
                     into=into)
    flash(done, "ok")
    return redirect(f"/moderation/features/{feature_id}", code=303)


# --- blocks ---------------------------------------------------------------------------------

def _block(client_key: str | None, **where: int | None) -> None:
    form = request.form
    try:
        network = blocks.parse_network(form.get("network", ""))
        with _write() as s, s.begin():
            blocks.block(s, actor_id=g.user.id, client_key=client_key, network=network,
                         duration=form.get("duration", ""), reason=form.get("reason", ""),
                         **where)
    except InvalidInput as exc:  # messages of blocks.py are French msgids
        raise InvalidInput({k: t(v) for k, v in exc.errors.items()}) from exc
    flash(t("Client bloqué : ses soumissions et signalements sont refusés."), "ok")


@bp.post("/submissions/<int:submission_id>/block")
@require_role(MODERATOR)
def block_submitter(submission_id: int) -> Response:
    """Block the client key (and optionally a range) that sent a submission."""
    if submission_id > MAX_ID:
        abort(404)
    item = queue.submission_detail(db(), submission_id)
    _block(item.client_key, submission_id=submission_id)
    return redirect(f"/moderation/submissions/{submission_id}", code=303)


@bp.post("/flags/<int:flag_id>/block")
@require_role(MODERATOR)
def block_flagger(flag_id: int) -> Response:
    """Block the client key (and optionally a range) that sent a flag."""
    if flag_id > MAX_ID:
        abort(404)
    row = db().execute(text("SELECT feature_id, client_key FROM flag WHERE id = :i"),
                       {"i": flag_id}).one_or_none()
    if row is None:
        raise NotFound(f"no flag {flag_id}")
    _block(row.client_key, feature_id=row.feature_id, flag_id=flag_id)
    return redirect(f"/moderation/features/{row.feature_id}", code=303)


@bp.get("/blocks")
@require_role(MODERATOR)
def blocks_page() -> str:
    """Live blocks, each with its reason, end and a button to lift it."""
    return render_template("moderation/blocks.html", blocks=blocks.active_blocks(db()))


@bp.post("/blocks/<int:block_id>/lift")
@require_role(MODERATOR)
def lift_block(block_id: int) -> Response:
    """Lift a block now (audited)."""
    if block_id > MAX_ID:
        abort(404)
    with _write() as s, s.begin():
        blocks.lift(s, block_id, actor_id=g.user.id)
    flash(t("Blocage n° %(id)s levé.", id=block_id), "ok")
    return redirect("/moderation/blocks", code=303)


@bp.get("/flags")
@require_role(MODERATOR)
def flags_page() -> str:
    """Every feature with open flags, hidden ones first."""
    return render_template("moderation/flags.html", flagged=queue.flagged_features(db(),
                                                                                  limit=500))


@bp.get("/audit")
@require_role(MODERATOR)
def audit_page() -> str:
    """Every moderation event, newest first, filterable by moderator and action."""
    from geo.models import ModerationAction

    actions_known = [a.value for a in ModerationAction]
    actions_known += [a for a in ("block", "unblock") if a not in actions_known]
    action = request.args.get("action", "")
    if action and action not in actions_known:
        raise InvalidInput({"action": t("action inconnue")})
    before = _int("before", request.args["before"]) if request.args.get("before") else None
    actor = request.args.get("actor", "")[:254]
    imports = request.args.get("imports") == "1"
    events = queue.recent_events(db(), actor=actor, action=action, before_id=before,
                                 runs_only=imports)
    return render_template("moderation/audit.html", events=events, actor=actor,
                           action=action, actions=actions_known, imports=imports,
                           older=events[-1].id if len(events) == 100 else None)


# --- accounts (admin only) ----------------------------------------------------------------

@bp.get("/users")
@require_role(UserRole.admin)
def users_page() -> str:
    """Accounts and their roles."""
    users = db().execute(text(
        "SELECT id, email, role::text AS role, active, created_at, last_login_at "
        "FROM app_user ORDER BY lower(email)")).all()
    return render_template("moderation/users.html", users=users, created=None)


@bp.post("/users")
@require_role(UserRole.admin)
def users_add() -> tuple[str, int] | Response:
    """Invite a moderator by e-mail, or create an account with a generated password.

    ``invite=1`` sends a link to choose a password; otherwise the generated password is
    shown once on the answer page.
    """
    import secrets

    from .auth import send_link

    invite = request.form.get("invite") == "1"
    password = secrets.token_urlsafe(15)
    try:
        with _write() as s, s.begin():
            user = create_user(s, request.form.get("email", ""), request.form.get("role", ""),
                               password)
            email = user.email
            if invite:
                # Nobody knows the generated password: the invitation link sets one.
                send_link(s, user.id, email, "invite", minutes=60 * int(
                    current_app.config.get("INVITATION_TTL_HOURS", 168)))
    except AccountError as exc:
        raise InvalidInput({"email": str(exc)}) from exc
    users = db().execute(text(
        "SELECT id, email, role::text AS role, active, created_at, last_login_at "
        "FROM app_user ORDER BY lower(email)")).all()
    response = render_template("moderation/users.html", users=users,
                               invited=email if invite else None,
                               created=None if invite else {"email": email,
                                                            "password": password})
    return Response(response, status=201, headers={"Cache-Control": "no-store"})


@bp.post("/users/<int:user_id>/<action>")
@require_role(UserRole.admin)
def users_change(user_id: int, action: str) -> Response:
    """Deactivate | activate | role (set the role); ends the account's sessions."""
    if action not in ("deactivate", "activate", "role") or user_id > 2**31:
        abort(404)
    if user_id == g.user.id and action != "activate":
        raise InvalidInput({"user": t("vous ne pouvez pas modifier votre propre compte ici")})
    with _write() as s, s.begin():
        if action == "role":
            role = request.form.get("role", "")
            if role not in ("moderator", "admin"):
                raise InvalidInput({"role": "moderator ou admin"})
            n = s.execute(text("UPDATE app_user SET role = CAST(:r AS user_role) WHERE id = :i"),
                          {"r": role, "i": user_id}).rowcount
        else:
            n = s.execute(text("UPDATE app_user SET active = :a WHERE id = :i"),
                          {"a": action == "activate", "i": user_id}).rowcount
        if not n:
            raise NotFound(f"no account {user_id}")
        end_user_sessions(s, user_id)
    flash(t("Compte modifié ; ses sessions sont fermées."), "ok")
    return redirect("/moderation/users", code=303)


# --- public --------------------------------------------------------------------------------

@public_bp.get("/charter")
def charter() -> str:
    """The contributor charter, in the language chosen like the map's."""
    language = lang()
    language = language if language in LANGS else "fr"
    return render_template("moderation/charter.html", body=charter_html(language))
