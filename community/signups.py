"""Missions and events people can join: "Missions for me", "I'm in", waiting lists.

What it does
------------
* :func:`missions_for` — "Missions pour moi / Missions for me": published missions whose
  ``availability`` slots overlap the resident's (minutes of the week, ``&&`` of two
  ``int4multirange``, see :mod:`community.profiles`), not over yet, not full, not
  closed, nearest first from the resident's point or area (within their radius when
  they gave one). ``mission_week`` (migration ``0014_signups``) holds each published
  mission's slots, computed when it is written; the query walks it nearest first. Among
  those nearest, missions naming more of the resident's skills come first.
* :func:`sign_up` — "Je participe / I'm in", with answers to the item's own questions
  (``attributes.questions``, one per line: :func:`questions_of`). Missions and events
  take sign-ups; the capacity is ``volunteers_needed`` (missions) or ``capacity``
  (events), none means no limit. A full mission or event puts newcomers on its
  **waiting list** ("Liste d'attente / Join the waiting list"), and a cancellation
  promotes the first one waiting, who is told by e-mail (with the ``.ics`` of a dated
  item). A full mission leaves "Missions for me" (its places are taken) but stays
  joinable on its waiting list from the map, its page and "Missions for me", which
  lists it after the ones with places (:func:`waiting_missions_for`).
* :func:`places` — the live counts of many items at once (capacity, confirmed, full),
  for the map's list: ``GET /api/v1/missions/places?ids=``.
* The organiser is the resident a moderator named for the item, else the resident of
  the item's originating submission (:func:`organiser_of`); they are told of each
  sign-up by e-mail, see the sign-ups and answers, and message the volunteers through
  the relay (:func:`message_signups` → ``community.messages.send_message``).
* Moderators see every sign-up, cancel one with an audited reason and name an
  organiser (:func:`moderator_cancel`, :func:`name_organiser`).
* :func:`public_stats` — the public aggregates (missions filled, sign-ups per category
  and month): counts only, never who.

Concurrency: every change to an item's sign-ups first locks its ``signup_item`` row
(:func:`_lock_item`), so two last-seat sign-ups are serialised and the second sees the
seat taken (and goes on the waiting list); the trigger of ``signup`` refuses a confirmed
sign-up beyond capacity anyway (:class:`ItemFull` if it ever fires). A cancellation and
the promotion of the first one waiting happen under the same lock, so a newcomer cannot
take the freed seat before them.

"Full" is a live count, not a published attribute: a sign-up is a resident's act, not
a moderation decision, and publishing it would add a feature version, a tile rebuild
and a change-feed entry (and a subscriber e-mail) per sign-up; the point tiles carry
no attributes anyway. The panel reads :func:`summary` (one indexed row), the map's list
reads :func:`places` (one query for the page's missions and events), "Missions for me"
filters on the counters, and the public statistics count filled missions.

Every function works in the caller's transaction (the caller commits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vGeo, vText
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.events import city_zone
from mail.config import MailSettings
from mail.outbox import enqueue_mail, normalise_lang

from .errors import CommunityError, CommunityNotFound, InvalidCommunityInput, NotAllowed
from .i18n import N_, t
from .profiles import Profile, multirange_literal, week_ranges
from .residents import ANONYMOUS, on_account_deleted
from .stats import register_stats, suppress

__all__ = [
    "JOINABLE_KINDS",
    "MAX_QUESTIONS",
    "Item",
    "ItemClosed",
    "ItemFull",
    "Match",
    "SignupResult",
    "cancel",
    "events_for",
    "forget_resident",
    "get_item",
    "item_calendar",
    "item_signups",
    "list_signups",
    "message_signups",
    "missions_for",
    "moderator_cancel",
    "my_signups",
    "name_organiser",
    "organised_by",
    "organiser_cancel",
    "organiser_of",
    "places",
    "public_stats",
    "questions_of",
    "remind_upcoming",
    "set_closed",
    "sign_up",
    "summary",
    "waiting_missions_for",
]

JOINABLE_KINDS = ("mission", "event")
MAX_QUESTIONS = 5
MAX_QUESTION = 200
MAX_ANSWER = 500


def _zone() -> ZoneInfo:
    """The city's time zone (``geo.events.city_zone``: the city's ``city.json``)."""
    return city_zone()


class ItemClosed(CommunityError):
    """The item takes no more sign-ups: full (a mission), closed, or over (409)."""


class ItemFull(ItemClosed):
    """Every place is taken and no waiting list could take the sign-up.

    Full items keep a waiting list, so this is only the capacity trigger refusing a
    seat taken meanwhile (a lock bypassed), never the answer to a full item.
    """


@dataclass(frozen=True)
class Item:
    """A published mission or event as sign-ups see it."""

    id: int
    title: str
    kind: str
    category: str
    category_label: dict[str, str]
    capacity: int | None
    confirmed: int
    waiting: int
    closed: bool
    over: bool
    questions: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    description: str
    lon: float
    lat: float
    availability: list[dict[str, str]] = field(default_factory=list)

    @property
    def full(self) -> bool:
        """Every place taken (never true without a capacity)."""
        return self.capacity is not None and self.confirmed >= self.capacity

    @property
    def places_left(self) -> int | None:
        """Places still free, ``None`` without a capacity."""
        return None if self.capacity is None else max(self.capacity - self.confirmed, 0)

    @property
    def has_waiting_list(self) -> bool:
        """Missions and events with a capacity keep a waiting list once full."""
        return self.capacity is not None

    @property
    def open(self) -> bool:
        """Whether "I'm in" can still be pressed (a full event still takes waiting ones)."""
        if self.closed or self.over:
            return False
        return not self.full or self.has_waiting_list


@dataclass(frozen=True)
class SignupResult:
    """What "I'm in" did: ``status`` ``confirmed`` or ``waiting`` (with its position)."""

    signup_id: int
    status: str
    created: bool
    position: int | None = None


@dataclass(frozen=True)
class Match:
    """One line of "Missions for me"."""

    id: int
    title: str
    category: str
    distance_m: float | None
    availability: list[dict[str, str]]
    places_left: int | None
    organisation: str | None
    skills: str | None
    lon: float
    lat: float
    my_skills: list[str] = field(default_factory=list)
    """The resident's skills the mission's "useful skills" text names."""
    full: bool = False
    """Every place taken: "I'm in" puts the resident on its waiting list."""


# ---------------------------------------------------------------------------- pure


def questions_of(attributes: Mapping[str, Any] | None) -> list[str]:
    """The item's own questions (``attributes.questions``).

    One per non-empty line (or a list of strings), at most :data:`MAX_QUESTIONS`, each
    cut at 200 characters.
    """
    raw = (attributes or {}).get("questions")
    if isinstance(raw, str):
        lines = raw.splitlines()
    elif isinstance(raw, list):
        lines = [x for x in raw if isinstance(x, str)]
    else:
        return []
    out = [" ".join(line.split())[:MAX_QUESTION] for line in lines]
    return [q for q in out if q][:MAX_QUESTIONS]


def clean_answers(questions: Sequence[str], answers: Any) -> dict[str, str]:
    """The answers to ``questions`` as ``{question: answer}``, each one required.

    ``answers`` is a list in the questions' order or a mapping ``{"0": ..., "1": ...}``.
    """
    if not questions:
        return {}
    if isinstance(answers, Mapping):
        answers = [answers.get(str(i), answers.get(i)) for i in range(len(questions))]
    if not isinstance(answers, list):
        raise InvalidCommunityInput({"answers": "a list of answers, one per question"})
    errors: dict[str, str] = {}
    out: dict[str, str] = {}
    for i, question in enumerate(questions):
        value = answers[i] if i < len(answers) else None
        answer = " ".join(value.split()) if isinstance(value, str) else ""
        if not answer:
            errors[f"answers/{i}"] = "an answer is needed"
        elif len(answer) > MAX_ANSWER:
            errors[f"answers/{i}"] = f"at most {MAX_ANSWER} characters"
        else:
            out[question] = answer
    if errors:
        raise InvalidCommunityInput(errors)
    return out


def item_calendar(item: Item, *, host: str, url: str, lang: str) -> bytes | None:
    """The item as an RFC 5545 calendar of one ``VEVENT`` (``None`` if it has no date).

    ``UID`` is the one of ``/api/v1/features/{id}.ics`` (``feature-<id>@<host>``), so a
    calendar that already has the event updates it instead of adding a copy.
    """
    if item.starts_at is None:
        return None
    end = item.ends_at
    if end is None:
        local = item.starts_at.astimezone(_zone())
        end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                               tzinfo=_zone())
    cal = Calendar()
    cal.add("prodid", "-//Carte citoyenne//Inscriptions//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", vText(item.title))
    event = Event()
    event.add("uid", f"feature-{item.id}@{host}")
    event.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
    event.add("dtstart", item.starts_at.astimezone(UTC))
    event.add("dtend", max(end, item.starts_at).astimezone(UTC))
    event.add("summary", item.title)
    if item.description:
        event.add("description", item.description)
    event.add("geo", vGeo((round(item.lat, 6), round(item.lon, 6))))
    event.add("url", url)
    event.add("categories", [item.category_label.get(lang) or item.category])
    event.add("status", "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()


# ------------------------------------------------------------------------- queries

_ITEM = """
SELECT f.id, f.title, f.description, f.category, c.kind::text AS kind,
       c.label_fr, c.label_en, f.attributes, f.starts_at, f.ends_at,
       ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat, carte_capacity(f.attributes) AS capacity,
       coalesce(si.confirmed, 0) AS confirmed, coalesce(si.waiting, 0) AS waiting,
       si.closed_at IS NOT NULL AS closed,
       coalesce(f.ends_at < now(),
                f.starts_at < date_trunc('day', now() AT TIME ZONE :tz)
                              AT TIME ZONE :tz, false) AS over
FROM feature f
JOIN category c ON c.slug = f.category
LEFT JOIN signup_item si ON si.feature_id = f.id
WHERE f.id = :id AND f.status = 'published' AND c.kind::text IN ('mission', 'event')
"""


def _item(row: Any) -> Item:
    attrs = row.attributes or {}
    slots = attrs.get("availability")
    return Item(id=row.id, title=row.title, kind=row.kind, category=row.category,
                category_label={"fr": row.label_fr, "en": row.label_en},
                capacity=row.capacity, confirmed=row.confirmed, waiting=row.waiting,
                closed=row.closed, over=row.over, questions=questions_of(attrs),
                starts_at=row.starts_at, ends_at=row.ends_at,
                description=row.description or "", lon=row.lon, lat=row.lat,
                availability=slots if isinstance(slots, list) else [])


def get_item(session: Session, feature_id: int) -> Item:
    """The published mission or event ``feature_id``.

    Raises
    ------
    CommunityNotFound
        No published mission or event has this id.
    """
    row = session.execute(text(_ITEM), {"id": feature_id, "tz": _zone().key}).first()
    if row is None:
        raise CommunityNotFound(f"no published mission or event has the id {feature_id}")
    return _item(row)


def _lock_item(session: Session, feature_id: int) -> Item:
    """Lock the item's ``signup_item`` row (created on first use), then read it."""
    get_item(session, feature_id)  # 404 before creating anything
    session.execute(text("INSERT INTO signup_item (feature_id) VALUES (:id) "
                         "ON CONFLICT DO NOTHING"), {"id": feature_id})
    session.execute(text("SELECT 1 FROM signup_item WHERE feature_id = :id FOR UPDATE"),
                    {"id": feature_id})
    return get_item(session, feature_id)


def organiser_of(session: Session, feature_id: int) -> int | None:
    """The item's organiser (``None``: an import, or an anonymous pin).

    The resident a moderator named, else the resident of the submission the item was
    published from.
    """
    return session.execute(text("""
        SELECT coalesce(si.organiser_id, s.resident_id)
        FROM feature f
        LEFT JOIN signup_item si ON si.feature_id = f.id
        LEFT JOIN submission s ON s.id = f.submission_id
        WHERE f.id = :id"""), {"id": feature_id}).scalar()


def _resident(session: Session, resident_id: int) -> Any:
    return session.execute(text(
        "SELECT id, email, display_name, lang, deleted_at IS NOT NULL AS deleted "
        "FROM resident WHERE id = :i"), {"i": resident_id}).first()


def _name(row: Any, lang: str) -> str:
    if row is None or row.deleted or not row.display_name:
        return ANONYMOUS[lang]
    return str(row.display_name)


# --------------------------------------------------------------------------- mail

# Mails of sign-ups: French texts translated by the ``community`` catalogue
# (:mod:`community.i18n`) into the recipient's language; {title}, {when}, {name},
# {count}, {position}, {answers}, {reason}, {n}, {cap} are filled in after translation.
TEXTS: dict[str, str] = {
    "confirmed_subject": N_("Inscription confirmée : {title}"),
    "confirmed_intro": N_("Vous participez à « {title} ». Merci !\n\n{when}"
                          "L'organisateur a été prévenu ; il peut vous écrire par le "
                          "service (votre adresse ne lui est pas donnée)."),
    "ics_note": N_("Le fichier joint (.ics) ajoute la date à votre agenda."),
    "waiting_subject": N_("Liste d'attente : {title}"),
    "waiting_intro": N_("« {title} » est complet : vous êtes sur la liste d'attente, en "
                        "position {position}. Si une place se libère, la première "
                        "personne en attente est inscrite et prévenue par e-mail."),
    "promoted_subject": N_("Une place s'est libérée : {title}"),
    "promoted_intro": N_("Une place s'est libérée pour « {title} » : vous êtes inscrit·e."
                         "\n\n{when}"),
    "organiser_subject": N_("Nouvelle inscription : {title}"),
    "organiser_intro": N_("{name} participe à « {title} » ({count}).\n\n{answers}"),
    "organiser_cancel_subject": N_("Désinscription : {title}"),
    "organiser_cancel_intro": N_("{name} ne participe plus à « {title} » ({count})."),
    "removed_subject": N_("Votre inscription est annulée : {title}"),
    "removed_intro": N_("L'organisateur de « {title} » a annulé votre inscription. Vous "
                        "pouvez lui écrire par le service depuis la carte si vous pensez "
                        "à une erreur."),
    "reminder_subject": N_("Rappel : {title}"),
    "reminder_intro": N_("Vous participez à « {title} ».\n\n{when}Vous ne pouvez plus "
                         "venir ? Annulez votre inscription : la place ira à quelqu'un "
                         "d'autre."),
    "cancel_link": N_("Mon inscription"),
    "moderated_subject": N_("Votre inscription est annulée : {title}"),
    "moderated_intro": N_("Un modérateur a annulé votre inscription à « {title} ».\n\n"
                          "Motif : {reason}"),
    "count": N_("{n} inscrit·e·s sur {cap}"),
    "count_open": N_("{n} inscrit·e·s"),
    "open": N_("Voir sur la carte"), "manage": N_("Voir les inscriptions"),
    "mine": N_("Mes missions"), "when": N_("Quand : {when}\n\n"),
}


_DAY_NAMES = {"mon": N_("lundi"), "tue": N_("mardi"), "wed": N_("mercredi"),
              "thu": N_("jeudi"), "fri": N_("vendredi"), "sat": N_("samedi"),
              "sun": N_("dimanche")}


def _texts(lang: str) -> dict[str, str]:
    """The mail texts in ``lang`` (French when its catalogue is missing)."""
    return {key: t(lang, message) for key, message in TEXTS.items()}


def _day(code: str, lang: str) -> str:
    """A weekday code (``mon``) as a word in ``lang``; an unknown code as it is."""
    return t(lang, _DAY_NAMES[code]) if code in _DAY_NAMES else code


def _when(item: Item, lang: str) -> str:
    if item.starts_at is None and item.availability:  # a weekly mission: its slots
        slots = ", ".join(f"{_day(s.get('day', ''), lang)} "
                          f"{s.get('from', '')}–{s.get('to', '')}"
                          for s in item.availability if isinstance(s, dict))
        return t(lang, TEXTS["when"]).format(when=slots)
    if item.starts_at is None:
        return ""
    from babel.dates import format_datetime

    return t(lang, TEXTS["when"]).format(when=format_datetime(
        item.starts_at.astimezone(_zone()), "EEEE d MMMM y, HH:mm", locale=lang))


def _count(item: Item, confirmed: int, lang: str) -> str:
    if item.capacity is None:
        return t(lang, TEXTS["count_open"]).format(n=confirmed)
    return t(lang, TEXTS["count"]).format(n=confirmed, cap=item.capacity)


def _map_url(root: str, item: Item) -> str:
    return f"{root}/#map=17/{item.lat:.5f}/{item.lon:.5f}&f={item.id}"


def _mail_volunteer(session: Session, resident: Any, item: Item, kind: str, *,
                    settings: MailSettings, position: int | None = None,
                    reason: str | None = None) -> None:
    if resident is None or not resident.email or resident.deleted:
        return
    lang = normalise_lang(resident.lang)
    words = _texts(lang)
    root = settings.public_url.rstrip("/")
    intro = words[f"{kind}_intro"].format(title=item.title, position=position,
                                      when=_when(item, lang), reason=reason or "")
    attachments: list[tuple[str, str, bytes]] = []
    if kind in ("confirmed", "promoted"):
        host = urlsplit(root).hostname or "localhost"
        ics = item_calendar(item, host=host, url=_map_url(root, item), lang=lang)
        if ics is not None:
            attachments.append((f"evenement-{item.id}.ics",
                                "text/calendar; method=PUBLISH", ics))
            intro += "\n\n" + words["ics_note"]
    enqueue_mail(session, to=resident.email, template="notice", lang=lang, settings=settings,
                 context={"subject": words[f"{kind}_subject"].format(title=item.title),
                          "intro": intro, "url": _map_url(root, item),
                          "url_label": words["open"]},
                 attachments=[(n, m.split(";")[0], c) for n, m, c in attachments])


def _mail_organiser(session: Session, item: Item, volunteer: Any, kind: str, *,
                    confirmed: int, answers: Mapping[str, str],
                    settings: MailSettings) -> None:
    organiser_id = organiser_of(session, item.id)
    if organiser_id is None:
        return
    organiser = _resident(session, organiser_id)
    if organiser is None or not organiser.email or organiser.deleted:
        return
    lang = normalise_lang(organiser.lang)
    words = _texts(lang)
    lines = "\n".join(f"{q}\n→ {a}" for q, a in answers.items())
    intro = words[f"{kind}_intro"].format(name=_name(volunteer, lang), title=item.title,
                                      count=_count(item, confirmed, lang), answers=lines)
    enqueue_mail(session, to=organiser.email, template="notice", lang=lang,
                 settings=settings,
                 context={"subject": words[f"{kind}_subject"].format(title=item.title),
                          "intro": intro.strip(),
                          "url": f"{settings.public_url.rstrip('/')}/missions/{item.id}/organiser",
                          "url_label": words["manage"]})


# ------------------------------------------------------------------------ actions


def remind_upcoming(session: Session, *, settings: MailSettings | None = None,
                    hours: float = 24.0, limit: int = 500) -> int:
    """Remind everyone signed up for what starts within ``hours`` (once); how many.

    Run by ``carte worker``. Each reminder says when, links to the resident's sign-up
    (to cancel and free the place); sign-ups made in the last two hours are left out
    (their confirmation just said it). Rows are claimed ``FOR UPDATE SKIP LOCKED``, so
    several workers never remind twice.
    """
    settings = settings or MailSettings.from_env()
    rows = session.execute(text("""
        SELECT s.id, s.feature_id, s.resident_id FROM signup s
        JOIN feature f ON f.id = s.feature_id
        WHERE s.status = 'confirmed' AND s.reminded_at IS NULL AND f.status = 'published'
          AND f.starts_at > now() AND f.starts_at <= now() + make_interval(secs => :secs)
          AND s.confirmed_at <= now() - interval '2 hours'
        ORDER BY f.starts_at, s.id LIMIT :limit
        FOR UPDATE OF s SKIP LOCKED"""), {"secs": hours * 3600, "limit": limit}).all()
    root = settings.public_url.rstrip("/")
    for row in rows:
        item = get_item(session, row.feature_id)
        resident = _resident(session, row.resident_id)
        if resident is not None and resident.email and not resident.deleted:
            lang = normalise_lang(resident.lang)
            words = _texts(lang)
            enqueue_mail(session, to=resident.email, template="notice", lang=lang,
                         settings=settings, context={
                             "subject": words["reminder_subject"].format(title=item.title),
                             "intro": words["reminder_intro"].format(
                                 title=item.title, when=_when(item, lang)),
                             "url": f"{root}/missions/{item.id}/join",
                             "url_label": words["cancel_link"]})
        session.execute(text("UPDATE signup SET reminded_at = now() WHERE id = :i"),
                        {"i": row.id})
    return len(rows)


def _position(session: Session, feature_id: int, signup_id: int) -> int:
    return int(session.execute(text("""
        SELECT count(*) FROM signup w, signup me
        WHERE me.id = :s AND w.feature_id = :f AND w.status = 'waiting'
          AND (w.created_at, w.id) <= (me.created_at, me.id)"""),
        {"f": feature_id, "s": signup_id}).scalar_one())


def sign_up(session: Session, feature_id: int, resident_id: int, answers: Any = None, *,
            settings: MailSettings | None = None) -> SignupResult:
    """"I'm in": sign ``resident_id`` up for the item (or put them on its waiting list).

    Signing up again while signed up changes nothing and says so (``created`` false).
    The volunteer gets a confirmation (with the ``.ics`` of a dated item) or their
    place on the waiting list; the organiser is told of a confirmed sign-up.

    Raises
    ------
    CommunityNotFound
        No published mission or event has this id.
    ItemClosed
        Over, or closed by its organiser or a moderator (a full item takes the
        sign-up on its waiting list instead).
    ItemFull
        The capacity trigger refused the seat (only if the item lock was bypassed).
    InvalidCommunityInput
        An answer missing or too long (``errors`` names ``answers/<i>``).
    """
    settings = settings or MailSettings.from_env()
    item = _lock_item(session, feature_id)
    existing = session.execute(text(
        "SELECT id, status FROM signup WHERE feature_id = :f AND resident_id = :r "
        "AND status <> 'cancelled'"), {"f": feature_id, "r": resident_id}).first()
    if existing is not None:
        pos = _position(session, feature_id, existing.id) if existing.status == "waiting" \
            else None
        return SignupResult(existing.id, existing.status, False, pos)
    if item.over:
        raise ItemClosed("this item is over")
    if item.closed:
        raise ItemClosed("sign-ups to this item are closed")
    if item.waiting and not item.full:  # places added since (a capacity raised):
        _promote(session, item, settings)  # those waiting come first
        item = get_item(session, feature_id)
    if item.full and not item.has_waiting_list:
        raise ItemFull("this item is full (complet)")
    clean = clean_answers(item.questions, answers)
    status = "waiting" if item.full else "confirmed"
    try:
        with session.begin_nested():
            sid = session.execute(text("""
                INSERT INTO signup (feature_id, resident_id, status, answers, confirmed_at)
                VALUES (:f, :r, :st, CAST(:a AS jsonb),
                        CASE WHEN :st = 'confirmed' THEN now() END)
                RETURNING id"""), {"f": feature_id, "r": resident_id, "st": status,
                                   "a": json.dumps(clean, ensure_ascii=False)}).scalar_one()
    except IntegrityError as exc:  # the capacity trigger: only if the lock was bypassed
        raise ItemFull("this item is full (complet)") from exc
    volunteer = _resident(session, resident_id)
    if status == "confirmed":
        _mail_volunteer(session, volunteer, item, "confirmed", settings=settings)
        _mail_organiser(session, item, volunteer, "organiser", confirmed=item.confirmed + 1,
                        answers=clean, settings=settings)
        return SignupResult(sid, status, True)
    pos = _position(session, feature_id, sid)
    _mail_volunteer(session, volunteer, item, "waiting", settings=settings, position=pos)
    return SignupResult(sid, status, True, pos)


def _promote(session: Session, item: Item, settings: MailSettings) -> list[int]:
    """Confirm the first ones waiting while places are free; tell each by e-mail."""
    promoted: list[int] = []
    item = get_item(session, item.id)
    while item.capacity is not None and item.confirmed < item.capacity and item.waiting:
        row = session.execute(text("""
            UPDATE signup SET status = 'confirmed', confirmed_at = now()
            WHERE id = (SELECT id FROM signup WHERE feature_id = :f AND status = 'waiting'
                        ORDER BY created_at, id LIMIT 1)
            RETURNING id, resident_id, answers"""), {"f": item.id}).first()
        if row is None:
            break
        promoted.append(row.id)
        volunteer = _resident(session, row.resident_id)
        _mail_volunteer(session, volunteer, item, "promoted", settings=settings)
        item = get_item(session, item.id)
        _mail_organiser(session, item, volunteer, "organiser", confirmed=item.confirmed,
                        answers=row.answers or {}, settings=settings)
    return promoted


def _cancel_row(session: Session, item: Item, signup: Any, *, by: str,
                user_id: int | None, reason: str | None,
                settings: MailSettings) -> list[int]:
    session.execute(text("""
        UPDATE signup SET status = 'cancelled', cancelled_at = now(), cancelled_by = :by,
                          cancelled_by_user = :u, cancel_reason = :why
        WHERE id = :id"""), {"id": signup.id, "by": by, "u": user_id, "why": reason})
    promoted: list[int] = []
    if signup.status == "confirmed":
        after = get_item(session, item.id)
        volunteer = _resident(session, signup.resident_id)
        if by != "organiser":  # they know: they did it
            _mail_organiser(session, after, volunteer, "organiser_cancel",
                            confirmed=after.confirmed, answers={}, settings=settings)
        if not after.over:
            promoted = _promote(session, after, settings)
    return promoted


def cancel(session: Session, feature_id: int, resident_id: int, *,
           settings: MailSettings | None = None) -> list[int]:
    """The resident withdraws (a confirmed place or a waiting one).

    Returns the ids of the sign-ups promoted from the waiting list (each told by mail).

    Raises
    ------
    CommunityNotFound
        The resident has no active sign-up for this item.
    """
    settings = settings or MailSettings.from_env()
    item = _lock_item(session, feature_id)
    signup = session.execute(text(
        "SELECT id, status, resident_id FROM signup WHERE feature_id = :f "
        "AND resident_id = :r AND status <> 'cancelled'"),
        {"f": feature_id, "r": resident_id}).first()
    if signup is None:
        raise CommunityNotFound("you are not signed up for this item")
    return _cancel_row(session, item, signup, by="resident", user_id=None, reason=None,
                       settings=settings)


def moderator_cancel(session: Session, signup_id: int, *, user_id: int, reason: str,
                     settings: MailSettings | None = None) -> list[int]:
    """A moderator cancels a sign-up with a reason (audited; the resident is told).

    Raises
    ------
    InvalidCommunityInput
        No reason given.
    CommunityNotFound
        No active sign-up has this id.
    """
    settings = settings or MailSettings.from_env()
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidCommunityInput({"reason": "say why the sign-up is cancelled"})
    if len(reason) > 1000:
        raise InvalidCommunityInput({"reason": "at most 1000 characters"})
    row = session.execute(text("SELECT feature_id FROM signup WHERE id = :i"),
                          {"i": signup_id}).first()
    if row is None:
        raise CommunityNotFound(f"no sign-up has the id {signup_id}")
    session.execute(text("INSERT INTO signup_item (feature_id) VALUES (:id) "
                         "ON CONFLICT DO NOTHING"), {"id": row.feature_id})
    session.execute(text("SELECT 1 FROM signup_item WHERE feature_id = :id FOR UPDATE"),
                    {"id": row.feature_id})
    signup = session.execute(text(
        "SELECT id, status, resident_id, feature_id FROM signup "
        "WHERE id = :i AND status <> 'cancelled'"), {"i": signup_id}).first()
    if signup is None:
        raise CommunityNotFound(f"sign-up {signup_id} is already cancelled")
    session.execute(text("""
        INSERT INTO signup_audit (user_id, action, feature_id, signup_id, resident_id, reason)
        VALUES (:u, 'cancel', :f, :s, :r, :why)"""),
        {"u": user_id, "f": signup.feature_id, "s": signup.id, "r": signup.resident_id,
         "why": reason})
    try:
        item = get_item(session, signup.feature_id)
    except CommunityNotFound:  # unpublished since: cancel without the item's mails
        session.execute(text("""
            UPDATE signup SET status = 'cancelled', cancelled_at = now(),
                   cancelled_by = 'moderator', cancelled_by_user = :u, cancel_reason = :why
            WHERE id = :id"""), {"id": signup.id, "u": user_id, "why": reason})
        return []
    promoted = _cancel_row(session, item, signup, by="moderator", user_id=user_id,
                           reason=reason, settings=settings)
    _mail_volunteer(session, _resident(session, signup.resident_id), item, "moderated",
                    settings=settings, reason=reason)
    return promoted


def name_organiser(session: Session, feature_id: int, resident_id: int, *, user_id: int,
                   reason: str) -> None:
    """A moderator names the item's organiser (audited).

    Raises
    ------
    CommunityNotFound
        No such item or resident.
    InvalidCommunityInput
        No reason given.
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidCommunityInput({"reason": "say why this resident organises the item"})
    get_item(session, feature_id)
    resident = _resident(session, resident_id)
    if resident is None or resident.deleted:
        raise CommunityNotFound(f"no resident has the id {resident_id}")
    session.execute(text("""
        INSERT INTO signup_item (feature_id, organiser_id, named_by, named_at)
        VALUES (:f, :r, :u, now())
        ON CONFLICT (feature_id) DO UPDATE SET organiser_id = :r, named_by = :u,
                                               named_at = now()"""),
                    {"f": feature_id, "r": resident_id, "u": user_id})
    session.execute(text("""
        INSERT INTO signup_audit (user_id, action, feature_id, resident_id, reason)
        VALUES (:u, 'name_organiser', :f, :r, :why)"""),
        {"u": user_id, "f": feature_id, "r": resident_id, "why": reason[:1000]})


def organiser_cancel(session: Session, feature_id: int, organiser_id: int, signup_id: int,
                     *, settings: MailSettings | None = None) -> list[int]:
    """The organiser takes a volunteer off the list (told by e-mail); who was promoted.

    Raises
    ------
    NotAllowed
        ``organiser_id`` is not the organiser.
    CommunityNotFound
        No active sign-up ``signup_id`` for this item.
    """
    settings = settings or MailSettings.from_env()
    _check_organiser(session, feature_id, organiser_id)
    item = _lock_item(session, feature_id)
    signup = session.execute(text(
        "SELECT id, status, resident_id FROM signup WHERE id = :s AND feature_id = :f "
        "AND status <> 'cancelled'"), {"s": signup_id, "f": feature_id}).first()
    if signup is None:
        raise CommunityNotFound("no such sign-up for this item")
    promoted = _cancel_row(session, item, signup, by="organiser", user_id=None,
                           reason=None, settings=settings)
    _mail_volunteer(session, _resident(session, signup.resident_id), item,
                    "removed", settings=settings)
    return promoted


def set_closed(session: Session, feature_id: int, resident_id: int, closed: bool) -> None:
    """The organiser closes (or reopens) sign-ups by hand.

    Raises
    ------
    NotAllowed
        ``resident_id`` is not the organiser.
    """
    _check_organiser(session, feature_id, resident_id)
    _lock_item(session, feature_id)
    session.execute(text("UPDATE signup_item SET closed_at = CASE WHEN :c THEN now() END "
                         "WHERE feature_id = :f"), {"f": feature_id, "c": closed})
    session.execute(text("UPDATE mission_week SET closed = :c WHERE feature_id = :f"),
                    {"f": feature_id, "c": closed})


def _check_organiser(session: Session, feature_id: int, resident_id: int) -> Item:
    item = get_item(session, feature_id)
    if organiser_of(session, feature_id) != resident_id:
        raise NotAllowed("only the organiser of this item sees its sign-ups")
    return item


def item_signups(session: Session, feature_id: int, organiser_id: int,
                 lang: str = "fr") -> tuple[Item, list[dict[str, Any]]]:
    """The organiser's view: the item and its sign-ups (names, answers, status).

    Raises
    ------
    NotAllowed
        ``organiser_id`` is not the item's organiser.
    """
    item = _check_organiser(session, feature_id, organiser_id)
    rows = session.execute(text("""
        SELECT s.id, s.status, s.answers, s.created_at, s.resident_id,
               r.display_name, r.deleted_at IS NOT NULL AS deleted
        FROM signup s JOIN resident r ON r.id = s.resident_id
        WHERE s.feature_id = :f AND s.status <> 'cancelled'
        ORDER BY s.status, s.created_at, s.id"""), {"f": feature_id}).all()
    return item, [{"id": r.id, "status": r.status, "answers": r.answers,
                   "created_at": r.created_at, "resident_id": r.resident_id,
                   "name": _name(r, lang)} for r in rows]


def message_signups(session: Session, feature_id: int, organiser_id: int, body: str, *,
                    include_waiting: bool = False) -> int:
    """The organiser writes to everyone signed up, through the relay; how many got it.

    Each volunteer gets a relayed message (``community.messages.send_message``: rate
    limits, spam rules and blocks apply; addresses stay hidden).

    Raises
    ------
    NotAllowed
        ``organiser_id`` is not the organiser.
    """
    from .errors import Blocked
    from .messages import MessageSettings, send_message  # the relay

    _check_organiser(session, feature_id, organiser_id)
    statuses = ["confirmed", "waiting"] if include_waiting else ["confirmed"]
    recipients = session.execute(text(
        "SELECT resident_id FROM signup WHERE feature_id = :f AND status = ANY(:st) "
        "AND resident_id <> :o ORDER BY created_at, id"),
        {"f": feature_id, "st": statuses, "o": organiser_id}).scalars().all()
    # The hourly limit is for one-to-one messages: writing to one's own volunteers
    # (who signed up) counts as one, on top of it; the spam rules still apply.
    base = MessageSettings.from_env()
    settings = MessageSettings(per_hour=base.per_hour + len(recipients),
                               public_url=base.public_url)
    sent = 0
    for rid in recipients:
        try:
            send_message(session, organiser_id, rid, body, feature_id=feature_id,
                         settings=settings)
        except Blocked:  # one volunteer blocked the organiser (or the reverse): skip
            continue
        sent += 1
    return sent


def summary(session: Session, feature_id: int, resident_id: int | None = None
            ) -> dict[str, Any]:
    """What the map panel shows: places, "full", waiting list, questions, mine."""
    item = get_item(session, feature_id)
    mine = None
    position = None
    if resident_id is not None:
        row = session.execute(text(
            "SELECT id, status FROM signup WHERE feature_id = :f AND resident_id = :r "
            "AND status <> 'cancelled'"), {"f": feature_id, "r": resident_id}).first()
        if row is not None:
            mine = row.status
            if row.status == "waiting":
                position = _position(session, feature_id, row.id)
    return {"id": item.id, "kind": item.kind, "capacity": item.capacity,
            "confirmed": item.confirmed, "places_left": item.places_left,
            "full": item.full, "waiting_list": item.has_waiting_list,
            "waiting": item.waiting if item.has_waiting_list else 0,
            "closed": item.closed, "over": item.over, "open": item.open,
            "questions": item.questions, "mine": mine, "waiting_position": position,
            "organiser": (resident_id is not None
                          and organiser_of(session, feature_id) == resident_id)}


MAX_PLACES_IDS = 200
"""Items asked at once from :func:`places` (the map's list shows at most 100)."""


def places(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The live counts of the published missions and events among ``ids``.

    What the map's list needs to say "Complet / Full" (and to hide full ones) without a
    published attribute: ``{id: {capacity, confirmed, places_left, full, closed,
    waiting_list}}``; counts only, never who. Ids that are not a published mission or
    event are left out. One indexed query (``feature`` by primary key, ``signup_item``
    by primary key).
    """
    if not ids:
        return {}
    rows = session.execute(text("""
        SELECT f.id, carte_capacity(f.attributes) AS capacity,
               coalesce(si.confirmed, 0) AS confirmed, si.closed_at IS NOT NULL AS closed
        FROM feature f
        JOIN category c ON c.slug = f.category AND c.kind::text IN ('mission', 'event')
        LEFT JOIN signup_item si ON si.feature_id = f.id
        WHERE f.id = ANY(CAST(:ids AS bigint[])) AND f.status = 'published'"""),
        {"ids": list(ids)[:MAX_PLACES_IDS]}).all()
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        full = r.capacity is not None and r.confirmed >= r.capacity
        out[r.id] = {"capacity": r.capacity, "confirmed": r.confirmed,
                     "places_left": None if r.capacity is None
                     else max(r.capacity - r.confirmed, 0),
                     "full": full, "closed": bool(r.closed),
                     "waiting_list": r.capacity is not None}
    return out


def my_signups(session: Session, resident_id: int) -> list[dict[str, Any]]:
    """The resident's active sign-ups, soonest first, then newest."""
    rows = session.execute(text("""
        SELECT s.id, s.status, s.created_at, f.id AS feature_id, f.title, f.category,
               f.starts_at, f.ends_at, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat
        FROM signup s JOIN feature f ON f.id = s.feature_id
        WHERE s.resident_id = :r AND s.status <> 'cancelled'
        ORDER BY f.starts_at NULLS LAST, s.created_at DESC"""), {"r": resident_id}).all()
    return [dict(r._mapping) for r in rows]


def organised_by(session: Session, resident_id: int) -> list[dict[str, Any]]:
    """The published missions and events the resident organises, with their counts."""
    rows = session.execute(text("""
        SELECT f.id, f.title, carte_capacity(f.attributes) AS capacity,
               coalesce(si.confirmed, 0) AS confirmed, coalesce(si.waiting, 0) AS waiting
        FROM feature f
        JOIN category c ON c.slug = f.category AND c.kind::text IN ('mission', 'event')
        LEFT JOIN signup_item si ON si.feature_id = f.id
        LEFT JOIN submission s ON s.id = f.submission_id
        WHERE f.status = 'published'
          AND coalesce(si.organiser_id, s.resident_id) = :r
        ORDER BY f.id DESC LIMIT 200"""), {"r": resident_id}).all()
    return [dict(r._mapping) for r in rows]


_MATCH = """
SELECT f.id, f.title, f.category, f.attributes, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat,
       k.capacity, k.confirmed, {distance} AS distance_m
FROM (
  SELECT m.feature_id, m.capacity, m.confirmed, m.geog
  FROM mission_week m
  WHERE m.week && CAST(:week AS int4multirange)
    AND NOT m.closed AND {places}
    AND (m.live_until IS NULL OR m.live_until >= now())
    {within}
  ORDER BY {order}
  LIMIT :limit
) k
JOIN feature f ON f.id = k.feature_id
ORDER BY {outer_order} f.id
"""
"""Published missions overlapping ``:week``, not over, not closed, with places (or only
the full ones, ``places``): one walk of ``mission_week`` (nearest first, GiST KNN on
``geog``, when ordered by distance), then the page's features."""
_WITH_PLACES = "m.confirmed < coalesce(m.capacity, 2147483647)"
_FULL = "m.capacity IS NOT NULL AND m.confirmed >= m.capacity"
"""The predicate of ``mission_week_full_idx`` (0023): the few full missions."""
_FEW_FULL = """
SELECT count(*) FROM (SELECT 1 FROM mission_week m
                      WHERE m.capacity IS NOT NULL AND m.confirmed >= m.capacity
                      LIMIT :probe) x
"""


PROBE = 1000
"""Overlapping slots counted at most to choose the plan. Sorting the few costs ~8 µs a
mission, walking costs ~3 µs a mission visited (50 / the share that overlaps): the two
meet near 1,000 of 50,000 missions, ~8 ms either way (bench/bench_missions.py)."""
_FEW = """
SELECT count(*) FROM (SELECT 1 FROM mission_slot s
                      WHERE s.during && CAST(:week AS int4multirange) LIMIT :probe) x
"""


def missions_for(session: Session, profile: Profile, *,
                 near: tuple[float, float] | None = None, limit: int = 50,
                 exclude_resident: int | None = None) -> list[Match]:
    """"Missions for me": published missions overlapping the profile's slots, nearest first.

    The ``limit`` nearest are then ordered by how many of the resident's skills each
    one's "useful skills" names (most first), nearest first among equals: a resident
    who cooks sees the kitchen missions around them before the others around them.

    Parameters
    ----------
    profile
        The resident's profile; no availability, no match.
    near
        ``(lon, lat)`` to order from instead of the profile's point or area.
    exclude_resident
        Leave out the missions this resident already joined.
    """
    return _missions(session, profile, near=near, limit=limit,
                     exclude_resident=exclude_resident, full=False)


def waiting_missions_for(session: Session, profile: Profile, *,
                         near: tuple[float, float] | None = None, limit: int = 20,
                         exclude_resident: int | None = None) -> list[Match]:
    """The full missions that would fit the resident: their waiting list is open.

    The same match as :func:`missions_for` (slots, radius, not over, not closed,
    nearest first, skills first among them), but only missions whose places are all
    taken (``Match.full``). "Missions for me" lists them after the ones with places:
    a resident who waits may still get a place when someone withdraws.
    """
    return _missions(session, profile, near=near, limit=limit,
                     exclude_resident=exclude_resident, full=True)


def _missions(session: Session, profile: Profile, *, near: tuple[float, float] | None,
              limit: int, exclude_resident: int | None, full: bool) -> list[Match]:
    ranges = week_ranges(profile.availability)
    if not ranges:
        return []
    params: dict[str, Any] = {"week": multirange_literal(ranges), "limit": limit}
    origin = near
    if origin is None and profile.lon is not None and profile.lat is not None:
        origin = (profile.lon, profile.lat)
    if origin is None and profile.area_id is not None:
        point = session.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM area WHERE id = :a) q"), {"a": profile.area_id}).first()
        if point is not None:
            origin = (point[0], point[1])
    within = ""
    if exclude_resident is not None:
        within += (" AND NOT EXISTS (SELECT 1 FROM signup s WHERE s.feature_id = m.feature_id "
                   "AND s.resident_id = :me AND s.status <> 'cancelled')")
        params["me"] = exclude_resident
    if origin is not None:
        params.update(lon=origin[0], lat=origin[1])
        pt = "CAST(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geography)"
        distance = f"ST_Distance(k.geog, {pt})"
        order = f"m.geog <-> {pt}"
        outer_order = "distance_m,"
        if profile.radius_m is not None and near is None:
            within += f" AND ST_DWithin(m.geog, {pt}, :radius)"
            params["radius"] = profile.radius_m
    else:
        distance, order, outer_order = "NULL::float8", "m.feature_id", ""
    # Index scans only (no bitmap: a bitmap is built whole before LIMIT stops it), see
    # below; undone after the query.
    session.execute(text("SET LOCAL enable_seqscan = off; "
                         "SET LOCAL enable_bitmapscan = off"))
    # Few missions overlap (a rare slot): take exactly those from mission_slot and sort
    # them; many do: walk nearest first, the walk stops at the page size.
    # Full missions: when few are full, take them from their partial index and sort
    # them (none full: an empty index scan, not a walk of every mission).
    few_full = full and session.execute(text(_FEW_FULL), {"probe": PROBE}
                                        ).scalar_one() < PROBE
    few = not few_full and session.execute(
        text(_FEW), {"week": params["week"], "probe": PROBE}).scalar_one() < PROBE
    if few:
        within += (" AND m.feature_id IN (SELECT s.feature_id FROM mission_slot s "
                   "WHERE s.during && CAST(:week AS int4multirange))")
    if few_full:
        # An order no index gives (not ``<->``, not the primary key): the planner then
        # reads the few full ones from mission_week_full_idx and sorts them, instead of
        # walking every mission nearest first to find them.
        order = f"ST_Distance(m.geog, {pt})" if origin is not None else "m.feature_id + 0"
    sql = _MATCH.format(distance=distance, order=order, outer_order=outer_order,
                        within=within, places=_FULL if full else _WITH_PLACES)
    # The planner cannot estimate how many missions a week overlaps (a multirange's
    # statistics see one bounding range), so it may scan and sort every live mission
    # (~20 ms at 50,000) where the index walk stops at the page size; the choice is
    # made above from the probe instead. Measured in bench/bench_missions.py.
    rows = session.execute(text(sql), params).all()
    session.execute(text("SET LOCAL enable_seqscan = on; SET LOCAL enable_bitmapscan = on"))
    out = []
    for r in rows:
        attrs = r.attributes or {}
        left = None if r.capacity is None else max(r.capacity - r.confirmed, 0)
        org = attrs.get("organisation")
        skills = attrs.get("skills")
        wanted = skills.lower() if isinstance(skills, str) else ""
        out.append(Match(id=r.id, title=r.title, category=r.category,
                         distance_m=None if r.distance_m is None else float(r.distance_m),
                         availability=list(attrs.get("availability") or []),
                         places_left=left, organisation=org if isinstance(org, str) else None,
                         skills=skills if isinstance(skills, str) else None,
                         lon=r.lon, lat=r.lat, full=full,
                         my_skills=[k for k in profile.skills
                                    if k and re.search(rf"\b{re.escape(k)}\b", wanted)]))
    # Among these nearest, the missions asking for more of the resident's skills come
    # first; equal ones stay nearest first (a stable sort of at most ``limit`` rows).
    out.sort(key=lambda m: -len(m.my_skills))
    return out


_EVENTS = """
SELECT f.id, f.title, f.category, f.starts_at, f.ends_at, ST_X(f.geom) AS lon,
       ST_Y(f.geom) AS lat, carte_capacity(f.attributes) AS capacity,
       coalesce(si.confirmed, 0) AS confirmed, coalesce(si.waiting, 0) AS waiting,
       {distance} AS distance_m
FROM feature f
JOIN category c ON c.slug = f.category AND c.kind::text = 'event'
LEFT JOIN signup_item si ON si.feature_id = f.id
WHERE f.status = 'published' AND f.starts_at >= now() AND f.starts_at < now() + :ahead
  AND si.closed_at IS NULL
  AND int4range(
        ((extract(isodow FROM f.starts_at AT TIME ZONE :tz)::int - 1) * 1440
         + extract(hour FROM f.starts_at AT TIME ZONE :tz)::int * 60
         + extract(minute FROM f.starts_at AT TIME ZONE :tz)::int),
        ((extract(isodow FROM f.starts_at AT TIME ZONE :tz)::int - 1) * 1440
         + extract(hour FROM f.starts_at AT TIME ZONE :tz)::int * 60
         + extract(minute FROM f.starts_at AT TIME ZONE :tz)::int) + 1)
      && CAST(:week AS int4multirange)
  AND NOT EXISTS (SELECT 1 FROM signup s WHERE s.feature_id = f.id
                  AND s.resident_id = :me AND s.status <> 'cancelled')
ORDER BY {order} f.starts_at, f.id
LIMIT :limit
"""


def events_for(session: Session, profile: Profile, *, resident_id: int | None = None,
               weeks: int = 4, limit: int = 20) -> list[dict[str, Any]]:
    """Upcoming events (next ``weeks``) that start while the resident is free.

    Nearest first from the profile's point or area when it has one, else soonest; each
    with its places left (``None``: no limit) and whether only the waiting list is open.
    Events are few (a city's next month), so this is one plain query.
    """
    ranges = week_ranges(profile.availability)
    if not ranges:
        return []
    params: dict[str, Any] = {"week": multirange_literal(ranges), "limit": limit,
                              "ahead": timedelta(weeks=weeks), "tz": _zone().key,
                              "me": resident_id or 0}
    origin = None
    if profile.lon is not None and profile.lat is not None:
        origin = (profile.lon, profile.lat)
    elif profile.area_id is not None:
        origin = session.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM area WHERE id = :a) q"), {"a": profile.area_id}).first()
    if origin is not None:
        params.update(lon=origin[0], lat=origin[1])
        pt = "CAST(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geography)"
        sql = _EVENTS.format(distance=f"ST_Distance(f.geom::geography, {pt})",
                             order=f"f.geom::geography <-> {pt},")
    else:
        sql = _EVENTS.format(distance="NULL::float8", order="")
    out = []
    for r in session.execute(text(sql), params):
        left = None if r.capacity is None else max(r.capacity - r.confirmed, 0)
        out.append({"id": r.id, "title": r.title, "category": r.category,
                    "starts_at": r.starts_at, "ends_at": r.ends_at, "lon": r.lon,
                    "lat": r.lat, "places_left": left,
                    "waiting_list_only": left == 0,
                    "distance_m": None if r.distance_m is None else float(r.distance_m)})
    return out


def list_signups(session: Session, *, feature_id: int | None = None,
                 status: str | None = None, limit: int = 200, offset: int = 0
                 ) -> list[dict[str, Any]]:
    """Every sign-up, newest first, for moderators (names, never addresses)."""
    rows = session.execute(text("""
        SELECT s.id, s.feature_id, f.title, f.category, s.resident_id, r.display_name,
               r.deleted_at IS NOT NULL AS deleted, s.status, s.answers, s.created_at,
               s.cancelled_at, s.cancelled_by, s.cancel_reason, u.email AS cancelled_by_email
        FROM signup s
        JOIN feature f ON f.id = s.feature_id
        JOIN resident r ON r.id = s.resident_id
        LEFT JOIN app_user u ON u.id = s.cancelled_by_user
        WHERE (CAST(:f AS bigint) IS NULL OR s.feature_id = :f)
          AND (CAST(:st AS text) IS NULL OR s.status = :st)
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT :limit OFFSET :offset"""),
        {"f": feature_id, "st": status, "limit": limit, "offset": offset}).all()
    return [dict(r._mapping) for r in rows]


@on_account_deleted
def _forget_on_deletion(session: Session, resident_id: int) -> None:
    forget_resident(session, resident_id)


def forget_resident(session: Session, resident_id: int, *,
                    settings: MailSettings | None = None) -> int:
    """A deleted account: its active sign-ups are cancelled, its answers erased.

    Waiting ones are promoted as on any cancellation; the profile goes, and so does an
    organiser's naming. Run by ``community.residents.delete_account`` (a deletion
    hook). Returns how many sign-ups were cancelled.
    """
    settings = settings or MailSettings.from_env()
    active = session.execute(text(
        "SELECT feature_id FROM signup WHERE resident_id = :r AND status <> 'cancelled'"),
        {"r": resident_id}).scalars().all()
    n = 0
    for fid in active:
        try:
            cancel(session, fid, resident_id, settings=settings)
            n += 1
        except CommunityNotFound:  # an item no longer published
            session.execute(text(
                "UPDATE signup SET status = 'cancelled', cancelled_at = now(), "
                "cancelled_by = 'resident' WHERE feature_id = :f AND resident_id = :r "
                "AND status <> 'cancelled'"), {"f": fid, "r": resident_id})
            n += 1
    session.execute(text("UPDATE signup SET answers = '{}' WHERE resident_id = :r"),
                    {"r": resident_id})
    session.execute(text("UPDATE signup_item SET organiser_id = NULL, named_by = NULL, "
                         "named_at = NULL WHERE organiser_id = :r"), {"r": resident_id})
    session.execute(text("DELETE FROM resident_profile WHERE resident_id = :r"),
                    {"r": resident_id})
    return n


def public_stats(session: Session) -> dict[str, Any]:
    """Public aggregates of sign-ups (issue 20 item 6): counts, never who.

    ``missions``: published missions, those with a capacity, and how many of those are
    filled (every place taken): counts of missions, not of people.
    ``signups_by_category``: confirmed sign-ups per category and month of confirmation
    (the city's time zone), including those cancelled since; a cell with fewer than three
    sign-ups or three distinct residents shows ``"<3"`` (:func:`community.stats.suppress`)
    and no total across cells is given, so nobody's sign-up can be read off the table.
    Registered in ``GET /api/v1/stats/exchange`` under these two names.
    """
    missions = session.execute(text("""
        SELECT count(*) AS published,
               count(*) FILTER (WHERE carte_capacity(f.attributes) IS NOT NULL) AS with_capacity,
               count(*) FILTER (WHERE carte_capacity(f.attributes) IS NOT NULL
                                AND coalesce(si.confirmed, 0) >= carte_capacity(f.attributes))
                 AS filled
        FROM feature f
        JOIN category c ON c.slug = f.category AND c.kind::text = 'mission'
        LEFT JOIN signup_item si ON si.feature_id = f.id
        WHERE f.status = 'published'""")).one()
    rows = session.execute(text("""
        SELECT f.category,
               to_char(date_trunc('month', s.confirmed_at AT TIME ZONE :tz),
                       'YYYY-MM') AS month,
               count(*) AS signups, count(DISTINCT s.resident_id) AS people
        FROM signup s JOIN feature f ON f.id = s.feature_id
        WHERE s.confirmed_at IS NOT NULL
        GROUP BY 1, 2 ORDER BY 2, 1"""), {"tz": _zone().key}).all()
    return {
        "missions": {"published": missions.published,
                     "with_capacity": missions.with_capacity,
                     "filled": missions.filled},
        "signups_by_category": [{"category": r.category, "month": r.month,
                                 "signups": suppress(int(r.signups), int(r.people))}
                                for r in rows],
    }


register_stats("missions", lambda session: public_stats(session)["missions"])
register_stats("signups_by_category",
               lambda session: public_stats(session)["signups_by_category"])
