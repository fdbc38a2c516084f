"""Helpers of the time bank and loan tests: residents, offers, a moderator."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Engine, text


def add_resident(conn, name: str, *, lang: str = "fr") -> int:
    """A live resident row (as signing in by magic link creates it)."""
    email = f"{name.lower()}@example.org"
    return conn.execute(text("""
        INSERT INTO resident (email, email_hash, display_name, lang)
        VALUES (:e, :h, :n, :l) RETURNING id
    """), {"e": email, "h": hashlib.sha256(email.encode()).hexdigest(), "n": name,
           "l": lang}).scalar_one()


def make_offer(conn, owner_id: int | None, *, category: str = "echange-temps",
               attributes: dict | None = None, title: str = "Cours de couture",
               lon: float = 2.3522, lat: float = 48.8566) -> int:
    """A published feature whose originating submission is ``owner_id``'s."""
    attributes = attributes if attributes is not None else (
        {"offer_type": "offer", "skill": "couture"} if category == "echange-temps"
        else {"offer_type": "lend", "item": "perceuse"})
    sid = conn.execute(text("""
        INSERT INTO submission (source, raw, resident_id) VALUES ('api', '{}', :r) RETURNING id
    """), {"r": owner_id}).scalar_one()
    return conn.execute(text("""
        INSERT INTO feature (category, title, geom, attributes, submission_id)
        VALUES (:c, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326), CAST(:a AS jsonb), :s)
        RETURNING id
    """), {"c": category, "t": title, "x": lon, "y": lat, "a": json.dumps(attributes),
           "s": sid}).scalar_one()


def make_moderator(engine: Engine, email: str = "mod@example.org", *,
                   password: str = "correct horse battery staple") -> int:
    from sqlalchemy.orm import Session

    from geo.models import UserRole
    from moderation.accounts import create_user

    with Session(engine) as s, s.begin():
        return create_user(s, email, UserRole.moderator, password).id
