"""Every decision over HTTP: what it writes, its audit trail, conflicts between moderators."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import re
from datetime import UTC, datetime

from sqlalchemy import text

from geo.tilemath import tiles_for_point
from tests.moderation_fixtures import (  # noqa: F401
    ADMIN,
    PASSWORD,
    login,
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    published,
    row,
    scalar,
)


def events(engine, **where):
    key, value = next(iter(where.items()))
    with engine.connect() as conn:
        return conn.execute(text(
            f"SELECT action::text, actor_id, reason, before, after FROM moderation_event "
            f"WHERE {key} = :v ORDER BY id"), {"v": value}).all()


def test_approve_publishes_versions_audits_and_marks_every_zoom_dirty(moderator, mdb):
    sid = pending(mdb)
    response = post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    assert response.status_code == 303
    sub = row(mdb, "SELECT status::text, feature_id, decided_by, version FROM submission "
                   "WHERE id = :i", i=sid)
    assert sub.status == "approved" and sub.feature_id and sub.version == 2
    f = row(mdb, "SELECT status::text, title, source, submission_id, area_ids[1] AS first_area "
                 "FROM feature WHERE id = :i", i=sub.feature_id)
    assert (f.status, f.title, f.source, f.submission_id) == ("published", "Jardin des Rosiers",
                                                              "api", sid)
    assert f.first_area is not None
    assert scalar(mdb, "SELECT count(*) FROM feature_version WHERE feature_id = :i",
                  i=sub.feature_id) == 1
    [event] = events(mdb, submission_id=sid)
    assert event.action == "approve" and event.actor_id == sub.decided_by
    with mdb.connect() as conn:
        dirty = {tuple(r) for r in conn.execute(text("SELECT z, x, y FROM tile_dirty"))}
    assert {tuple(t) for t in tiles_for_point(2.3580, 48.8570, max_zoom=16)} <= dirty
    assert {z for z, _, _ in dirty} == set(range(17))


def test_two_moderators_on_one_item_the_second_gets_a_clear_409(mod_app, moderator, mdb):
    sid = pending(mdb)
    other = mod_app.test_client()
    assert login(other, ADMIN, PASSWORD).status_code == 303
    # Both opened the item at version 1.
    assert post(moderator, f"/moderation/submissions/{sid}/refuse",
                {"version": "1", "reason": "advertising", "message": "Promo"}).status_code == 303
    second = post(other, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "déjà été traitée" in html and "mod@example.org" in html and "refusée" in html
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == "refused"
    assert scalar(mdb, "SELECT count(*) FROM feature") == 0


def test_refuse_keeps_the_charter_reason_and_message_for_the_resident(moderator, mdb):
    sid = pending(mdb)
    response = post(moderator, f"/moderation/submissions/{sid}/refuse",
                    {"version": "1", "reason": "personal-data",
                     "message": "Retirez le nom du voisin."})
    assert response.status_code == 303
    sub = row(mdb, "SELECT status::text, reason FROM submission WHERE id = :i", i=sid)
    assert sub.status == "refused"
    assert sub.reason.startswith("Données personnelles d'autrui / Personal data about others")
    assert "Retirez le nom du voisin." in sub.reason
    [event] = events(mdb, submission_id=sid)
    assert event.action == "refuse" and event.reason == "personal-data"
    assert event.before["title"] == "Jardin des Rosiers" and event.after["status"] == "refused"


def test_refuse_needs_a_reason_of_the_charter(moderator, mdb):
    sid = pending(mdb)
    response = post(moderator, f"/moderation/submissions/{sid}/refuse",
                    {"version": "1", "reason": "because"})
    assert response.status_code == 400
    assert "reason" in response.get_data(as_text=True)
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == "pending"


def test_edit_then_approve_publishes_the_edited_values_and_audits_the_edit(moderator, mdb):
    sid = pending(mdb)
    response = post(moderator, f"/moderation/submissions/{sid}/edit",
                    {"version": "1", "title": "Jardin des Rosiers (corrigé)",
                     "description": "Ouvert le samedi.", "category": "soupe-test",
                     "lon": "2,3400", "lat": "48.8600", "starts_at": "2027-06-21T18:00",
                     "ends_at": "2027-06-21T23:00"})
    assert response.status_code == 303
    fid = scalar(mdb, "SELECT feature_id FROM submission WHERE id = :i", i=sid)
    f = row(mdb, "SELECT title, category, ST_X(geom) AS lon, ST_Y(geom) AS lat, starts_at "
                 "FROM feature WHERE id = :i", i=fid)
    assert (f.title, f.category) == ("Jardin des Rosiers (corrigé)", "soupe-test")
    assert (round(f.lon, 4), round(f.lat, 4)) == (2.34, 48.86)
    # Typed as the city's local time (Paris, summer: UTC+2).
    assert f.starts_at == datetime(2027, 6, 21, 16, 0, tzinfo=UTC)
    edit, approve = events(mdb, submission_id=sid)
    assert edit.action == "edit" and approve.action == "approve"
    assert edit.before["title"] == "Jardin des Rosiers"
    assert edit.after["title"] == "Jardin des Rosiers (corrigé)"


def test_edit_errors_name_each_field_and_change_nothing(moderator, mdb):
    sid = pending(mdb)
    response = post(moderator, f"/moderation/submissions/{sid}/edit",
                    {"version": "1", "title": " ", "category": "nope", "lon": "abc",
                     "lat": "95", "description": ""})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for field in ("title", "category", "lon", "lat"):
        assert f'id="err-{field}"' in html
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == "pending"
    outside = post(moderator, f"/moderation/submissions/{sid}/edit",
                   {"version": "1", "title": "Ok", "category": "jardin-test", "lon": "2.0",
                    "lat": "48.0"})
    assert outside.status_code == 400 and "hors de la ville" in outside.get_data(as_text=True)
    assert scalar(mdb, "SELECT version FROM submission WHERE id = :i", i=sid) == 1


def test_merge_into_an_existing_feature_can_take_the_description(moderator, mdb):
    fid = published(mdb)
    sid = pending(mdb, title="Jardin St Merri", duplicate_of=fid,
                  description="Composteur ouvert le mercredi.")
    page = moderator.get(f"/moderation/submissions/{sid}").get_data(as_text=True)
    assert "Doublon possible" in page and "Jardin Saint-Merri" in page  # side by side
    response = post(moderator, f"/moderation/submissions/{sid}/merge",
                    {"version": "1", "into": str(fid), "into_version": "1",
                     "take": "description"})
    assert response.status_code == 303
    sub = row(mdb, "SELECT status::text, feature_id FROM submission WHERE id = :i", i=sid)
    assert (sub.status, sub.feature_id) == ("merged", fid)
    f = row(mdb, "SELECT title, description, version FROM feature WHERE id = :i", i=fid)
    assert (f.title, f.description, f.version) == ("Jardin Saint-Merri",
                                                   "Composteur ouvert le mercredi.", 2)
    [event] = events(mdb, submission_id=sid)
    assert event.action == "merge" and event.before["description"] == ""


def test_merge_without_fields_only_records_the_duplicate(moderator, mdb):
    fid = published(mdb)
    sid = pending(mdb, duplicate_of=fid)
    assert post(moderator, f"/moderation/submissions/{sid}/merge",
                {"version": "1", "into": str(fid)}).status_code == 303
    assert scalar(mdb, "SELECT version FROM feature WHERE id = :i", i=fid) == 1
    [event] = events(mdb, submission_id=sid)
    assert event.action == "merge" and event.after == {"status": "merged", "feature_id": fid}


def test_merge_into_a_missing_feature_is_refused(moderator, mdb):
    sid = pending(mdb)
    response = post(moderator, f"/moderation/submissions/{sid}/merge",
                    {"version": "1", "into": "999"})
    assert response.status_code == 400
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == "pending"


def test_refusal_and_merge_are_reversible(moderator, mdb):
    sid = pending(mdb)
    post(moderator, f"/moderation/submissions/{sid}/refuse",
         {"version": "1", "reason": "off-topic"})
    response = post(moderator, f"/moderation/submissions/{sid}/reopen", {"version": "2"})
    assert response.status_code == 303
    sub = row(mdb, "SELECT status::text, reason, version FROM submission WHERE id = :i", i=sid)
    assert (sub.status, sub.reason, sub.version) == ("pending", None, 3)
    assert [e.action for e in events(mdb, submission_id=sid)] == ["refuse", "restore"]
    assert post(moderator, f"/moderation/submissions/{sid}/approve",
                {"version": "3"}).status_code == 303


def test_unpublish_and_restore_a_feature(moderator, mdb):
    fid = published(mdb)
    response = post(moderator, f"/moderation/features/{fid}/unpublish",
                    {"version": "1", "reason": "illegal", "message": "note interne"},
                    page=f"/moderation/features/{fid}")
    assert response.status_code == 303
    assert scalar(mdb, "SELECT status::text FROM feature WHERE id = :i", i=fid) == "unpublished"
    stale = post(moderator, f"/moderation/features/{fid}/restore", {"version": "1"},
                 page=f"/moderation/features/{fid}")
    assert stale.status_code == 409 and "modifié par quelqu" in stale.get_data(as_text=True)
    assert post(moderator, f"/moderation/features/{fid}/restore", {"version": "2"},
                page=f"/moderation/features/{fid}").status_code == 303
    f = row(mdb, "SELECT status::text, version FROM feature WHERE id = :i", i=fid)
    assert (f.status, f.version) == ("published", 3)
    actions = [e.action for e in events(mdb, feature_id=fid)]
    assert actions == ["approve", "unpublish", "restore"]


def test_merge_two_features_retires_one_and_restore_undoes_it(moderator, mdb):
    keep = published(mdb)
    dup = published(mdb, title="Jardin St-Merri", lon=2.3523)
    page = moderator.get(f"/moderation/features/{dup}").get_data(as_text=True)
    assert f'value="{keep}"' in page   # the nearby candidate is proposed
    assert post(moderator, f"/moderation/features/{dup}/merge",
                {"version": "1", "into": str(keep)}).status_code == 303
    f = row(mdb, "SELECT status::text, merged_into FROM feature WHERE id = :i", i=dup)
    assert (f.status, f.merged_into) == ("unpublished", keep)
    self_merge = post(moderator, f"/moderation/features/{keep}/merge",
                      {"version": "1", "into": str(keep)})
    assert self_merge.status_code == 400
    assert post(moderator, f"/moderation/features/{dup}/restore",
                {"version": "2"}).status_code == 303
    f = row(mdb, "SELECT status::text, merged_into FROM feature WHERE id = :i", i=dup)
    assert (f.status, f.merged_into) == ("published", None)


def test_edit_a_published_feature_moves_it(moderator, mdb):
    fid = published(mdb)
    response = post(moderator, f"/moderation/features/{fid}/edit",
                    {"version": "1", "title": "Jardin Saint-Merri", "description": "x",
                     "category": "jardin-test", "lon": "2.2945", "lat": "48.8584"})
    assert response.status_code == 303
    f = row(mdb, "SELECT version, ST_X(geom) AS lon FROM feature WHERE id = :i", i=fid)
    assert f.version == 2 and round(f.lon, 4) == 2.2945


def test_bulk_approve_and_refuse_report_conflicts_without_stopping(moderator, mdb):
    a, b, c = pending(mdb), pending(mdb, title="B"), pending(mdb, title="C")
    response = post(moderator, "/moderation/bulk",
                    {"action": "approve", "items": [f"{a}:1", f"{b}:1"]})
    assert response.status_code == 303
    assert scalar(mdb, "SELECT count(*) FROM feature") == 2
    response = post(moderator, "/moderation/bulk",
                    {"action": "refuse", "reason": "off-topic", "items": [f"{b}:1", f"{c}:1"]})
    assert response.status_code == 303
    queue = moderator.get("/moderation/").get_data(as_text=True)
    assert "1 soumission refusée : n° " in queue and "1 déjà traitée par quelqu" in queue
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=c) == "refused"
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=b) == "approved"


def test_bulk_refuse_needs_a_reason(moderator, mdb):
    a = pending(mdb)
    response = post(moderator, "/moderation/bulk", {"action": "refuse", "items": [f"{a}:1"]})
    assert response.status_code == 400


def test_forged_version_values_are_a_400_not_a_500(moderator, mdb):
    sid = pending(mdb)
    for version in ("abc", "99999999999999999999999", "-1"):
        response = post(moderator, f"/moderation/submissions/{sid}/approve",
                        {"version": version})
        assert response.status_code == 400, version
    assert moderator.get("/moderation/submissions/99999999999999999999").status_code == 404
    assert moderator.get("/moderation/?after=garbage").status_code == 400


def test_history_is_shown_with_who_and_what(moderator, mdb):
    sid = pending(mdb)
    post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    html = moderator.get(f"/moderation/submissions/{sid}").get_data(as_text=True)
    assert "<strong>Approuvé</strong>" in html and "mod@example.org" in html
    assert re.search(r"<strong>approuvée</strong>", html)


def test_audit_page_lists_every_decision_and_filters(moderator, mdb):
    a, b = pending(mdb), pending(mdb, title="B")
    post(moderator, f"/moderation/submissions/{a}/approve", {"version": "1"})
    post(moderator, f"/moderation/submissions/{b}/refuse",
         {"version": "1", "reason": "respect"})
    html = moderator.get("/moderation/audit").get_data(as_text=True)
    assert f"soumission n° {a}" in html and f"soumission n° {b}" in html
    assert "mod@example.org" in html
    only = moderator.get("/moderation/audit?action=refuse").get_data(as_text=True)
    assert f"soumission n° {b}" in only and f"soumission n° {a}<" not in only
    assert moderator.get("/moderation/audit?action=drop").status_code == 400
    assert moderator.get("/moderation/audit?before=x").status_code == 400
