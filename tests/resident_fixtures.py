"""Sign residents in for tests without going through the mail (the magic link itself is
tested in ``tests/integration/test_residents_auth.py``).

>>> resident = sign_in(client, "ana@example.org", display_name="Ana")

creates (or finds) the resident and puts them in ``client``'s session exactly as
:func:`webmap.residents_auth.sign_in` does after a magic link. ``make_resident`` only
creates the row (a second person who is not signed in in this client).
"""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from community.residents import Resident, get_or_create_resident
from geo.db import get_engine
from webmap.residents_auth import SESSION_KEY


def make_resident(app, email: str, *, display_name: str | None = None,
                  lang: str = "fr") -> Resident:
    """Create (or find) the resident with this address, committed."""
    with Session(get_engine(app.config["DATABASE_URL"])) as s, s.begin():
        return get_or_create_resident(s, email, secret=app.config["SECRET_KEY"], lang=lang,
                                      display_name=display_name)


def sign_in(client: FlaskClient, email: str, *, display_name: str | None = None,
            lang: str = "fr") -> Resident:
    """Create (or find) the resident and sign them in in ``client``'s session."""
    resident = make_resident(client.application, email, display_name=display_name,
                             lang=lang)
    with client.session_transaction() as sess:
        sess.clear()
        sess[SESSION_KEY] = resident.id
        sess.permanent = True
    return resident


# --- fixtures of the community tests (import with ``from tests.resident_fixtures import *``)

import pytest  # noqa: E402
from sqlalchemy import text  # noqa: E402

from geo.publish import FeatureDraft, publish_feature  # noqa: E402

OFFER_CATEGORIES = (
    "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) VALUES "
    "('troc-test', 'offer', 'Prêt et troc', 'Lending and barter', '#6a1b9a', 'gift'), "
    "('lieu-test', 'place', 'Lieu', 'Place', '#2e7d32', 'leaf') "
    "ON CONFLICT (slug) DO NOTHING")


@pytest.fixture
def capp(mail_env, engine, database_url, var_dir):
    """The app with links rooted at http://carte.test and mail to the in-process server."""
    from webmap import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": var_dir,
                       "SECRET_KEY": "test-secret-key", "PUBLIC_URL": "http://carte.test"})


@pytest.fixture
def cdb(clean_db):
    """A clean database with an offer category (``troc-test``) and a place one."""
    with clean_db.begin() as conn:
        conn.execute(text(OFFER_CATEGORIES))
    yield clean_db
    from tests.dbclean import empty_mutable_tables

    with clean_db.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug IN ('troc-test', 'lieu-test')"))


def organised(engine, resident_id: int | None, *, title: str = "Perceuse à prêter",
              category: str = "troc-test", lon: float = 2.3522, lat: float = 48.8566) -> int:
    """A published feature whose originating submission is ``resident_id``'s; its id."""
    with Session(engine) as s, s.begin():
        sid = s.execute(text("""
            INSERT INTO submission (source, raw, status, category, title, geom, resident_id)
            VALUES ('api', CAST('{}' AS bytea), 'pending', :c, :t,
                    ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :r)
            RETURNING id
        """), {"c": category, "t": title, "lon": lon, "lat": lat,
               "r": resident_id}).scalar_one()
        fid = publish_feature(s, FeatureDraft(category=category, title=title, lon=lon,
                                              lat=lat), max_zoom=14).id
        s.execute(text("UPDATE feature SET submission_id = :s WHERE id = :f"),
                  {"s": sid, "f": fid})
        s.execute(text("UPDATE submission SET feature_id = :f, status = 'approved', "
                       "decided_at = now() WHERE id = :s"), {"s": sid, "f": fid})
    return fid


def deliver(engine, smtp, count: int) -> list:
    """Send the outbox through the in-process SMTP server; the first ``count`` messages."""
    from mail.sender import deliver_due

    deliver_due(engine, smtp.settings())
    return smtp.wait_for(count)[:count]
