"""Who the signed-in resident is, for every page and API of the community features.

A resident signs in with a magic link (``/auth/magic``, :mod:`webmap.me_views`); the
Flask session (a signed, HttpOnly, SameSite=Lax cookie) then holds their id. Use:

* :func:`current_resident` — the :class:`community.residents.Resident` of this request,
  or ``None`` (anonymous, or the account was deleted since);
* ``@resident_required`` on a view — an anonymous request for a page is redirected to
  ``/auth/magic?next=<this path>`` (``/me`` after a form's POST: the session expired);
  an API (``/api/…``) answers 401 problem+json (with ``sign_in_url``).
* :func:`sign_in` / :func:`sign_out` — used by the magic link views; sign-in rotates
  the session (a fresh cookie and CSRF token).

Tests sign a resident in without mail with ``tests.resident_fixtures.sign_in(client,
email)`` (it sets the same session keys as :func:`sign_in`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import current_app, g, redirect, request, session
from sqlalchemy.orm import Session

from community.residents import Resident, get_resident
from moderation.redirects import local_path

from .web import engine, problem

__all__ = ["SESSION_KEY", "current_resident", "name_ingestion_resident", "resident_required",
           "safe_next", "sign_in", "sign_out"]

SESSION_KEY = "resident_id"

F = TypeVar("F", bound=Callable[..., Any])


def current_resident() -> Resident | None:
    """The signed-in resident of this request (looked up once per request), or ``None``."""
    if "resident" not in g:
        rid = session.get(SESSION_KEY)
        resident = None
        if isinstance(rid, int):
            # A session of its own: a caller may be inside a transaction of the request's
            # session (db_session), which this lookup must neither join nor end.
            with Session(engine()) as s:
                resident = get_resident(s, rid)
        g.resident = resident
    return g.resident  # type: ignore[no-any-return]


def name_ingestion_resident() -> None:
    """``g.resident_name`` for ingestion's pages (``_page.html``'s bar reads it).

    Ingestion may not import webmap, so its pages (the form, its confirmation, the
    tracking page) cannot ask :func:`current_resident`; this ``before_request`` does it
    for them, on their pages only (not the APIs, not the tiles: no lookup there).
    """
    if request.blueprint == "ingestion" and not request.path.startswith("/api/"):
        resident = current_resident()
        g.resident_name = resident.public_name(request.args.get("lang", "fr")) \
            if resident else None


def sign_in(resident: Resident) -> None:
    """Put ``resident`` in a fresh session (old data and CSRF token are dropped)."""
    lang = session.get("lang")
    session.clear()
    session[SESSION_KEY] = resident.id
    if lang:
        session["lang"] = lang
    session.permanent = True
    g.resident = resident


def sign_out() -> None:
    """Forget the resident of this session (and its CSRF token)."""
    session.clear()
    g.resident = None


_FRAGMENT = re.compile(r"[A-Za-z0-9=&/.,_-]{1,200}")


def safe_next(target: str | None, default: str = "/me") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect).

    A plain fragment is kept (the map's permalink ``/#map=…&f=<id>`` lives there).
    """
    path, _, fragment = (target or "").partition("#")
    local = local_path(path, default="") if path else ""
    if not local:
        return default
    return local + "#" + fragment if _FRAGMENT.fullmatch(fragment) else local


def _sign_in_url() -> str:
    here = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else "/me"
    return "/auth/magic?" + urlencode({"next": here})


def resident_required(view: F) -> F:
    """Guard a page or API for signed-in residents (see the module docstring)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        resident = current_resident()
        if resident is None:
            if not request.path.startswith("/api/"):  # a page: sign in, then come back
                return redirect(_sign_in_url(), code=303)
            return problem(401, "Sign-in required",
                           detail="sign in with a link sent by e-mail (/auth/magic)",
                           sign_in_url=_sign_in_url(),
                           headers={"Cache-Control": "no-store"})
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def secret() -> str:
    """The app secret (keys the e-mail hashes)."""
    return str(current_app.config["SECRET_KEY"])
