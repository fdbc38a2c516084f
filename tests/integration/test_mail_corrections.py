"""Residents hear of the decisions on their correction proposals; forget covers them too."""

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from mail.sender import deliver_due
from moderation.corrections import approve_correction, refuse_correction
from tests.ingestion_fixtures import *  # noqa: F403 - api, engine
from tests.integration.test_corrections import _garden, _moderator, propose
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import text_part
from webmap.cli import main


def test_an_approved_then_a_refused_correction_reach_the_resident_in_their_language(
        api, engine, mail_env):
    fid = _garden(engine)
    mod = _moderator(engine)
    a = propose(api, fid, {"changes": {"description": "Bacs rue du Renard."},
                           "email": "Dana@Example.org"}, lang="en").get_json()["id"]
    b = propose(api, fid, {"closed": True, "email": "dana@example.org"}).get_json()["id"]
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM correction WHERE email IS NOT NULL")
                            ).scalar_one()
    assert kept == 0  # the address is kept apart, once for both proposals
    with Session(engine) as s, s.begin():
        approve_correction(s, a, actor_id=mod)
    with Session(engine) as s, s.begin():
        refuse_correction(s, b, actor_id=mod, reason="Le jardin est ouvert ce jour.")
    deliver_due(engine, mail_env.settings())
    first, second = mail_env.wait_for(2)
    assert first["Subject"] == 'Your correction of "Jardin Saint-Merri" is online'
    assert f"&f={fid}" in text_part(first)
    assert second["Subject"] == "Votre correction de « Jardin Saint-Merri » n'a pas été retenue"
    assert "Le jardin est ouvert ce jour." in text_part(second)


def test_forget_also_blanks_the_address_out_of_correction_proposals(api, engine, runner):
    fid = _garden(engine)
    cid = propose(api, fid, {"closed": True, "email": "erin@example.org"}).get_json()["id"]
    out = runner.invoke(main, ["residents", "forget", "ERIN@example.org"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["removed"]["corrections"] == 1
    with engine.connect() as conn:
        raw, aid = conn.execute(text("SELECT raw, resident_address_id FROM correction "
                                     "WHERE id = :i"), {"i": cid}).one()
    assert b"erin" not in bytes(raw).lower() and aid is None
