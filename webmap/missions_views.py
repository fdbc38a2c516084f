"""Missions and events people join: pages and JSON API (issue 20 item 4).

Pages (French or English, CSRF-checked forms, signed-in residents only):

* ``GET /missions`` "Missions pour moi / Missions for me": the resident's profile, the
  published missions whose slots overlap theirs (nearest first), then the full ones
  that would fit ("Complet · liste d'attente", joinable on their waiting list), their
  sign-ups and the items they organise. ``GET|POST /missions/profile`` availability, skills, area
  (also shown on ``/me`` as a section).
* ``GET|POST /missions/<id>/join`` "Je participe / I'm in" with the item's questions;
  ``POST /missions/<id>/cancel``.
* ``GET /missions/<id>/organiser`` the organiser's page (sign-ups against the places,
  answers), ``POST /missions/<id>/organiser/message`` (relayed message to every
  volunteer), ``POST /missions/<id>/organiser/close`` (close or reopen sign-ups).

JSON (under ``/api/``: no CSRF token, so every write demands ``application/json``, which
a cross-site form cannot send without a preflight we never allow):

* ``GET /api/v1/me/missions[?near=lon,lat&limit=]``, ``GET|PUT /api/v1/me/profile``,
  ``GET /api/v1/me/signups`` (signed in);
* ``GET /api/v1/features/<id>/signups`` the public summary (places left, full, waiting
  list, questions; ``mine`` when signed in) that the map panel shows;
* ``POST /api/v1/features/<id>/signups`` ``{"answers": [...]}`` → 201 (``confirmed`` or
  ``waiting`` with ``position``), 200 when already signed up, 409 full or closed;
* ``DELETE /api/v1/features/<id>/signups/me`` withdraw (the first waiting is promoted);
* ``GET /api/v1/missions/places?ids=1,2,3`` the live counts of many missions and events
  at once (``{id: {capacity, confirmed, places_left, full, closed, waiting_list}}``),
  public and briefly cached, for the map's list ("Complet", "only missions with places
  left"): "full" is a live count, not a published attribute.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_datetime
from flask import Blueprint, Response, abort, redirect, render_template, request
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import signups
from community.errors import CommunityError, InvalidCommunityInput, NotAllowed
from community.profiles import DAYS, Profile, get_profile, save_profile
from ingestion.errors import UnsupportedMediaType

from .api_features import city_tz
from .api_openapi import register_operations
from .me_views import register_me_section
from .ogc.params import BadParameter, parse_int, parse_lonlat
from .residents_auth import current_resident, resident_required
from .views.i18n import current_lang
from .web import engine, json_response

__all__ = ["PRESETS", "bp", "init_app", "profile_from_form"]

bp = Blueprint("missions", __name__)

PRIVATE = {"Cache-Control": "private, no-store"}
PRESETS = (("morning", "08:00", "12:00"), ("afternoon", "12:00", "18:00"),
           ("evening", "18:00", "22:00"))
"""The slots a resident ticks per day on the profile form (any other: typed)."""
_EXTRA = re.compile(r"^\s*(\d{2}:\d{2})\s*[-–]\s*(\d{2}:\d{2})\s*$")


def _session() -> Session:
    return Session(engine())


def _fid(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        abort(404)
    return int(raw)


def _resident_id() -> int:
    resident = current_resident()
    assert resident is not None  # guarded by resident_required
    return resident.id


def _when(value: Any) -> str:
    """A date and time in the city's zone, in the page's language ("" for none)."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(city_tz()), "EEEE d MMMM y, HH:mm",
                           locale=current_lang())


def _page(template: str, status: int = 200, **context: Any
          ) -> tuple[str, int, dict[str, str]]:
    return (render_template(f"missions/{template}.html", lang=current_lang(), days=DAYS,
                            resident=current_resident(), when=_when, **context),
            status, PRIVATE)


# ------------------------------------------------------------------ profile (form)


def profile_from_form(form: Any) -> dict[str, Any]:
    """The profile fields from the form: ticked presets, typed slots, skills, area."""
    slots: list[dict[str, str]] = []
    for day in DAYS:
        for name, start, end in PRESETS:
            if form.get(f"{day}_{name}"):
                slots.append({"day": day, "from": start, "to": end})
        extra = (form.get(f"{day}_extra") or "").strip()
        if extra:
            for part in extra.split(","):
                m = _EXTRA.match(part)
                if m is None:
                    raise InvalidCommunityInput({f"{day}_extra": "HH:MM-HH:MM"})
                slots.append({"day": day, "from": m.group(1), "to": m.group(2)})
    area = (form.get("area") or "").strip()
    return {"availability": slots, "skills": form.get("skills") or "",
            "area_id": int(area) if area.isdigit() else None,
            "lon": form.get("lon") or None, "lat": form.get("lat") or None,
            "radius_m": form.get("radius_m") or None}


def _form_state(profile: Profile) -> dict[str, Any]:
    """What the form shows ticked or typed, from the stored slots."""
    ticked: set[str] = set()
    extra: dict[str, list[str]] = {d: [] for d in DAYS}
    presets = {(s, e): n for n, s, e in PRESETS}
    for slot in profile.availability:
        name = presets.get((slot["from"], slot["to"]))
        if name:
            ticked.add(f"{slot['day']}_{name}")
        else:
            extra[slot["day"]].append(f"{slot['from']}-{slot['to']}")
    return {"ticked": ticked, "extra": {d: ", ".join(v) for d, v in extra.items()}}


def _areas() -> list[Any]:
    with engine().connect() as conn:
        return conn.execute(text(
            # Every level of the configured city (its depth), never Paris's level names.
            "SELECT id, name, kind::text AS kind FROM area WHERE depth > 0 "
            "ORDER BY depth, code")).all()


@bp.get("/missions/profile")
@resident_required
def profile_form() -> tuple[str, int, dict[str, str]]:
    """Availability, skills and area, set once."""
    with _session() as s:
        profile = get_profile(s, _resident_id())
    return _page("profile", profile=profile, state=_form_state(profile), areas=_areas(),
                 presets=PRESETS, errors={}, saved=request.args.get("saved") == "1")


@bp.post("/missions/profile")
@resident_required
def profile_post() -> Any:
    """Store the profile; the form again with what is wrong next to its field."""
    try:
        fields = profile_from_form(request.form)
        with _session() as s, s.begin():
            save_profile(s, _resident_id(), **fields)
    except InvalidCommunityInput as exc:
        with _session() as s:
            profile = get_profile(s, _resident_id())
        return _page("profile", 422, profile=profile, state=_form_state(profile),
                     areas=_areas(), presets=PRESETS, errors=exc.errors, saved=False)
    return redirect("/missions/profile?saved=1", code=303)


# ------------------------------------------------------------------ missions page


@bp.get("/missions")
@resident_required
def missions_page() -> tuple[str, int, dict[str, str]]:
    """"Missions pour moi": overlapping missions, nearest first; my sign-ups."""
    rid = _resident_id()
    with _session() as s:
        profile = get_profile(s, rid)
        matches = signups.missions_for(s, profile, exclude_resident=rid)
        # full ones after those with places: their waiting list is open
        matches += signups.waiting_missions_for(s, profile, exclude_resident=rid)
        events = signups.events_for(s, profile, resident_id=rid)
        mine = signups.my_signups(s, rid)
        organised = signups.organised_by(s, rid)
    return _page("list", profile=profile, matches=matches, events=events, mine=mine,
                 organised=organised)


@bp.get("/missions/<raw_id>/join")
@resident_required
def join_form(raw_id: str) -> tuple[str, int, dict[str, str]]:
    """The item, its places, its questions, and "I'm in" (or my status and cancel)."""
    fid = _fid(raw_id)
    with _session() as s:
        try:
            item = signups.get_item(s, fid)
        except CommunityError:
            abort(404)
        info = signups.summary(s, fid, _resident_id())
    return _page("join", item=item, info=info, errors={}, values={},
                 done=request.args.get("done"))


@bp.post("/missions/<raw_id>/join")
@resident_required
def join_post(raw_id: str) -> Any:
    """Sign up with the answers; back to the item's page with the outcome."""
    fid = _fid(raw_id)
    answers = {k.removeprefix("answer_"): v for k, v in request.form.items()
               if k.startswith("answer_")}
    try:
        with _session() as s, s.begin():
            result = signups.sign_up(s, fid, _resident_id(), answers)
    except InvalidCommunityInput as exc:
        with _session() as s:
            item = signups.get_item(s, fid)
            info = signups.summary(s, fid, _resident_id())
        return _page("join", 422, item=item, info=info, errors=exc.errors, values=answers,
                     done=None)
    except signups.ItemClosed:
        return redirect(f"/missions/{fid}/join?done=closed", code=303)
    except CommunityError:
        abort(404)
    return redirect(f"/missions/{fid}/join?done={result.status}", code=303)


@bp.post("/missions/<raw_id>/cancel")
@resident_required
def cancel_post(raw_id: str) -> Any:
    """Withdraw; the first one waiting (if any) takes the place and is told."""
    fid = _fid(raw_id)
    try:
        with _session() as s, s.begin():
            signups.cancel(s, fid, _resident_id())
    except CommunityError:
        pass  # not signed up (any more): the page says so
    return redirect(f"/missions/{fid}/join?done=cancelled", code=303)


# ------------------------------------------------------------------ organiser


def _organiser_page(fid: int, status: int = 200, **extra: Any
                    ) -> tuple[str, int, dict[str, str]]:
    with _session() as s:
        try:
            item, rows = signups.item_signups(s, fid, _resident_id(), current_lang())
        except NotAllowed:
            abort(403)
        except CommunityError:
            abort(404)
    return _page("organiser", status, item=item, rows=rows, **extra)


@bp.get("/missions/<raw_id>/organiser")
@resident_required
def organiser_page(raw_id: str) -> tuple[str, int, dict[str, str]]:
    """Sign-ups against the places, with the answers; write to them; close."""
    return _organiser_page(_fid(raw_id), sent=request.args.get("sent"), error=None)


@bp.post("/missions/<raw_id>/organiser/message")
@resident_required
def organiser_message(raw_id: str) -> Any:
    """A relayed message to every volunteer signed up (addresses stay hidden)."""
    fid = _fid(raw_id)
    body = request.form.get("body") or ""
    include_waiting = bool(request.form.get("include_waiting"))
    try:
        with _session() as s, s.begin():
            sent = signups.message_signups(s, fid, _resident_id(), body,
                                           include_waiting=include_waiting)
    except NotAllowed:
        abort(403)
    except CommunityError as exc:
        return _organiser_page(fid, 422, sent=None, error=exc.detail)
    return redirect(f"/missions/{fid}/organiser?sent={sent}", code=303)


@bp.post("/missions/<raw_id>/organiser/signups/<raw_signup>/cancel")
@resident_required
def organiser_remove(raw_id: str, raw_signup: str) -> Any:
    """The organiser takes a volunteer off the list (they are told by e-mail)."""
    fid, sid = _fid(raw_id), _fid(raw_signup)
    try:
        with _session() as s, s.begin():
            signups.organiser_cancel(s, fid, _resident_id(), sid)
    except NotAllowed:
        abort(403)
    except CommunityError:
        abort(404)
    return redirect(f"/missions/{fid}/organiser", code=303)


@bp.post("/missions/<raw_id>/organiser/close")
@resident_required
def organiser_close(raw_id: str) -> Any:
    """Close sign-ups by hand (``close=1``) or reopen them."""
    fid = _fid(raw_id)
    try:
        with _session() as s, s.begin():
            signups.set_closed(s, fid, _resident_id(), request.form.get("close") == "1")
    except NotAllowed:
        abort(403)
    except CommunityError:
        abort(404)
    return redirect(f"/missions/{fid}/organiser", code=303)


# ------------------------------------------------------------------ JSON API


def _check_same_origin() -> None:
    """Writes under /api/ take the session cookie: refuse another site's page (403)."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if (site and site not in ("same-origin", "none")) or origin == "null" or (
            origin and urlsplit(origin).netloc != request.host):
        raise NotAllowed("cross-site requests are refused")


def _json_body() -> dict[str, Any]:
    _check_same_origin()
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidCommunityInput({"body": "a JSON object"})
    return body


def _match(m: signups.Match) -> dict[str, Any]:
    return {"id": m.id, "title": m.title, "category": m.category,
            "distance_m": None if m.distance_m is None else round(m.distance_m),
            "availability": m.availability, "places_left": m.places_left,
            "organisation": m.organisation, "skills": m.skills, "my_skills": m.my_skills,
            "lon": round(m.lon, 6), "lat": round(m.lat, 6), "full": m.full,
            "waiting_list": m.full, "join_url": f"/missions/{m.id}/join"}


def _event(e: dict[str, Any]) -> dict[str, Any]:
    return {"id": e["id"], "title": e["title"], "category": e["category"],
            "starts_at": e["starts_at"].isoformat(),
            "ends_at": e["ends_at"].isoformat() if e["ends_at"] else None,
            "places_left": e["places_left"], "waiting_list_only": e["waiting_list_only"],
            "distance_m": None if e["distance_m"] is None else round(e["distance_m"]),
            "lon": round(e["lon"], 6), "lat": round(e["lat"], 6),
            "join_url": f"/missions/{e['id']}/join"}


def _profile(p: Profile) -> dict[str, Any]:
    return {"availability": p.availability, "skills": p.skills, "area_id": p.area_id,
            "area_name": p.area_name, "lon": p.lon, "lat": p.lat, "radius_m": p.radius_m}


@bp.get("/api/v1/me/missions")
@resident_required
def api_missions() -> Response:
    """"Missions for me" as JSON (``near=lon,lat`` orders from there instead)."""
    near = parse_lonlat(request.args.get("near"), name="near")
    limit = parse_int(request.args.get("limit"), name="limit", default=50, minimum=1,
                      maximum=200)
    rid = _resident_id()
    with _session() as s:
        profile = get_profile(s, rid)
        matches = signups.missions_for(s, profile, near=near, limit=limit,
                                       exclude_resident=rid)
        waiting = signups.waiting_missions_for(s, profile, near=near,
                                               limit=min(limit, 20), exclude_resident=rid)
        events = signups.events_for(s, profile, resident_id=rid)
    return json_response({"profile": _profile(profile),
                          "missions": [_match(m) for m in matches],
                          "waiting_list_missions": [_match(m) for m in waiting],
                          "events": [_event(e) for e in events]}, headers=PRIVATE)


@bp.get("/api/v1/me/profile")
@resident_required
def api_profile() -> Response:
    """The resident's availability, skills and area."""
    with _session() as s:
        return json_response(_profile(get_profile(s, _resident_id())), headers=PRIVATE)


@bp.put("/api/v1/me/profile")
@resident_required
def api_profile_put() -> Response:
    """Replace the profile: ``{availability, skills, area_id, lon, lat, radius_m}``."""
    body = _json_body()
    area = body.get("area_id")
    if area is not None and (not isinstance(area, int) or isinstance(area, bool)):
        raise InvalidCommunityInput({"area_id": "an area id (a number)"})
    with _session() as s, s.begin():
        profile = save_profile(s, _resident_id(), availability=body.get("availability"),
                               skills=body.get("skills"), area_id=area,
                               lon=body.get("lon"), lat=body.get("lat"),
                               radius_m=body.get("radius_m"))
    return json_response(_profile(profile), headers=PRIVATE)


@bp.get("/api/v1/me/signups")
@resident_required
def api_my_signups() -> Response:
    """The resident's active sign-ups."""
    with _session() as s:
        rows = signups.my_signups(s, _resident_id())
    return json_response([{"feature_id": r["feature_id"], "title": r["title"],
                           "status": r["status"], "category": r["category"],
                           "starts_at": r["starts_at"].isoformat() if r["starts_at"] else None,
                           "signed_up_at": r["created_at"].isoformat()} for r in rows],
                         headers=PRIVATE)


def _parse_fid(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadParameter("feature_id", "a feature id is a positive integer")
    return int(raw)


@bp.get("/api/v1/features/<feature_id>/signups")
def api_summary(feature_id: str) -> Response:
    """Places, full, waiting list and questions of a mission or event (no names)."""
    fid = _parse_fid(feature_id)
    resident = current_resident()
    with _session() as s:
        body = signups.summary(s, fid, resident.id if resident else None)
    body["signed_in"] = resident is not None
    body["join_url"] = f"/missions/{fid}/join"
    return json_response(body, headers=PRIVATE)


PLACES_CACHE = {"Cache-Control": "public, max-age=15"}
"""A list's counts may be 15 s old: the panel and the join page read them live."""


def _parse_ids(raw: str | None) -> list[int]:
    """``ids=1,2,3``: distinct feature ids, at most ``signups.MAX_PLACES_IDS``."""
    if not raw:
        raise BadParameter("ids", "give feature ids, comma-separated (ids=12,34)")
    out: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()) or len(part) > 18 or int(part) < 1:
            raise BadParameter("ids", f"{part[:20]!r} is not a feature id")
        if int(part) not in out:
            out.append(int(part))
    if len(out) > signups.MAX_PLACES_IDS:
        raise BadParameter("ids", f"at most {signups.MAX_PLACES_IDS} ids at once")
    return out


@bp.get("/api/v1/missions/places")
def api_places() -> Response:
    """Live counts of missions and events for the map's list (counts only, no names)."""
    ids = _parse_ids(request.args.get("ids"))
    with _session() as s:
        found = signups.places(s, ids)
    return json_response({str(k): v for k, v in found.items()}, headers=PLACES_CACHE)


@bp.post("/api/v1/features/<feature_id>/signups")
@resident_required
def api_sign_up(feature_id: str) -> Response:
    """"I'm in": 201 confirmed or waiting (with its position), 200 if already in."""
    fid = _parse_fid(feature_id)
    body = _json_body()
    with _session() as s, s.begin():
        result = signups.sign_up(s, fid, _resident_id(), body.get("answers"))
    return json_response({"signup_id": result.signup_id, "status": result.status,
                          "waiting_position": result.position},
                         201 if result.created else 200, headers=PRIVATE)


@bp.delete("/api/v1/features/<feature_id>/signups/me")
@resident_required
def api_cancel(feature_id: str) -> Response:
    """Withdraw from the item; how many were promoted from its waiting list."""
    fid = _parse_fid(feature_id)
    _check_same_origin()
    with _session() as s, s.begin():
        promoted = signups.cancel(s, fid, _resident_id())
    return json_response({"status": "cancelled", "promoted": len(promoted)},
                         headers=PRIVATE)


# ------------------------------------------------------------------ OpenAPI


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SLOT = {"type": "object", "required": ["day", "from", "to"],
         "properties": {"day": {"enum": list(DAYS)},
                        "from": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                        "to": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}}}
_PROFILE = {"type": "object",
            "properties": {"availability": {"type": "array", "items": _SLOT, "maxItems": 28},
                           "skills": {"type": "array", "items": {"type": "string"}},
                           "area_id": {"type": ["integer", "null"]},
                           "area_name": {"type": ["string", "null"]},
                           "lon": {"type": ["number", "null"]},
                           "lat": {"type": ["number", "null"]},
                           "radius_m": {"type": ["integer", "null"]}}}
_ID = {"name": "feature_id", "in": "path", "required": True,
       "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
_SIGNED_OUT = _problem("sign in first (sign_in_url)")
_NUM = {"type": ["integer", "null"]}
register_operations({
    "/api/v1/me/missions": {"get": {
        "operationId": "missionsForMe",
        "summary": "Missions for me: published missions whose weekly slots overlap the "
                   "signed-in resident's availability, not over, nearest first: "
                   "'missions' with places left, 'waiting_list_missions' the full ones "
                   "whose waiting list takes sign-ups (at most 20)",
        "parameters": [
            {"name": "near", "in": "query", "required": False,
             "description": "lon,lat to order from instead of the profile's point or area",
             "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}],
        "responses": {
            "200": _json("the profile, the missions, and upcoming events (next 4 weeks) "
                         "that start while the resident is free", {
                "type": "object", "required": ["profile", "missions", "events"],
                "properties": {"profile": _PROFILE, "missions": {"type": "array", "items": {
                    "type": "object", "required": ["id", "title", "join_url"],
                    "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                                   "distance_m": _NUM, "places_left": _NUM,
                                   "full": {"type": "boolean"},
                                   "waiting_list": {"type": "boolean"},
                                   "availability": {"type": "array"},
                                   "join_url": {"type": "string"}}}},
                               "waiting_list_missions": {"type": "array", "items": {
                                   "type": "object",
                                   "required": ["id", "title", "full", "join_url"],
                                   "properties": {"id": {"type": "integer"},
                                                  "title": {"type": "string"},
                                                  "distance_m": _NUM,
                                                  "places_left": {"const": 0},
                                                  "full": {"const": True},
                                                  "waiting_list": {"const": True},
                                                  "join_url": {"type": "string"}}}},
                               "events": {"type": "array", "items": {
                                   "type": "object",
                                   "required": ["id", "title", "starts_at", "join_url"],
                                   "properties": {"id": {"type": "integer"},
                                                  "title": {"type": "string"},
                                                  "starts_at": {"type": "string"},
                                                  "places_left": _NUM,
                                                  "join_url": {"type": "string"}}}}}}),
            "400": _problem("a bad near or limit (invalid_params)"),
            "401": _SIGNED_OUT}}},
    "/api/v1/me/profile": {
        "get": {"operationId": "missionProfile",
                "summary": "The signed-in resident's availability, skills and area",
                "responses": {"200": _json("the profile", _PROFILE), "401": _SIGNED_OUT}},
        "put": {"operationId": "setMissionProfile",
                "summary": "Replace the availability ({day, from, to} slots; a 'to' not "
                           "after 'from' runs past midnight), skills, area or point and "
                           "radius; same-origin JSON only",
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _PROFILE}}},
                "responses": {"200": _json("the stored profile", _PROFILE),
                              "400": _problem("a field that cannot be used (invalid_params)"),
                              "401": _SIGNED_OUT, "403": _problem("cross-site"),
                              "415": _problem("not application/json")}}},
    "/api/v1/me/signups": {"get": {
        "operationId": "mySignups", "summary": "The signed-in resident's active sign-ups",
        "responses": {"200": _json("sign-ups", {"type": "array", "items": {
            "type": "object", "required": ["feature_id", "status"],
            "properties": {"feature_id": {"type": "integer"},
                           "status": {"enum": ["confirmed", "waiting"]}}}}),
            "401": _SIGNED_OUT}}},
    "/api/v1/features/{feature_id}/signups": {
        "get": {"operationId": "signupSummary",
                "summary": "A mission's or event's places: capacity, places left, full, "
                           "waiting list, its questions; never who signed up (with the "
                           "session cookie: the resident's own status)",
                "parameters": [_ID],
                "responses": {
                    "200": _json("the summary", {
                        "type": "object",
                        "required": ["id", "kind", "capacity", "confirmed", "places_left",
                                     "full", "open", "questions", "mine", "signed_in"],
                        "properties": {
                            "id": {"type": "integer"}, "kind": {"enum": ["mission", "event"]},
                            "capacity": _NUM, "confirmed": {"type": "integer"},
                            "places_left": _NUM, "full": {"type": "boolean"},
                            "waiting_list": {"type": "boolean"},
                            "waiting": {"type": "integer"}, "open": {"type": "boolean"},
                            "closed": {"type": "boolean"}, "over": {"type": "boolean"},
                            "questions": {"type": "array", "items": {"type": "string"}},
                            "mine": {"enum": ["confirmed", "waiting", None]},
                            "waiting_position": _NUM, "organiser": {"type": "boolean"},
                            "signed_in": {"type": "boolean"},
                            "join_url": {"type": "string"}}}),
                    "400": _problem("not a feature id"),
                    "404": _problem("no published mission or event has this id")}},
        "post": {"operationId": "signUp",
                 "summary": "I'm in: sign up (or join a full item's waiting list) with "
                            "answers to the item's questions; same-origin JSON only",
                 "parameters": [_ID],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"type": "object", "properties": {"answers": {
                         "type": "array", "items": {"type": "string", "maxLength": 500}}}}}}},
                 "responses": {
                     "200": _json("already signed up: that sign-up", {"type": "object"}),
                     "201": _json("signed up: status confirmed, or waiting with its "
                                  "waiting_position", {
                                      "type": "object", "required": ["signup_id", "status"],
                                      "properties": {
                                          "signup_id": {"type": "integer"},
                                          "status": {"enum": ["confirmed", "waiting"]},
                                          "waiting_position": _NUM}}),
                     "400": _problem("an answer missing or too long (invalid_params)"),
                     "401": _SIGNED_OUT, "403": _problem("cross-site"),
                     "404": _problem("no published mission or event has this id"),
                     "409": _problem("closed or over (a full item takes the sign-up "
                                     "on its waiting list)"),
                     "415": _problem("not application/json")}}},
    "/api/v1/missions/places": {"get": {
        "operationId": "missionPlaces",
        "summary": "Live places of published missions and events (for the map's list): "
                   "capacity, confirmed, places left, full, closed; counts only, never "
                   "who; ids that are not a published mission or event are left out; "
                   "may be 15 s old",
        "parameters": [{"name": "ids", "in": "query", "required": True,
                        "description": "feature ids, comma-separated (at most 200)",
                        "schema": {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"}}],
        "responses": {
            "200": _json("an object keyed by feature id", {
                "type": "object", "additionalProperties": {
                    "type": "object",
                    "required": ["capacity", "confirmed", "places_left", "full", "closed",
                                 "waiting_list"],
                    "properties": {"capacity": _NUM, "confirmed": {"type": "integer"},
                                   "places_left": _NUM, "full": {"type": "boolean"},
                                   "closed": {"type": "boolean"},
                                   "waiting_list": {"type": "boolean"}}}}),
            "400": _problem("ids missing, not feature ids, or more than 200 "
                            "(invalid_params names ids)")}}},
    "/api/v1/features/{feature_id}/signups/me": {"delete": {
        "operationId": "cancelSignup",
        "summary": "Withdraw; the first one waiting takes the place and is told by e-mail",
        "parameters": [_ID],
        "responses": {
            "200": _json("cancelled; how many were promoted", {
                "type": "object", "required": ["status", "promoted"],
                "properties": {"status": {"const": "cancelled"},
                               "promoted": {"type": "integer"}}}),
            "400": _problem("not a feature id"),
            "401": _SIGNED_OUT, "403": _problem("cross-site"),
            "404": _problem("not signed up for this item, or no such item")}}},
})


# ------------------------------------------------------------------ /me section


def _me_context(resident: Any, session: Session) -> dict[str, Any]:
    return {"mission_profile": get_profile(session, resident.id),
            "mission_signups": signups.my_signups(session, resident.id)}


register_me_section("missions", "missions/me_section.html", _me_context)


def init_app(app: Any) -> None:
    """Register the blueprint (the ``/me`` section is registered on import)."""
    app.register_blueprint(bp)
