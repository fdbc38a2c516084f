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
