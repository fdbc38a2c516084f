"""Authorisation on every moderation route: anonymous, wrong role, missing or forged CSRF."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import pytest

from tests.moderation_fixtures import (  # noqa: F401
    admin,
    csrf_of,
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    published,
    scalar,
)

GETS = ["/moderation/", "/moderation/flags", "/moderation/users", "/moderation/audit",
        "/moderation/submissions/{sid}", "/moderation/features/{fid}", "/moderation/blocks",
        "/moderation/community/messages", "/moderation/sources",
        "/moderation/community/exchanges", "/moderation/community/signups",
        "/moderation/photos/1/thumb",
        # bulk decisions and exports as jobs (issue 17, jobs; test_bulk_jobs.py)
        "/moderation/jobs/1/view"]
POSTS = ["/moderation/bulk", "/moderation/users", "/moderation/users/{uid}/deactivate",
         "/moderation/users/{uid}/activate", "/moderation/users/{uid}/role",
         *[f"/moderation/submissions/{{sid}}/{a}"
           for a in ("approve", "edit", "refuse", "merge", "reopen")],
         *[f"/moderation/features/{{fid}}/{a}"
           for a in ("unpublish", "restore", "dismiss", "merge", "edit")],
         "/moderation/submissions/{sid}/block", "/moderation/flags/1/block",
         "/moderation/blocks/1/lift",
         # relayed messages between residents (issue 20, identity)
         "/moderation/community/messages/1/hide", "/moderation/community/residents/1/block",
         "/moderation/community/messages/1/dismiss",  # reports (issue 17 wave 5)
         # synchronised sources (issue 21, sync)
         "/moderation/sources/sync", "/moderation/sources/1/confirm",
         "/moderation/sources/1/discard",
         # time bank and loans, sign-ups (issue 20), photos (issue 19)
         "/moderation/community/exchanges/1/reverse", "/moderation/community/loans/1/cancel",
         "/moderation/community/signups/1/cancel", "/moderation/community/signups/organiser",
         "/moderation/photos/1/hide", "/moderation/photos/1/remove",
         # bulk decisions and exports as jobs (issue 17, jobs; test_bulk_jobs.py)
         "/moderation/bulk/all", "/moderation/exports/refresh"]
ADMIN_ONLY_GETS = ["/moderation/users"]
ADMIN_ONLY_POSTS = ["/moderation/users", "/moderation/users/{uid}/deactivate",
                    "/moderation/users/{uid}/activate", "/moderation/users/{uid}/role"]


@pytest.fixture
def ids(mdb):
    return {"sid": pending(mdb), "fid": published(mdb),
            "uid": scalar(mdb, "SELECT id FROM app_user WHERE role = 'admin'")}


def test_every_moderation_route_is_covered_here(mod_app):
    rules = {r.rule for r in mod_app.url_map.iter_rules()
             if r.rule.startswith("/moderation") and "static" not in r.rule}
    assert rules == {"/moderation/", "/moderation/flags", "/moderation/users",
                     "/moderation/audit",
                     "/moderation/bulk", "/moderation/submissions/<int:submission_id>",
                     "/moderation/submissions/<int:submission_id>/<action>",
                     "/moderation/features/<int:feature_id>",
                     "/moderation/features/<int:feature_id>/<action>",
                     "/moderation/users/<int:user_id>/<action>",
                     "/moderation/submissions/<int:submission_id>/block",
                     "/moderation/flags/<int:flag_id>/block", "/moderation/blocks",
                     "/moderation/blocks/<int:block_id>/lift",
                     # the contributing engineer's corrections queue (its own tests)
                     "/moderation/corrections",
                     "/moderation/corrections/<int:correction_id>/<action>",
                     # covered in test_moderation_imports.py
                     "/moderation/imports", "/moderation/imports/<int:run_id>",
                     "/moderation/jobs/<int:job_id>",
                     "/moderation/imports/<int:run_id>/<action>",
                     # relayed messages between residents (issue 20, identity)
                     "/moderation/community/messages",
                     "/moderation/community/messages/<int:message_id>/hide",
                     "/moderation/community/messages/<int:message_id>/dismiss",
                     "/moderation/community/residents/<int:resident_id>/block",
                     # time bank and loans (issue 20, ledger; test_ledger.py)
                     "/moderation/community/exchanges",
                     "/moderation/community/exchanges/<int:exchange_id>/<action>",
                     "/moderation/community/loans/<int:loan_id>/cancel",
                     # synchronised sources (issue 21, sync; test_sources_sync.py)
                     "/moderation/sources", "/moderation/sources/sync",
                     "/moderation/sources/<int:run>/<action>",
                     # sign-ups to missions and events (issue 20, missions; test_signups.py)
                     "/moderation/community/signups",
                     "/moderation/community/signups/<int:signup_id>/cancel",
                     "/moderation/community/signups/organiser",
                     # residents' photos (issue 19; test_photos_moderation.py)
                     "/moderation/photos/<int:photo_id>/<size>",
                     "/moderation/photos/<int:photo_id>/<action>",
                     # bulk decisions and exports as jobs (issue 17, jobs; test_bulk_jobs.py)
                     "/moderation/bulk/all", "/moderation/exports/refresh",
                     "/moderation/jobs/<int:job_id>/view"}


@pytest.mark.parametrize("path", GETS)
def test_anonymous_get_is_sent_to_login(mod_app, ids, path):
    response = mod_app.test_client().get(path.format(**ids))
    assert response.status_code == 302
    assert response.location.startswith("/auth/login?next=")


@pytest.mark.parametrize("path", POSTS)
def test_anonymous_post_with_a_valid_token_is_401_and_changes_nothing(mod_app, mdb, ids,
                                                                       path):
    client = mod_app.test_client()
    token = csrf_of(client)  # from the public login page
    response = client.post(path.format(**ids), data={"csrf_token": token, "version": "1",
                                                     "reason": "off-topic", "into": "1",
                                                     "items": f"{ids['sid']}:1",
                                                     "action": "approve"})
    assert response.status_code == 401
    assert scalar(mdb, "SELECT count(*) FROM moderation_event") == 1  # the fixture's publish


@pytest.mark.parametrize("path", ADMIN_ONLY_GETS)
def test_moderator_cannot_see_admin_pages(moderator, ids, path):
    assert moderator.get(path.format(**ids)).status_code == 403


@pytest.mark.parametrize("path", ADMIN_ONLY_POSTS)
def test_moderator_cannot_manage_accounts(moderator, ids, mdb, path):
    before = scalar(mdb, "SELECT string_agg(email || role::text || active::text, ',' "
                         "ORDER BY id) FROM app_user")
    response = post(moderator, path.format(**ids),
                    {"email": "new@example.org", "role": "admin"})
    assert response.status_code == 403
    assert scalar(mdb, "SELECT string_agg(email || role::text || active::text, ',' "
                       "ORDER BY id) FROM app_user") == before


@pytest.mark.parametrize("path", [*POSTS, "/auth/logout", "/auth/login"])
@pytest.mark.parametrize("token", ["missing", "forged"])
def test_posts_without_a_valid_csrf_token_are_400(admin, ids, mdb, path, token):
    data = {"version": "1", "reason": "off-topic", "into": "1", "action": "approve",
            "items": f"{ids['sid']}:1", "email": "x@example.org", "role": "admin"}
    if token == "forged":
        data["csrf_token"] = "IjAxMjM0NTY3ODlhYmNkZWYi.forged.signature"
    response = admin.post(path.format(**ids), data=data)
    assert response.status_code == 400
    assert scalar(mdb, "SELECT count(*) FROM moderation_event") == 1
    assert scalar(mdb, "SELECT count(*) FROM app_user") == 2
    assert admin.get("/moderation/").status_code == 200  # still logged in: logout refused


def test_a_token_from_another_session_is_refused(mod_app, admin, ids, mdb):
    other = mod_app.test_client()
    foreign = csrf_of(other)
    response = admin.post(f"/moderation/submissions/{ids['sid']}/approve",
                          data={"csrf_token": foreign, "version": "1"})
    assert response.status_code == 400
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i",
                  i=ids["sid"]) == "pending"


def test_admin_can_create_an_account_with_a_generated_password(admin, mdb):
    response = post(admin, "/moderation/users", {"email": "new@example.org",
                                                 "role": "moderator"},
                    page="/moderation/users")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert scalar(mdb, "SELECT role::text FROM app_user WHERE email = 'new@example.org'") \
        == "moderator"
    dup = post(admin, "/moderation/users", {"email": "NEW@example.org", "role": "moderator"},
               page="/moderation/users")
    assert dup.status_code == 400
