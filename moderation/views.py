"""The moderation pages under ``/moderation/`` and the public ``/charter``.

Views are thin: parse the form, call :mod:`moderation.actions` in one transaction,
redirect (303) with a flashed message, or show a conflict (409) / the form with its
errors (400). Every route is wrapped by :func:`~moderation.web.require_role`.
"""

from __future__ import annotations

from typing import Any

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

from . import actions, queue, svg
from .accounts import create_user, end_user_sessions
from .charter import LANGS, REASONS, charter_html
from .edits import parse_edits
from .errors import AccountError, Conflict, InvalidInput, NotFound
from .web import close_db, db, engine, require_role

__all__ = ["bp", "public_bp"]

bp = Blueprint("moderation", __name__, url_prefix="/moderation", template_folder="templates",
               static_folder="static", static_url_path="/static")
bp.teardown_app_request(close_db)
public_bp = Blueprint("charter", __name__, template_folder="templates")
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
                           title="Conflit : déjà traité / Conflict: already handled",
                           message=str(exc), back=back), 409


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> tuple[str, int]:
    return render_template("moderation/message.html", status=404, title="Introuvable",
                           message=str(exc), back="/moderation/"), 404


@bp.errorhandler(InvalidInput)
def _invalid(exc: InvalidInput) -> tuple[str, int]:
    return render_template("moderation/message.html", status=400,
                           title="Formulaire incorrect / Invalid form",
                           message="", errors=exc.errors,
                           back=request.referrer if _local(request.referrer) else "/moderation/"
                           ), 400


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)  # type: ignore[union-attr]


def _int(name: str, value: str | None) -> int:
    try:
        number = int(value or "")
    except ValueError as exc:
        raise InvalidInput({name: "un nombre entier est attendu / an integer is expected"}
                           ) from exc
    if not 0 < number <= MAX_ID:
        raise InvalidInput({name: "hors limites / out of range"})
    return number


def _write() -> Session:
    return Session(engine())


def frame() -> svg.Frame:
    """The small maps' frame, around the configured city's centre."""
    centre = current_app.config["CITY"].centre
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
                                        f"{r.arr_name or 'hors arrondissement'}")
    return maps, svg.defs(used)


# --- queue -------------------------------------------------------------------------------

@bp.get("/")
@require_role(MODERATOR)
def queue_page() -> str:
    """Pending submissions, oldest first, with filters; flagged features alongside."""
    filters = queue.QueueFilters(area=request.args.get("area", "")[:16],
                                 category=request.args.get("category", "")[:64],
                                 source=request.args.get("source", "")[:64])
    after = queue.parse_after(request.args.get("after"))
    s = db()
    rows, total = queue.pending_page(s, filters, after=after)
    maps, defs = _maps(rows)
    next_after = (f"{rows[-1].received_at.isoformat()}|{rows[-1].id}"
                  if len(rows) == queue.PAGE_SIZE else None)
    return render_template(
        "moderation/queue.html", rows=rows, total=total, filters=filters, maps=maps,
        defs=defs, next_after=next_after, areas=queue.area_choices(s),
        categories=queue.category_choices(s), sources=queue.source_choices(s),
        flagged=queue.flagged_features(s, limit=20), reasons=REASONS.values())


@bp.post("/bulk")
@require_role(MODERATOR)
def bulk() -> Response:
    """Approve or refuse the ticked submissions; conflicts are reported, not fatal."""
    action = request.form.get("action")
    if action not in ("approve", "refuse"):
        raise InvalidInput({"action": "approve ou refuse / approve or refuse"})
    items = request.form.getlist("items")
    if not items:
        raise InvalidInput({"items": "cochez au moins une soumission / tick at least one"})
    if len(items) > queue.PAGE_SIZE:
        raise InvalidInput({"items": f"{queue.PAGE_SIZE} au plus / at most {queue.PAGE_SIZE}"})
    pairs = []
    for item in items:
        sid, _, version = item.partition(":")
        pairs.append((_int("items", sid), _int("items", version)))
    reason, message = request.form.get("reason", ""), request.form.get("message", "")
    if action == "refuse" and reason not in REASONS:
        raise InvalidInput({"reason": "choisissez une raison de la charte / pick a reason"})
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
    verb = "approuvée(s)" if action == "approve" else "refusée(s)"
    if done:
        flash(f"{len(done)} soumission(s) {verb} : n° {', '.join(map(str, done))}.", "ok")
    if conflicts:
        flash(f"{len(conflicts)} déjà traitée(s) par quelqu'un d'autre, non modifiée(s) : "
              f"n° {', '.join(map(str, conflicts))}.", "conflict")
    return redirect(request.form.get("back") if (request.form.get("back") or "").startswith(
        "/moderation/") else "/moderation/", code=303)


# --- one submission ------------------------------------------------------------------------

def _submission_page(submission_id: int, *, errors: dict[str, str] | None = None,
                     values: dict[str, str] | None = None, status: int = 200
                     ) -> tuple[str, int]:
    s = db()
    item = queue.submission_detail(s, submission_id)
    nearby = queue.nearby_features(s, item.lon, item.lat, title=item.title or "")
    maps, defs = _maps([item], size=320)
    return render_template(
        "moderation/submission.html", item=item, nearby=nearby, map=maps[item.id], defs=defs,
        categories=queue.category_choices(s), reasons=REASONS.values(),
        events=queue.history(s, submission_id=submission_id), errors=errors or {},
        values=values or {}), status


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
    """Approve | edit (then approve) | refuse | merge | reopen."""
    if action not in ("approve", "edit", "refuse", "merge", "reopen") or submission_id > MAX_ID:
        abort(404)
    form = request.form
    version = _int("version", form.get("version"))
    uid = g.user.id
    if action == "edit":
        with _write() as s:
            slugs = actions.category_slugs(s)
        try:
            edits = parse_edits(form, categories=slugs)
            with _write() as s, s.begin():
                fid = actions.approve(s, submission_id, version, actor_id=uid, edits=edits)
        except InvalidInput as exc:
            return _submission_page(submission_id, errors=exc.errors, values=dict(form),
                                    status=400)
        flash(f"Soumission n° {submission_id} corrigée et publiée (point n° {fid}).", "ok")
    elif action == "approve":
        with _write() as s, s.begin():
            fid = actions.approve(s, submission_id, version, actor_id=uid)
        flash(f"Soumission n° {submission_id} publiée (point n° {fid}).", "ok")
    elif action == "refuse":
        with _write() as s, s.begin():
            actions.refuse(s, submission_id, version, actor_id=uid,
                           reason=form.get("reason", ""), message=form.get("message", ""))
        flash(f"Soumission n° {submission_id} refusée.", "ok")
    elif action == "merge":
        into = _int("into", form.get("into"))
        into_version = _int("into_version", form.get("into_version")) \
            if form.get("into_version") else None
        with _write() as s, s.begin():
            actions.merge_submission(s, submission_id, version, actor_id=uid, into=into,
                                     into_version=into_version, take=form.getlist("take"))
        flash(f"Soumission n° {submission_id} fusionnée dans le point n° {into}.", "ok")
    else:
        with _write() as s, s.begin():
            actions.reopen(s, submission_id, version, actor_id=uid)
        flash(f"Soumission n° {submission_id} remise dans la file.", "ok")
        return redirect(f"/moderation/submissions/{submission_id}", code=303)
    return redirect("/moderation/", code=303)


# --- features and flags -------------------------------------------------------------------

def _feature_page(feature_id: int, *, errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None, status: int = 200
                  ) -> tuple[str, int]:
    s = db()
    feature, flags = queue.feature_detail(s, feature_id)
    nearby = queue.nearby_features(s, feature.lon, feature.lat, title=feature.title,
                                   exclude=feature_id)
    maps, defs = _maps([feature], size=320)
    return render_template(
        "moderation/feature.html", feature=feature, flags=flags, nearby=nearby,
        map=maps[feature.id], defs=defs, reasons=REASONS.values(),
        categories=queue.category_choices(s), errors=errors or {}, values=values or {},
        events=queue.history(s, feature_id=feature_id)), status


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
        with _write() as s:
            slugs = actions.category_slugs(s)
        try:
            edits = parse_edits(form, categories=slugs)
            with _write() as s, s.begin():
                actions.edit_feature(s, feature_id, version, actor_id=uid, edits=edits)
        except InvalidInput as exc:
            return _feature_page(feature_id, errors=exc.errors, values=dict(form), status=400)
        flash(f"Point n° {feature_id} modifié.", "ok")
        return redirect(f"/moderation/features/{feature_id}", code=303)
    with _write() as s, s.begin():
        if action == "unpublish":
            actions.unpublish(s, feature_id, version, actor_id=uid,
                              reason=form.get("reason", ""), message=form.get("message", ""))
            done = "retiré de la carte"
        elif action == "restore":
            actions.restore(s, feature_id, version, actor_id=uid)
            done = "remis sur la carte"
        elif action == "dismiss":
            actions.dismiss_flags(s, feature_id, version, actor_id=uid)
            done = "gardé : signalements rejetés"
        else:
            into = _int("into", form.get("into"))
            actions.merge_feature(s, feature_id, version, actor_id=uid, into=into)
            done = f"fusionné dans le point n° {into}"
    flash(f"Point n° {feature_id} {done}.", "ok")
    return redirect(f"/moderation/features/{feature_id}", code=303)


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
    action = request.args.get("action", "")
    if action and action not in actions_known:
        raise InvalidInput({"action": "action inconnue / unknown action"})
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
    """Create an account with a generated password, shown once on the answer page."""
    import secrets

    password = secrets.token_urlsafe(15)
    try:
        with _write() as s, s.begin():
            user = create_user(s, request.form.get("email", ""), request.form.get("role", ""),
                               password)
            email = user.email
    except AccountError as exc:
        raise InvalidInput({"email": str(exc)}) from exc
    users = db().execute(text(
        "SELECT id, email, role::text AS role, active, created_at, last_login_at "
        "FROM app_user ORDER BY lower(email)")).all()
    response = render_template("moderation/users.html", users=users,
                               created={"email": email, "password": password})
    return Response(response, status=201, headers={"Cache-Control": "no-store"})


@bp.post("/users/<int:user_id>/<action>")
@require_role(UserRole.admin)
def users_change(user_id: int, action: str) -> Response:
    """Deactivate | activate | role (set the role); ends the account's sessions."""
    if action not in ("deactivate", "activate", "role") or user_id > 2**31:
        abort(404)
    if user_id == g.user.id and action != "activate":
        raise InvalidInput({"user": "vous ne pouvez pas modifier votre propre compte ici / "
                                    "you cannot change your own account here"})
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
    flash("Compte modifié ; ses sessions sont fermées.", "ok")
    return redirect("/moderation/users", code=303)


# --- public --------------------------------------------------------------------------------

@public_bp.get("/charter")
def charter() -> str:
    """The contributor charter, in French (default) or English (``?lang=en``)."""
    lang = request.args.get("lang", "fr")
    lang = lang if lang in LANGS else "fr"
    return render_template("moderation/charter.html", lang=lang, body=charter_html(lang))
