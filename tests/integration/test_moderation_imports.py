"""Partner imports in the moderation UI, against a real PostGIS: list, run page, decisions.

A file imported with ``carte import`` (no ``--publish``) waits as a pending run; a
moderator publishes its valid rows with an attribution or refuses it, once.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.ingestion_fixtures import categories_loaded  # noqa: F401
from tests.moderation_fixtures import (  # noqa: F401
    admin,
    csrf_of,
    mdb,
    mod_app,
    moderator,
    post,
    scalar,
)

HOSTILE = "<script>alert('x')</script>\u202eevil"
FEATURES = [
    # Three valid rows, one with HTML in its title (kept as plain text).
    ("p1", [2.3522, 48.8566], "Jardin <script>alert(1)</script> de l'Hôtel de Ville"),
    ("p2", [2.3580, 48.8570], "Potager du Marais"),
    ("p3", [2.3597, 48.8440], "Jardin des Plantes partagé"),
    # Three refused: outside Paris (with hostile text), no geometry, no title.
    ("p4", [2.4833, 48.7667], HOSTILE),
    ("p5", None, "Sans géométrie"),
    ("p6", [2.30, 48.86], ""),
]


def geojson(path: Path, features=FEATURES) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": ref,
         "geometry": {"type": "Point", "coordinates": xy} if xy else None,
         "properties": {"name": name}} for ref, xy, name in features]},
        ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def db(categories_loaded, mdb):
    return mdb


def carte_import(runner, path: Path, *args: str, source: str = "asso-jardins") -> dict:
    from webmap.cli import main

    result = runner.invoke(main, ["import", str(path), "--source", source,
                                  "--category", "jardin-partage", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture
def run_id(db, runner, tmp_path) -> int:
    carte_import(runner, geojson(tmp_path / "jardins-asso.geojson"))
    return scalar(db, "SELECT max(id) FROM import_run")


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


# --- the list ---------------------------------------------------------------------------

def test_an_import_without_publish_waits_in_the_list(moderator, db, run_id):
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "pending"
    assert scalar(db, "SELECT count(*) FROM feature") == 0
    body = page(moderator, "/moderation/imports")
    assert f'href="/moderation/imports/{run_id}"' in body
    assert "asso-jardins" in body and "jardins-asso.geojson" in body
    assert "en attente de décision" in body
    row = body[body.index(f"/moderation/imports/{run_id}"):]
    cells = re.findall(r"<td>([^<]*)", row)[3:6]
    assert cells[:2] == ["6", "3"]  # read, valid
    for reason in ("outside_area", "no_geometry"):
        assert f"<code>{reason}</code>" in row
    # The navigation says how many imports wait, on every moderation page.
    for path in ("/moderation/imports", "/moderation/", "/moderation/audit"):
        assert "(1 en attente)" in page(moderator, path)
    # Filtered by status.
    assert f"/moderation/imports/{run_id}" not in page(
        moderator, "/moderation/imports?status=published")
    assert f"/moderation/imports/{run_id}" in page(moderator,
                                                    "/moderation/imports?status=pending")
    bad = moderator.get("/moderation/imports?status=bogus")
    assert bad.status_code == 400 and "status" in bad.get_data(as_text=True)


def test_the_list_is_newest_first_and_in_english_on_request(moderator, db, runner, tmp_path):
    first = carte_import(runner, geojson(tmp_path / "a.geojson"), source="first")
    second = carte_import(runner, geojson(tmp_path / "b.geojson", FEATURES[:2]),
                          source="second")
    assert first and second
    body = page(moderator, "/moderation/imports")
    assert body.index("b.geojson") < body.index("a.geojson")
    english = page(moderator, "/moderation/imports?lang=en")
    assert "File imports" in english and "awaiting a decision" in english


# --- one run ------------------------------------------------------------------------------

def test_the_run_page_shows_summary_map_rows_and_every_error(moderator, db, run_id):
    body = page(moderator, f"/moderation/imports/{run_id}")
    assert "Publier les 3 lignes valides" in body
    # Attribution pre-filled from the source, editable.
    assert re.search(r'name="attribution"[^>]*value="asso-jardins"', body)
    # The map: one dot per valid row, inside the arrondissements drawn as outlines.
    svg = re.search(r'<svg class="runmap".*?</svg>', body, re.S).group(0)
    assert svg.count("h0") == 3 and '<use href="#area-75104"/>' in svg
    # Valid rows (the default tab) with their arrondissement.
    marais = body[body.index("Potager du Marais"):].split("</tr>")[0]
    assert scalar(db, "SELECT name FROM area WHERE code = '75104'") in marais
    refused = page(moderator, f"/moderation/imports/{run_id}?outcome=refused")
    for pointer, code in (("/geometry", "no_geometry"), ("/title", "required")):
        assert f"<code>{pointer}</code>" in refused and f"({code})" in refused
    assert "outside_area" in refused
    assert "Sans géométrie" in refused and "Potager du Marais" not in refused
    assert moderator.get(f"/moderation/imports/{run_id}?outcome=nope").status_code == 400
    for bad_start in ("0", "x", str(2**31)):
        assert moderator.get(f"/moderation/imports/{run_id}?start={bad_start}").status_code \
            == 400
    later = page(moderator, f"/moderation/imports/{run_id}?outcome=refused&start=5")
    assert "Sans géométrie" in later and "evil" not in later
    assert "Aucune ligne à partir de celle-ci." in page(
        moderator, f"/moderation/imports/{run_id}?start=7")
    assert moderator.get("/moderation/imports/999999").status_code == 404


def test_rows_come_50_at_a_time_and_the_map_is_sampled(moderator, db, runner, tmp_path):
    from sqlalchemy.orm import Session

    from moderation.imports import sample_points

    many = [(f"m{i}", [2.30 + i / 2000, 48.85 + i / 4000], f"Jardin n° {i}")
            for i in range(1, 121)]
    carte_import(runner, geojson(tmp_path / "many.geojson", many), source="many")
    rid = scalar(db, "SELECT max(id) FROM import_run")
    first = page(moderator, f"/moderation/imports/{rid}")
    assert first.count("<tr>") - 1 == 50 and "Jardin n° 50<" in first
    assert re.search(r'<svg class="runmap".*?</svg>', first, re.S).group(0).count("h0") == 120
    nxt = re.search(r'href="([^"]+start=51[^"]*)" rel="next"', first).group(1)
    second = page(moderator, nxt.replace("&amp;", "&"))
    assert "Jardin n° 51<" in second and "Jardin n° 100<" in second
    assert "Jardin n° 50<" not in second
    third = page(moderator, f"/moderation/imports/{rid}?start=101")
    assert third.count("<tr>") - 1 == 20 and 'rel="next"' not in third
    with Session(db) as s:
        points = sample_points(s, rid, 120, limit=50)
    assert 30 <= len(points) <= 50
    lons = sorted(lon for lon, _ in points)
    assert lons[0] < 2.31 and lons[-1] > 2.35  # spread over the whole file


def test_hostile_text_in_a_row_shows_as_escaped_text(moderator, db, run_id):
    for outcome in ("valid", "refused"):
        body = page(moderator, f"/moderation/imports/{run_id}?outcome={outcome}")
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert" in body
        assert "\u202e" not in body
    refused = page(moderator, f"/moderation/imports/{run_id}?outcome=refused")
    assert "⟨U+202E⟩evil" in refused  # the override is shown, not obeyed


def test_invalid_utf8_and_nul_in_a_raw_row_are_shown_replaced(moderator, db):
    # Rows keep the bytes as read; the page must show any bytes without breaking.
    from sqlalchemy import text

    with db.begin() as conn:
        rid = conn.execute(text(
            "INSERT INTO import_run (source, file_name, file_sha256, file_size, status, "
            "finished_at, summary) VALUES ('octets', 'x.csv', sha256('x'), 1, 'pending', "
            "now(), '{}') RETURNING id")).scalar_one()
        # row_hash: computed by the database or given by the importer, whichever the
        # migration says.
        given = not conn.execute(text(
            "SELECT attgenerated <> '' FROM pg_attribute WHERE attrelid = "
            "'import_row'::regclass AND attname = 'row_hash'")).scalar_one()
        conn.execute(text(
            "INSERT INTO import_row (run_id, row_number, ref, raw, outcome, errors"
            + (", row_hash" if given else "") + ") VALUES (:r, 1, 'b1', :raw, 'invalid', "
            "CAST(:e AS jsonb)" + (", sha256(:raw)" if given else "") + ")"),
            {"r": rid, "raw": b'{"name": "Caf\xe9\x00 <b>\xff\xfe"}',
             "e": '[{"pointer": "/title", "code": "required", "detail": "<i>missing</i>"}]'})
    body = page(moderator, f"/moderation/imports/{rid}?outcome=refused")
    assert "Caf\ufffd⟨U+0000⟩ &lt;b&gt;\ufffd\ufffd" in body
    assert "\x00" not in body and "<b>" not in body
    assert "&lt;i&gt;missing&lt;/i&gt;" in body


def test_a_csv_rows_bytes_come_from_the_stored_file(moderator, db, runner, tmp_path):
    # A simple CSV's rows are kept as slices of the stored file: the page reads them back.
    path = tmp_path / "points.csv"
    path.write_bytes(b"ref,title,lon,lat\r\nc1,Jardin ok,2.35,48.86\r\n"
                     b"c2,<img src=x onerror=alert(1)>\xe2\x80\xae,2.99,48.86\r\n")
    carte_import(runner, path, source="csv")
    rid = scalar(db, "SELECT max(id) FROM import_run")
    valid = page(moderator, f"/moderation/imports/{rid}")
    assert "c1,Jardin ok,2.35,48.86" in valid
    refused = page(moderator, f"/moderation/imports/{rid}?outcome=refused")
    assert "c2,&lt;img src=x onerror=alert(1)&gt;⟨U+202E⟩,2.99,48.86" in refused
    assert "<img src=x" not in refused


# --- decisions ----------------------------------------------------------------------------

def test_publish_puts_the_valid_rows_on_the_map_once(moderator, db, run_id):
    run_page = f"/moderation/imports/{run_id}"
    response = post(moderator, f"{run_page}/publish", {"attribution": "Asso des jardins"},
                    page=run_page)
    assert response.status_code == 303 and response.location.endswith(run_page)
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "published"
    assert scalar(db, "SELECT count(*) FROM feature WHERE status = 'published' "
                      "AND attribution = 'Asso des jardins'") == 3
    assert scalar(db, "SELECT count(*) FROM tile_dirty") > 0
    events = scalar(db, "SELECT count(*) FROM moderation_event WHERE import_run_id = :i",
                    i=run_id)
    assert events >= 1
    done = page(moderator, run_page)
    assert "3 points publiés" in done and "Asso des jardins" in done
    assert "Publier les" not in done  # no second decision offered
    # The public API serves them at once.
    features = moderator.get("/api/v1/features").get_json()["features"]
    assert len(features) == 3
    # A second click (another tab, another moderator): a conflict, nothing changes.
    again = post(moderator, f"{run_page}/publish", {"attribution": "Autre"},
                 page="/moderation/imports")
    assert again.status_code == 409
    assert "Conflit" in again.get_data(as_text=True)
    refuse = post(moderator, f"{run_page}/refuse", {"reason": "off-topic"},
                  page="/moderation/imports")
    assert refuse.status_code == 409
    assert scalar(db, "SELECT count(*) FROM feature") == 3
    assert scalar(db, "SELECT count(*) FROM moderation_event WHERE import_run_id = :i",
                  i=run_id) == events
    # The audit trail names the run; its decisions alone on request, without the
    # per-feature events publishing wrote.
    audit = page(moderator, "/moderation/audit")
    assert f'href="/moderation/imports/{run_id}"' in audit
    runs_only = page(moderator, "/moderation/audit?imports=1")
    assert "Import publié" in runs_only and "3 point(s) créé(s)" in runs_only
    assert runs_only.count("<tr>") - 1 == 1 and "/moderation/features/" not in runs_only


def test_two_moderators_publishing_at_once_publish_once(moderator, admin, db, run_id):
    import threading

    run_page = f"/moderation/imports/{run_id}"
    forms = [(client, {"csrf_token": csrf_of(client, run_page), "attribution": who})
             for client, who in ((moderator, "Par le modérateur"), (admin, "Par l'admin"))]
    barrier = threading.Barrier(2)
    statuses = []

    def decide(client, data):
        barrier.wait()
        statuses.append(client.post(f"{run_page}/publish", data=data).status_code)

    threads = [threading.Thread(target=decide, args=pair) for pair in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [303, 409]
    assert scalar(db, "SELECT count(*) FROM feature") == 3
    assert scalar(db, "SELECT count(DISTINCT attribution) FROM feature") == 1
    assert scalar(db, "SELECT count(*) FROM moderation_event WHERE import_run_id = :i "
                      "AND feature_id IS NULL", i=run_id) == 1


def test_publish_needs_an_attribution(moderator, db, run_id):
    run_page = f"/moderation/imports/{run_id}"
    response = post(moderator, f"{run_page}/publish", {"attribution": "  "}, page=run_page)
    assert response.status_code == 400
    assert "attribution" in response.get_data(as_text=True)
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "pending"


def test_refuse_keeps_the_rows_and_the_reason(moderator, db, run_id):
    run_page = f"/moderation/imports/{run_id}"
    missing = post(moderator, f"{run_page}/refuse", {"reason": "", "message": ""},
                   page=run_page)
    assert missing.status_code == 400 and "reason" in missing.get_data(as_text=True)
    unknown = post(moderator, f"{run_page}/refuse", {"reason": "whatever"}, page=run_page)
    assert unknown.status_code == 400
    response = post(moderator, f"{run_page}/refuse",
                    {"reason": "off-topic", "message": "Pas des jardins <b>du tout</b>"},
                    page=run_page)
    assert response.status_code == 303
    reason = scalar(db, "SELECT reason FROM import_run WHERE id = :i", i=run_id)
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "refused"
    assert "off-topic" in reason and "Pas des jardins" in reason
    assert scalar(db, "SELECT count(*) FROM feature") == 0
    assert scalar(db, "SELECT count(*) FROM import_row WHERE run_id = :i", i=run_id) == 6
    assert scalar(db, "SELECT count(*) FROM moderation_event WHERE import_run_id = :i",
                  i=run_id) == 1
    body = page(moderator, run_page)
    assert "&lt;b&gt;du tout&lt;/b&gt;" in body and "<b>du tout" not in body
    audit = page(moderator, "/moderation/audit")
    assert f"/moderation/imports/{run_id}" in audit and "Pas des jardins" in audit
    assert post(moderator, f"{run_page}/publish", {"attribution": "x"},
                page=run_page).status_code == 409
    assert "(1 en attente)" not in page(moderator, "/moderation/imports")


def test_free_text_alone_is_a_reason(moderator, db, run_id):
    run_page = f"/moderation/imports/{run_id}"
    response = post(moderator, f"{run_page}/refuse",
                    {"message": "Fichier de test envoyé par erreur"}, page=run_page)
    assert response.status_code == 303
    assert scalar(db, "SELECT reason FROM import_run WHERE id = :i", i=run_id) \
        == "Fichier de test envoyé par erreur"


# --- authorisation ------------------------------------------------------------------------

GETS = ["/moderation/imports", "/moderation/imports/{rid}",
        "/moderation/imports/{rid}?outcome=refused"]
POSTS = ["/moderation/imports/{rid}/publish", "/moderation/imports/{rid}/refuse"]


@pytest.mark.parametrize("path", GETS)
def test_anonymous_get_is_sent_to_login(mod_app, run_id, path):
    response = mod_app.test_client().get(path.format(rid=run_id))
    assert response.status_code == 302
    assert response.location.startswith("/auth/login?next=")


@pytest.mark.parametrize("path", POSTS)
def test_anonymous_post_is_401_and_decides_nothing(mod_app, db, run_id, path):
    client = mod_app.test_client()
    token = csrf_of(client)
    response = client.post(path.format(rid=run_id), data={
        "csrf_token": token, "attribution": "x", "reason": "off-topic"})
    assert response.status_code == 401
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "pending"


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("token", ["missing", "forged", "other-session"])
def test_posts_without_a_valid_csrf_token_are_400(mod_app, moderator, db, run_id, path,
                                                  token):
    data = {"attribution": "x", "reason": "off-topic"}
    if token == "forged":
        data["csrf_token"] = "IjAxMjM0NTY3ODlhYmNkZWYi.forged.signature"
    elif token == "other-session":
        data["csrf_token"] = csrf_of(mod_app.test_client())
    response = moderator.post(path.format(rid=run_id), data=data)
    assert response.status_code == 400
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "pending"
    assert scalar(db, "SELECT count(*) FROM moderation_event") == 0


def test_both_roles_may_decide_and_unknown_actions_are_404(admin, db, run_id):
    run_page = f"/moderation/imports/{run_id}"
    assert post(admin, f"{run_page}/delete", page=run_page).status_code == 404
    assert post(admin, "/moderation/imports/999999/publish", {"attribution": "x"},
                page=run_page).status_code == 404
    assert post(admin, f"{run_page}/refuse", {"reason": "advertising"},
                page=run_page).status_code == 303


def test_a_deactivated_moderator_is_logged_out(moderator, db, run_id):
    with db.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE app_user SET active = false WHERE role = 'moderator'"))
    response = moderator.get(f"/moderation/imports/{run_id}")
    assert response.status_code == 302 and "/auth/login" in response.location


def test_every_string_of_the_imports_pages_has_an_english_translation():
    from babel.messages.extract import extract_from_file
    from babel.messages.mofile import read_mo

    root = Path(__file__).resolve().parents[2] / "moderation"
    keywords = {"t": None, "tn": (1, 2)}
    found = set()
    for method, path in (("python", root / "imports.py"),
                         ("jinja2.ext:babel_extract",
                          root / "templates/moderation/imports.html"),
                         ("jinja2.ext:babel_extract",
                          root / "templates/moderation/import_run.html")):
        for _line, message, _comments, _context in extract_from_file(
                method, str(path), keywords=keywords):
            found.add(message)
    assert len(found) > 80
    with (root / "translations/en/LC_MESSAGES/moderation.mo").open("rb") as f:
        catalogue = read_mo(f)
    untranslated = [m for m in found if m not in catalogue or not catalogue[m].string]
    assert untranslated == []


# --- large imports: decisions as background jobs ----------------------------------------------

def test_a_large_import_is_published_by_the_worker_with_its_progress_shown(mod_app, moderator,
                                                                           db, run_id):
    from webmap.commands.worker import run_jobs

    mod_app.config["IMPORT_JOB_MIN_ROWS"] = 1  # this run's 3 valid rows count as large
    response = post(moderator, f"/moderation/imports/{run_id}/publish",
                    {"attribution": "Association des jardins"},
                    page=f"/moderation/imports/{run_id}")
    assert response.status_code == 303  # answered at once: nothing published yet
    assert scalar(db, "SELECT count(*) FROM feature") == 0
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "pending"
    body = page(moderator, f"/moderation/imports/{run_id}")
    assert "la publication est lancée en arrière-plan" in body
    assert "en file, le travailleur va la prendre" in body
    assert "Publier les 3 lignes valides" not in body  # no second decision meanwhile
    job_id = scalar(db, "SELECT id FROM job WHERE kind = 'import.publish'")
    assert moderator.get(f"/moderation/jobs/{job_id}").get_json()["status"] == "queued"
    again = post(moderator, f"/moderation/imports/{run_id}/publish",
                 {"attribution": "Association des jardins"},
                 page=f"/moderation/imports/{run_id}")
    assert again.status_code == 409
    assert scalar(db, "SELECT count(*) FROM job") == 1
    (outcome,) = run_jobs(db)  # what `carte worker` does
    assert scalar(db, "SELECT count(*) FROM feature WHERE attribution = "
                      "'Association des jardins'") == 3
    status = moderator.get(f"/moderation/jobs/{job_id}").get_json()
    assert status["status"] == "done" and status["done"] == status["total"] == 3, outcome
    body = page(moderator, f"/moderation/imports/{run_id}?lang=en")
    assert "finished" in body and "3 item(s) published or revised" in body


def test_a_large_import_is_refused_by_the_worker(mod_app, moderator, db, run_id):
    from webmap.commands.worker import run_jobs

    mod_app.config["IMPORT_JOB_MIN_ROWS"] = 1
    response = post(moderator, f"/moderation/imports/{run_id}/refuse",
                    {"reason": "off-topic"}, page=f"/moderation/imports/{run_id}")
    assert response.status_code == 303
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "pending"
    run_jobs(db)
    assert scalar(db, "SELECT status::text FROM import_run WHERE id = :i", i=run_id) \
        == "refused"
    assert scalar(db, "SELECT count(*) FROM feature") == 0
