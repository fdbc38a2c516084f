"""Stopping an abuser: a block from an item or a flag refuses its client, audited, liftable."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
import json

from tests.ingestion_fixtures import good_submission
from tests.moderation_fixtures import (  # noqa: F401
    mdb,
    mod_app,
    moderator,
    post,
    published,
    real_categories,
    row,
    scalar,
)


def submit(client, **headers):
    return client.post("/api/v1/submissions", data=json.dumps(good_submission()),
                       content_type="application/json", headers=headers)


def test_blocking_the_sender_of_a_submission_refuses_its_next_ones(mod_app, moderator, mdb,
                                                                   real_categories):
    resident = mod_app.test_client()
    first = submit(resident)
    assert first.status_code == 201, first.get_json()
    sid = first.get_json()["id"]
    page = moderator.get(f"/moderation/submissions/{sid}?lang=en").get_data(as_text=True)
    assert "Block the client that sent this submission" in page
    response = post(moderator, f"/moderation/submissions/{sid}/block",
                    {"duration": "7d", "reason": "Publicité répétée"},
                    page=f"/moderation/submissions/{sid}")
    assert response.status_code == 303
    refused = submit(resident, **{"Accept-Language": "en"})
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["title"] == "Submissions suspended" and "Publicité répétée" in body["detail"]
    assert scalar(mdb, "SELECT count(*) FROM submission") == 1  # nothing was kept
    french = submit(resident, **{"Accept-Language": "fr"})
    assert french.get_json()["title"] == "Envois suspendus"
    # The flag endpoint refuses the same client.
    fid = published(mdb)
    flag = resident.post(f"/api/v1/features/{fid}/flags", json={"reason": "faux"})
    assert flag.status_code == 403
    # Audited, shown with its reason, and lifted.
    event = row(mdb, "SELECT action::text AS action, reason, actor_id FROM moderation_event "
                     "WHERE submission_id = :i AND action = 'block'", i=sid)
    assert event.reason == "Publicité répétée" and event.actor_id is not None
    blocks = html.unescape(moderator.get("/moderation/blocks?lang=en").get_data(as_text=True))
    assert "Publicité répétée" in blocks
    block_id = scalar(mdb, "SELECT id FROM client_block")
    lifted = post(moderator, f"/moderation/blocks/{block_id}/lift", page="/moderation/blocks")
    assert lifted.status_code == 303
    assert submit(resident).status_code == 201
    audit = moderator.get("/moderation/audit?lang=en").get_data(as_text=True)
    assert "Client blocked" in audit and "Block lifted" in audit


def test_a_flagger_is_blocked_from_the_flag_with_its_network(mod_app, moderator, mdb):
    fid = published(mdb)
    flagger = mod_app.test_client()
    assert flagger.post(f"/api/v1/features/{fid}/flags",
                        json={"reason": "n'existe pas"}).status_code == 201
    flag_id = scalar(mdb, "SELECT id FROM flag")
    page = moderator.get(f"/moderation/features/{fid}").get_data(as_text=True)
    assert f'action="/moderation/flags/{flag_id}/block"' in page
    wide = post(moderator, f"/moderation/flags/{flag_id}/block",
                {"duration": "1d", "reason": "Signalements en rafale", "network": "10.0.0.0/8"},
                page=f"/moderation/features/{fid}")
    assert wide.status_code == 400  # a range that would block a city
    response = post(moderator, f"/moderation/flags/{flag_id}/block",
                    {"duration": "1d", "reason": "Signalements en rafale",
                     "network": "127.0.0.0/16"}, page=f"/moderation/features/{fid}")
    assert response.status_code == 303
    other = published(mdb, title="Autre")
    assert flagger.post(f"/api/v1/features/{other}/flags",
                        json={"reason": "x"}).status_code == 403
    # Another client from the blocked range is refused too (the range, not the key).
    with mdb.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE client_block SET client_key = 'someone-else'"))
    assert mod_app.test_client().post(f"/api/v1/features/{other}/flags",
                                      json={"reason": "x"}).status_code == 403
    assert scalar(mdb, "SELECT count(*) FROM moderation_event WHERE action = 'block' "
                       "AND feature_id = :f", f=fid) == 1


def test_a_block_needs_a_reason_and_a_known_duration(moderator, mdb):
    fid = published(mdb)
    from sqlalchemy import text

    with mdb.begin() as conn:
        conn.execute(text("INSERT INTO flag (feature_id, reason, client_key) "
                          "VALUES (:f, 'x', 'ck-flag')"), {"f": fid})
    flag_id = scalar(mdb, "SELECT id FROM flag")
    for data in ({"duration": "7d", "reason": " "}, {"duration": "forever", "reason": "x"}):
        response = post(moderator, f"/moderation/flags/{flag_id}/block", data,
                        page=f"/moderation/features/{fid}")
        assert response.status_code == 400
    assert scalar(mdb, "SELECT count(*) FROM client_block") == 0
