"""Residents' photos in moderation (issue 19 item 4): see them, hide, remove or restore one.

* The queue shows each pending submission's thumbnails; a submission's and a feature's
  page show every photo at display size with its licence, credit, alt text and state.
  Pending photos are not public, so moderators get them from their own route,
  ``GET /moderation/photos/<id>/<thumb|display>`` (moderators only, ``no-store``), which
  serves the re-encodings of a photo in any state but ``removed``/``refused``; the
  public ``/photos/<key>`` serves only ``ready`` photos of published features.
* ``POST /moderation/photos/<id>/<hide|remove|restore>`` with a ``reason`` (required)
  changes one photo without refusing or unpublishing its item:

  ======== ====================== ==============================================
  action   photo status           what else
  ======== ====================== ==============================================
  hide     ready → hidden          reversible; the files stay
  restore  hidden → ready          linked to the feature its submission became
  remove   any → removed           final; its re-encodings are deleted from the
                                   public store (unless another photo row shares
                                   the same bytes)
  ======== ====================== ==============================================

  Each decision is one audited ``moderation_event`` (action ``edit``, reason
  ``photo_removed: photo n° <id> masquée — <the moderator's text>`` or
  ``photo_added: …``). When the photo belongs to a published feature, the decision is
  made through :func:`geo.publish.revise_feature` (the event is that version's, its
  before/after the feature's), so the feature gets a new version: its ``updated_at``
  moves (exports re-run, caches revalidate) and the change feed lists a ``changed``
  entry whose ``reason`` is ``photo_removed`` (or ``photo_added``) and whose ``photos``
  no longer hold it.

  The moderator's reason is also kept on the photo row (``refusal_reason``, cleared on
  restore): the resident's tracking page shows "masquée par la modération : <reason>".
* The resident hears of it (:func:`notify_photo`): when they left an address with the
  submission or correction the photo came with, a hide or a removal queues a mail in
  their language (templates ``photo_hidden``, ``photo_removed``) with the reason and a
  signed link to their tracking page (:mod:`ingestion.track_links`: their own link is
  stored hashed, so it cannot be written again). A restore queues a short
  ``photo_restored`` notice: the resident was told the photo was hidden, and the last
  word they have from us should not stay wrong (nor make them send it again).

Routes are added to the moderation blueprint; the templates call :func:`photos_of` and
:func:`queue_photos` (a context processor).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, request
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.models import Feature, FeatureStatus, ModerationAction, ModerationEvent
from geo.publish import revise_feature
from ingestion.track_links import mailed_token
from mail.config import MailSettings
from mail.outbox import enqueue_mail
from photos.storage import KEY, Storage

from .errors import InvalidInput, NotFound
from .i18n import N_, t, translate
from .views import MAX_ID, MODERATOR, bp
from .web import db, engine, require_role

__all__ = ["ACTIONS", "PHOTO_REASON_CODES", "PhotoDecision", "decide_photo", "notify_photo",
           "photos_of", "queue_photos"]

MAX_REASON = 1000
# action: (statuses it applies to, status after, public reason code)
ACTIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "hide": (frozenset({"ready"}), "hidden", "photo_removed"),
    "restore": (frozenset({"hidden"}), "ready", "photo_added"),
    "remove": (frozenset({"ready", "hidden", "quarantined"}), "removed", "photo_removed"),
}
PHOTO_REASON_CODES = frozenset(code for _, _, code in ACTIONS.values())
"""Reason codes the change feed shows on a ``changed`` entry (:mod:`moderation.changes`)."""
SIZES = {"thumb": "thumb_key", "display": "display_key"}
MEDIA = {"jpg": "image/jpeg", "webp": "image/webp"}

_COLUMNS = """p.id, p.submission_id, p.correction_id, p.feature_id, p.status, p.refusal_reason,
    p.original_name, p.width, p.height, p.display_key, p.thumb_key, p.licence, p.author,
    p.alt, p.position, p.created_at, p.decided_at, u.email AS decided_by"""
_FROM = "FROM photo p LEFT JOIN app_user u ON u.id = p.decided_by"
_ORDER = "ORDER BY p.position NULLS LAST, p.id"


@dataclass(frozen=True)
class PhotoDecision:
    """What :func:`decide_photo` did: the photo, its new status, the feature touched."""

    photo_id: int
    status: str
    feature_id: int | None
    new_version: int | None     # the feature's new version when it was published
    orphaned_keys: tuple[str, ...]  # public keys no photo row needs any more


def _state(row: Any) -> dict[str, Any]:
    return {"id": row.id, "status": row.status, "feature_id": row.feature_id,
            "submission_id": row.submission_id, "correction_id": row.correction_id}


def decide_photo(session: Session, photo_id: int, action: str, *, actor_id: int | None,
                 reason: str) -> PhotoDecision:
    """Hide, restore or remove one photo, audited, in the caller's transaction.

    Raises
    ------
    InvalidInput
        Unknown action, empty or too long reason, or a photo whose status the action
        does not apply to (e.g. restoring a removed photo).
    NotFound
        No such photo.
    """
    if action not in ACTIONS:
        raise InvalidInput({"action": t("masquer, retirer ou rétablir")})
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": t("donnez une raison")})
    if len(reason) > MAX_REASON:
        raise InvalidInput({"reason": t("%(n)s caractères au plus", n=MAX_REASON)})
    before = session.execute(text(
        "SELECT id, status, feature_id, submission_id, correction_id, display_key, thumb_key "
        "FROM photo WHERE id = :id FOR UPDATE"), {"id": photo_id}).one_or_none()
    if before is None:
        raise NotFound(f"no photo {photo_id}")
    allowed, status, code = ACTIONS[action]
    if before.status not in allowed:
        raise InvalidInput({"action": t("impossible pour une photo dans l'état « %(s)s »",
                                        s=before.status)})
    after = session.execute(text("""
        UPDATE photo p SET status = :status, decided_at = now(), decided_by = :actor,
               refusal_reason = CASE WHEN :status = 'ready' THEN NULL ELSE :reason END,
               feature_id = CASE WHEN :status = 'ready' THEN coalesce(p.feature_id,
                   (SELECT s.feature_id FROM submission s
                    WHERE s.id = p.submission_id AND s.status = 'approved'))
                 ELSE p.feature_id END
        WHERE p.id = :id
        RETURNING id, status, feature_id, submission_id, correction_id
    """), {"status": status, "actor": actor_id, "id": photo_id, "reason": reason}).one()
    what = {"hide": "masquée", "restore": "rétablie", "remove": "retirée"}[action]
    audit_reason = f"{code}: photo n° {photo_id} {what} — {reason}"
    new_version = None
    feature = (session.get(Feature, after.feature_id, with_for_update=True)
               if after.feature_id is not None else None)
    if feature is not None and feature.status == FeatureStatus.published:
        # A public change: a new version of the feature (change feed, exports, caches).
        revised = revise_feature(session, feature.id, {}, expected_version=feature.version,
                                 action=ModerationAction.edit, actor_id=actor_id,
                                 reason=audit_reason)
        new_version = revised.version  # its audit event (append-only) carries the reason
    else:
        session.add(ModerationEvent(
            actor_id=actor_id, action=ModerationAction.edit,
            submission_id=after.submission_id, feature_id=after.feature_id,
            reason=audit_reason, before={"photo": _state(before)},
            after={"photo": _state(after)}))
    orphaned: tuple[str, ...] = ()
    if status == "removed":
        keys = [k for k in (before.display_key, before.thumb_key) if k]
        still = set(session.scalars(text(
            "SELECT k FROM photo, LATERAL unnest(ARRAY[display_key, thumb_key]) k "
            "WHERE k = ANY(:keys) AND status IN ('ready', 'hidden', 'quarantined') "
            "AND id <> :id"), {"keys": keys, "id": photo_id}))
        orphaned = tuple(k for k in keys if k not in still)
    session.flush()
    return PhotoDecision(photo_id, status, after.feature_id, new_version, orphaned)


# --- the resident hears of it ---------------------------------------------------------------

_OWNER = text("""
    SELECT ph.id, ph.position, ph.original_name, ph.submission_id, ph.correction_id,
           coalesce(s.lang, c.lang) AS lang, r.id AS address_id, r.email,
           coalesce(s.title, f.title) AS title,
           (ph.status = 'ready' AND pf.status = 'published') AS published,
           coalesce(pf.status = 'published', false) AS on_map,
           (SELECT count(*) FROM photo o
            WHERE (o.submission_id = ph.submission_id OR o.correction_id = ph.correction_id)
              AND (coalesce(o.position, 32767), o.id)
                  <= (coalesce(ph.position, 32767), ph.id)) AS rank
    FROM photo ph
    LEFT JOIN submission s ON s.id = ph.submission_id
    LEFT JOIN correction c ON c.id = ph.correction_id
    LEFT JOIN feature f ON f.id = c.feature_id
    LEFT JOIN feature pf ON pf.id = ph.feature_id
    JOIN resident_address r ON r.id = coalesce(s.resident_address_id, c.resident_address_id)
    WHERE ph.id = :id
""")
_TEMPLATES = {"hide": "photo_hidden", "remove": "photo_removed", "restore": "photo_restored"}


def notify_photo(session: Session, photo_id: int, action: str, reason: str, *,
                 secret: str | bytes, settings: MailSettings | None = None) -> int | None:
    """Queue the mail telling a resident what a moderator did to their photo.

    In the decision's transaction, after :func:`decide_photo`; the outbox id, or
    ``None`` when the photo came with no address (a signed-in resident's address is
    not read here: only the one given with the item, as for decisions). The photo is
    named as on the tracking page ("photo n° 2 « IMG_1.jpg »").
    """
    row = session.execute(_OWNER, {"id": photo_id}).one_or_none()
    if row is None or action not in _TEMPLATES:
        return None
    settings = settings or MailSettings.from_env()
    lang = "en" if (row.lang or "").lower().startswith("en") else "fr"
    n = row.position or row.rank
    name = row.original_name
    photo = (translate(N_("photo n° %(n)s (« %(name)s »)"), lang) if name
             else translate(N_("photo n° %(n)s"), lang)) % {"n": n, "name": name}
    kind = "submission" if row.submission_id is not None else "correction"
    item_id = row.submission_id if kind == "submission" else row.correction_id
    url = settings.url(f"/track/{mailed_token(secret, kind, item_id)}?lang={lang}")
    context = {"title": row.title or "", "photo": photo, "reason": reason.strip(),
               "url": url, "published": bool(row.published),
               "on_map": bool(row.on_map)}  # the place it shows on is public
    return enqueue_mail(session, to=row.email, template=_TEMPLATES[action], lang=lang,
                        context=context, address_id=row.address_id, settings=settings)


# --- what the templates read ------------------------------------------------------------

def photos_of(kind: str, item_id: int, submission_id: int | None = None) -> list[Any]:
    """Every photo of a submission or a feature (any status), in the resident's order.

    A feature's photos include those of the submission it came from that are not linked
    to it (hidden before approval), so that a moderator can still restore them.
    """
    where = {"submission": "p.submission_id = :id",
             "correction": "p.correction_id = :id",
             "feature": "(p.feature_id = :id OR (CAST(:sid AS bigint) IS NOT NULL "
                        "AND p.submission_id = :sid))"}[kind]
    sql = f"SELECT {_COLUMNS} {_FROM} WHERE {where} {_ORDER}"
    return db().execute(text(sql), {"id": item_id, "sid": submission_id}).all()


def queue_photos(submission_ids: Iterable[int]) -> dict[int, list[Any]]:
    """The photos of the queue's submissions, by submission (one query for the page)."""
    ids = list(submission_ids)
    out: dict[int, list[Any]] = defaultdict(list)
    if not ids:
        return out
    sql = (f"SELECT {_COLUMNS} {_FROM} "
           f"WHERE p.submission_id = ANY(:ids) AND p.status <> 'removed' {_ORDER}")
    rows = db().execute(text(sql), {"ids": ids}).all()
    for row in rows:
        out[row.submission_id].append(row)
    return out


@bp.context_processor
def _template_functions() -> dict[str, Any]:
    return {"photos_of": photos_of, "queue_photos": queue_photos}


# --- routes -------------------------------------------------------------------------------

def public_store() -> Storage:
    """The store of public re-encodings: the one uploads write to.

    Read from :func:`ingestion.api.photo_setup` (the ``PHOTO_*`` settings), so both
    sides always agree on where the bytes are.
    """
    from ingestion.api import photo_setup

    return photo_setup(current_app._get_current_object()).public  # type: ignore[attr-defined]


@bp.get("/photos/<int:photo_id>/<size>")
@require_role(MODERATOR)
def photo_bytes(photo_id: int, size: str) -> Response:
    """A photo's thumbnail or display size, for moderators, whatever its state.

    Only our re-encodings (never the file as received); 404 for a removed or refused
    photo, or one still being processed.
    """
    if size not in SIZES or photo_id > MAX_ID:
        abort(404)
    key = db().execute(text(
        f"SELECT {SIZES[size]} FROM photo WHERE id = :id "  # noqa: S608 (a constant)
        "AND status NOT IN ('removed', 'refused')"), {"id": photo_id}).scalar()
    if not key or not KEY.match(key):
        abort(404)
    data = public_store().get(key)
    if data is None:
        abort(404)
    response = Response(data, mimetype=MEDIA.get(key.rsplit(".", 1)[-1],
                                                 "application/octet-stream"))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


def _back(default: str) -> str:
    back = request.form.get("back") or ""
    return back if back.startswith("/moderation/") and "//" not in back else default


@bp.post("/photos/<int:photo_id>/<action>")
@require_role(MODERATOR)
def photo_decide(photo_id: int, action: str) -> Response:
    """Hide, remove or restore one photo (reason required), then back to the item."""
    if action not in ACTIONS or photo_id > MAX_ID:
        abort(404)
    reason = request.form.get("reason", "")
    with Session(engine()) as s, s.begin():
        done = decide_photo(s, photo_id, action, actor_id=g.user.id, reason=reason)
        notify_photo(s, photo_id, action, reason,  # the resident hears of it (outbox)
                     secret=current_app.config["SECRET_KEY"])
    store = public_store()
    for key in done.orphaned_keys:  # after the commit: never a row pointing at no file
        store.delete(key)
    flash({"hide": t("Photo n° %(id)s masquée.", id=photo_id),
           "restore": t("Photo n° %(id)s rétablie.", id=photo_id),
           "remove": t("Photo n° %(id)s retirée.", id=photo_id)}[action], "ok")
    default = (f"/moderation/features/{done.feature_id}" if done.feature_id
               else "/moderation/")
    return redirect(_back(default) + f"#photo-{photo_id}", code=303)
