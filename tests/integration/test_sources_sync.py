"""Sources that stay current: a partner source served over HTTP by the test, synced twice.

Between two syncs rows are added, changed and removed at the source; the map
(``/api/v1/features``, dirty point tiles), the change feed and the open-data downloads
follow, and unchanged rows get no new version. Broken downloads retire nothing; a sync
that would retire too much waits for a moderator; the worker runs due syncs.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.city import Dataset, load_city
from geo.tilemath import lonlat_to_tile
from tests.moderation_fixtures import *  # noqa: F403 - the fixtures
from tests.moderation_fixtures import post

SOURCE = "partner-bibliotheques"


class _Routes(dict[str, tuple[int, bytes]]):
    pass


@contextmanager
def serve(routes: _Routes) -> Iterator[str]:
    """A partner's web server in a thread: ``routes[path] = (status, body)``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = routes.get(self.path.split("?")[0], (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", "application/geo+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def point(i: int) -> tuple[float, float]:
    """Row ``i``'s position: a grid ~1 km apart inside Paris (one z16 tile each)."""
    return 2.28 + 0.012 * (i % 10), 48.83 + 0.01 * (i // 10)


def collection(rows: dict[str, dict]) -> bytes:
    feats = []
    for ref, row in rows.items():
        lon, lat = row.get("at") or point(int(ref[1:]))
        feats.append({"type": "Feature", "id": ref,
                      "geometry": {"type": "Point", "coordinates": [lon, lat]},
                      "properties": {"title": row["title"],
                                     "description": row.get("description", "")}})
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def rows_v1(n: int = 20) -> dict[str, dict]:
    return {f"p{i}": {"title": f"Bibliothèque {i}"} for i in range(1, n + 1)}


def city_with(base: str, path: str = "/bibliotheques.geojson", **options) -> object:
    paris = load_city("paris", check_files=False)
    source = Dataset(file=None, source=SOURCE, category="bibliotheque", licence="ODbL-1.0",
                     attribution="© Réseau des bibliothèques, ODbL", url=base + path,
                     **options)
    return dataclasses.replace(paris, sources=(source,))


def sync(engine, city, name: str = SOURCE, **kw):
    from ingestion.sync import sync_source

    with Session(engine) as s, s.begin():
        return sync_source(s, city, name, **kw)


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def counts(engine) -> tuple[int, int, int]:
    return (scalar(engine, "SELECT count(*) FROM feature_version"),
            scalar(engine, "SELECT count(*) FROM moderation_event"),
            scalar(engine, "SELECT count(*) FROM tile_dirty"))


def published(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT source_ref, title FROM feature WHERE source = :s AND status = 'published'"),
            {"s": SOURCE}).all())


def by_ref(engine, ref: str) -> int:
    return scalar(engine, "SELECT id FROM feature WHERE source = :s AND source_ref = :r",
                  s=SOURCE, r=ref)


@pytest.fixture
def db(real_categories, mdb):
    return mdb


def test_a_second_sync_adds_changes_and_retires_and_the_map_feed_and_downloads_follow(
        db, mod_app, tmp_path, var_dir):
    import gzip
    import sqlite3

    import mapbox_vector_tile
    import pyogrio.raw

    from opendata.exports import run_export
    from tiles.build import build_full, build_incremental
    from tiles.options import TileOptions

    routes = _Routes()
    v1 = rows_v1()
    routes["/bibliotheques.geojson"] = (200, collection(v1))
    client = mod_app.test_client()
    with serve(routes) as base:
        city = city_with(base)
        first = sync(db, city)
        assert (first.status, first.read, first.new, first.retired) == ("applied", 20, 20, 0)
        assert len(published(db)) == 20
        run_export(db, tmp_path / "before")
        options = TileOptions(max_zoom=16)
        build_full(db, var_dir, options, density=False)
        before_feed = client.get("/api/v1/changes?limit=1000").get_json()
        assert len(before_feed["changes"]) == 20
        next_page = before_feed["next"]

        v2 = {k: dict(v) for k, v in v1.items() if k not in ("p3", "p4")}
        v2["p1"]["title"] = "Bibliothèque 1 (rénovée)"
        v2["p2"]["at"] = (point(2)[0] + 0.001, point(2)[1])
        v2["p21"] = {"title": "Bibliothèque 21"}
        routes["/bibliotheques.geojson"] = (200, collection(v2))
        with db.begin() as conn:
            conn.execute(text("DELETE FROM tile_dirty"))
        versions, events, _ = counts(db)
        second = sync(db, city)
    assert second.status == "applied"
    assert (second.read, second.new, second.changed, second.retired, second.unchanged) == \
        (19, 1, 2, 2, 16)
    # Only those rows were touched: one version each, no more; audited by one event for
    # the new and changed rows' publication and one per retirement.
    after_versions, after_events, dirty = counts(db)
    assert after_versions - versions == 5 and after_events - events == 1 + 2
    unchanged = [by_ref(db, f"p{i}") for i in range(5, 21)]
    assert scalar(db, "SELECT max(version) FROM feature WHERE id = ANY(:ids)",
                  ids=unchanged) == 1
    # Tiles: the z16 tiles of the touched rows are dirty, an unchanged row's is not.
    dirty_z16 = {(x, y) for x, y in db.connect().execute(text(
        "SELECT x, y FROM tile_dirty WHERE z = 16")).all()}

    def tile(i: int) -> tuple[int, int]:
        xs, ys = lonlat_to_tile(*(float(v) for v in point(i)), 16)
        return int(xs), int(ys)

    assert {tile(1), tile(3), tile(4), tile(21)} <= dirty_z16
    assert tile(10) not in dirty_z16 and dirty > 0
    # The point tiles, rebuilt incrementally from that queue: p3 is gone, p21 is there.
    build_incremental(db, var_dir, options)
    with sqlite3.connect(var_dir / "tiles" / "features.mbtiles") as mb:
        def ids_at(i: int) -> set[int]:
            x, y = tile(i)
            (data,) = mb.execute("SELECT tile_data FROM tiles WHERE zoom_level = 16 AND "
                                 "tile_column = ? AND tile_row = ?",
                                 (x, (1 << 16) - 1 - y)).fetchone() or (None,)
            if data is None:
                return set()
            layer = mapbox_vector_tile.decode(gzip.decompress(data)).get("features", {})
            return {f["properties"].get("id", f.get("id")) for f in layer.get("features", [])}

        assert by_ref(db, "p3") not in ids_at(3) and by_ref(db, "p21") in ids_at(21)
        assert by_ref(db, "p10") in ids_at(10)
    # The map.
    api = client.get("/api/v1/features?category=bibliotheque&limit=100").get_json()
    titles = {f["properties"]["title"] for f in api["features"]}
    assert "Bibliothèque 1 (rénovée)" in titles and "Bibliothèque 21" in titles
    assert "Bibliothèque 3" not in titles and "Bibliothèque 4" not in titles
    assert len(titles) == 19
    # The change feed: removed (with the reason), changed, created.
    feed = client.get(next_page).get_json()
    assert len(feed["changes"]) == 5
    entries = {(e["id"], e["type"]): e for e in feed["changes"]}
    for ref in ("p3", "p4"):
        assert entries[(by_ref(db, ref), "removed")]["reason"] == "removed-at-source"
    assert (by_ref(db, "p1"), "changed") in entries
    assert (by_ref(db, "p2"), "changed") in entries
    assert (by_ref(db, "p21"), "created") in entries
    assert not any(fid in unchanged for fid, kind in entries if kind != "created")
    # The downloads.
    run_export(db, tmp_path / "after")
    meta, _, _, fields = pyogrio.raw.read(str(tmp_path / "after" / "features.geojson"))
    columns = dict(zip(meta["fields"], fields, strict=True))
    ours = {t for t, c in zip(columns["title"], columns["category"], strict=True)
            if c == "bibliotheque"}
    assert len(ours) == 19
    assert "Bibliothèque 3" not in ours and "Bibliothèque 1 (rénovée)" in ours
    # Audited as "removed at source".
    assert scalar(db, "SELECT count(*) FROM moderation_event WHERE action = 'unpublish' "
                      "AND reason LIKE 'removed-at-source:%'") == 2


def test_unchanged_source_touches_nothing_and_a_returning_row_comes_back(db):
    routes = _Routes()
    v1 = rows_v1()
    routes["/bibliotheques.geojson"] = (200, collection(v1))
    with serve(routes) as base:
        city = city_with(base)
        sync(db, city)
        before = counts(db)
        stored = scalar(db, "SELECT count(*) FROM import_row")
        again = sync(db, city)
        assert (again.new, again.changed, again.retired, again.unchanged) == (0, 0, 0, 20)
        assert counts(db)[:2] == before[:2]
        # The same bytes as the last applied sync: not imported again.
        assert again.same_file and scalar(db, "SELECT count(*) FROM import_row") == stored
        gone = {k: v for k, v in v1.items() if k != "p7"}
        routes["/bibliotheques.geojson"] = (200, collection(gone))
        assert sync(db, city).retired == 1
        routes["/bibliotheques.geojson"] = (200, collection(v1))
        back = sync(db, city)
    assert back.back == 1 and "p7" in published(db) and len(published(db)) == 20


@pytest.mark.parametrize("broken", ["http_error", "truncated", "empty", "not_geojson"])
def test_a_broken_download_retires_nothing(db, broken):
    routes = _Routes()
    body = collection(rows_v1())
    routes["/bibliotheques.geojson"] = (200, body)
    with serve(routes) as base:
        city = city_with(base)
        sync(db, city)
        before = (published(db), counts(db)[:2])
        routes["/bibliotheques.geojson"] = {
            "http_error": (503, b"maintenance"), "truncated": (200, body[: len(body) // 2]),
            "empty": (200, b""), "not_geojson": (200, b"<html>oops</html>")}[broken]
        report = sync(db, city)
    assert report.retired == 0 and (published(db), counts(db)[:2]) == before
    if broken == "empty":
        assert (report.status, report.hold_reason) == ("held", "empty")
    else:
        assert report.status == "failed" and report.error
    status = scalar(db, "SELECT status FROM source_sync_run ORDER BY id DESC LIMIT 1")
    assert status == report.status


def test_a_truncated_csv_above_the_retire_share_is_held_until_a_moderator_confirms(
        db, mod_app, moderator):
    header = "id,title,lon,lat"
    lines = [header] + [f"c{i},Piscine {i},{point(i)[0]},{point(i)[1]}" for i in range(1, 21)]
    routes = _Routes()
    routes["/piscines.csv"] = (200, ("\n".join(lines) + "\n").encode())
    with serve(routes) as base:
        city = city_with(base, "/piscines.csv", max_retire_share=0.2)
        mod_app.config["CITY"] = city  # the moderation pages' city has this source
        assert sync(db, city).new == 20
        # The download stopped after 12 rows: 8 of 20 would go (40 % > 20 %).
        routes["/piscines.csv"] = (200, ("\n".join(lines[:13]) + "\n").encode())
        held = sync(db, city)
        assert (held.status, held.hold_reason, held.would_retire, held.retired) == \
            ("held", "retire_share", 8, 0)
        assert len(published(db)) == 20
        page = moderator.get("/moderation/sources").get_data(as_text=True)
        assert SOURCE in page and f"/moderation/sources/{held.run}/confirm" in page
        response = post(moderator, f"/moderation/sources/{held.run}/confirm",
                        page="/moderation/sources")
    assert response.status_code == 303
    assert len(published(db)) == 12
    assert scalar(db, "SELECT status FROM source_sync_run WHERE id = :r", r=held.run) == \
        "confirmed"
    assert scalar(db, "SELECT count(*) FROM moderation_event WHERE action = 'approve' "
                      "AND actor_id IS NOT NULL AND reason LIKE :r",
                  r=f"sync run {held.run} confirmed") == 1


def test_a_discarded_held_run_changes_nothing_and_is_held_again(db):
    from ingestion.sync import discard_run

    routes = _Routes()
    routes["/bibliotheques.geojson"] = (200, collection(rows_v1()))
    with serve(routes) as base:
        city = city_with(base)
        sync(db, city)
        routes["/bibliotheques.geojson"] = (200, collection(rows_v1(15)))
        held = sync(db, city)
        assert held.status == "held"
        actor = scalar(db, "SELECT id FROM app_user LIMIT 1")
        with Session(db) as s, s.begin():
            discard_run(s, held.run, actor_id=actor, reason="download cut")
        assert len(published(db)) == 20
        again = sync(db, city)
    # Compared with what was applied, not with the discarded run's bytes.
    assert again.status == "held" and again.would_retire == 5


def test_moderator_edits_win_on_conflict_and_source_changes_still_apply(db):
    from geo.models import ModerationAction
    from geo.publish import revise_feature

    routes = _Routes()
    v1 = rows_v1()
    v1["p1"]["description"] = "Horaires d'été"
    routes["/bibliotheques.geojson"] = (200, collection(v1))
    with serve(routes) as base:
        city = city_with(base)
        sync(db, city)
        fid = by_ref(db, "p1")
        actor = scalar(db, "SELECT id FROM app_user LIMIT 1")
        with Session(db) as s, s.begin():
            revise_feature(s, fid, {"title": "Médiathèque Marguerite Duras"},
                           expected_version=1, action=ModerationAction.edit, actor_id=actor)
        v2 = {k: dict(v) for k, v in v1.items()}
        v2["p1"].update(title="Bibliothèque 1 bis", description="Horaires d'hiver")
        routes["/bibliotheques.geojson"] = (200, collection(v2))
        report = sync(db, city)
    assert report.merged == 1 and report.changed == 1
    assert report.conflicts == [{"feature": fid, "ref": "p1", "fields": ["title"]}]
    with db.connect() as conn:
        title, description = conn.execute(text(
            "SELECT title, description FROM feature WHERE id = :i"), {"i": fid}).one()
    assert title == "Médiathèque Marguerite Duras" and description == "Horaires d'hiver"


def test_on_new_queue_leaves_new_rows_for_a_moderator(db):
    from ingestion.sync import publish_queued

    routes = _Routes()
    routes["/bibliotheques.geojson"] = (200, collection(rows_v1(5)))
    with serve(routes) as base:
        city = city_with(base, on_new="queue")
        report = sync(db, city)
        assert (report.queued, report.new) == (5, 0) and published(db) == {}
        assert sync(db, city).waiting == 5  # not offered twice
        actor = scalar(db, "SELECT id FROM app_user LIMIT 1")
        with Session(db) as s, s.begin():
            assert publish_queued(s, city, report.run, actor_id=actor) == 5
    assert len(published(db)) == 5


def test_the_worker_runs_due_syncs(db):
    from webmap.commands.worker import run_jobs, schedule_syncs

    routes = _Routes()
    routes["/bibliotheques.geojson"] = (200, collection(rows_v1(5)))
    with serve(routes) as base:
        city = city_with(base, every_s=3600)
        assert schedule_syncs(db, city) == [SOURCE]
        assert schedule_syncs(db, city) == []  # already queued
        done = run_jobs(db, city=city)
        assert [d["status"] for d in done] == ["done"]
        assert done[0]["result"]["new"] == 5
        assert schedule_syncs(db, city) == []  # synced less than an hour ago
    assert len(published(db)) == 5
    assert scalar(db, "SELECT trigger FROM source_sync_run") == "worker"


def test_carte_sources_sync_of_a_seed_prints_one_json_line(db, runner):
    from webmap.cli import main

    result = runner.invoke(main, ["sources", "sync", "paris-marches"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.output.strip().splitlines()[-1])
    assert first["status"] == "applied" and first["new"] > 50
    assert first["read"] == first["new"] + first["refused"]
    result = runner.invoke(main, ["sources", "sync", "paris-marches"])
    again = json.loads(result.output.strip().splitlines()[-1])
    assert (again["new"], again["changed"], again["retired"]) == (0, 0, 0)
    assert again["unchanged"] == first["new"]
    listed = runner.invoke(main, ["sources", "list"])
    lines = [json.loads(x) for x in listed.output.strip().splitlines()]
    assert {"paris-fontaines", "paris-marches"} <= {x["source"] for x in lines}
    result = runner.invoke(main, ["sources", "sync", "nope"])
    assert result.exit_code == 1 and "no source 'nope'" in result.output


def test_the_city_checks_source_entries(tmp_path: Path):
    from geo.city import check_city, parse_every

    assert parse_every("1d") == 86400 and parse_every("6h") == 21600
    assert parse_every("soon") is None
    paris = Path(load_city("paris", check_files=False).folder)
    doc = json.loads((paris / "city.json").read_text(encoding="utf-8"))
    doc["sources"] = [{"source": "x", "category": "bibliotheque", "licence": "ODbL-1.0",
                       "attribution": "X", "url": "ftp://x", "on_new": "maybe",
                       "max_retire_share": 2, "every": "often", "format": "xls"}]
    folder = tmp_path / "paris"
    folder.mkdir()
    for item in paris.iterdir():
        if item.name != "city.json":
            (folder / item.name).symlink_to(item)
    (folder / "city.json").write_text(json.dumps(doc), encoding="utf-8")
    city, problems = check_city(folder, check_files=False)
    fields = {p.field for p in problems}
    assert city is None and {"sources[0].url", "sources[0].on_new",
                             "sources[0].max_retire_share", "sources[0].every",
                             "sources[0].format"} <= fields


def test_a_seed_published_before_the_first_sync_is_not_published_again(db, tmp_path):
    from ingestion.importer import run_import

    path = tmp_path / "mairies.csv"
    rows = [f"m{i},Mairie {i},{point(i)[0]},{point(i)[1]}" for i in range(1, 5)]
    path.write_text("id,title,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with Session(db) as s, s.begin():
        run_import(path, session=s, source=SOURCE, category="mairie", publish=True)
    paris = load_city("paris", check_files=False)
    city = dataclasses.replace(paris, sources=(Dataset(
        file=path, source=SOURCE, category="mairie", licence="ODbL-1.0",
        attribution="Ville", max_retire_share=0.5),))
    before = counts(db)[:2]
    first = sync(db, city)
    assert (first.new, first.unchanged, counts(db)[:2]) == (0, 4, before)
    rows[0] = rows[0].replace("Mairie 1", "Mairie du 1er")
    path.write_text("id,title,lon,lat\n" + "\n".join(rows[:3]) + "\n", encoding="utf-8")
    second = sync(db, city)
    assert (second.changed, second.retired, second.unchanged) == (1, 1, 2)
    assert published(db) == {"m1": "Mairie du 1er", "m2": "Mairie 2", "m3": "Mairie 3"}


def test_moderators_see_a_held_run_discard_it_and_a_second_decision_is_a_conflict(
        db, mod_app, moderator):
    routes = _Routes()
    routes["/bibliotheques.geojson"] = (200, collection(rows_v1()))
    with serve(routes) as base:
        city = city_with(base)
        mod_app.config["CITY"] = city
        sync(db, city)
        routes["/bibliotheques.geojson"] = (200, b"")
        held = sync(db, city)
    assert (held.status, held.hold_reason) == ("held", "empty")
    page = moderator.get("/moderation/sources?lang=fr").get_data(as_text=True)
    assert "1 à décider" in page and "téléchargement vide" in page
    english = moderator.get("/moderation/sources?lang=en").get_data(as_text=True)
    assert "Synchronised sources" in english and "empty download" in english
    response = post(moderator, f"/moderation/sources/{held.run}/discard",
                    {"reason": "the partner's server was down"}, page="/moderation/sources")
    assert response.status_code == 303
    assert len(published(db)) == 20
    again = post(moderator, f"/moderation/sources/{held.run}/confirm",
                 page="/moderation/sources")
    assert again.status_code == 409 and len(published(db)) == 20
    assert post(moderator, "/moderation/sources/999999/confirm",
                page="/moderation/sources").status_code == 404
    row = db.connect().execute(text(
        "SELECT status, error, decided_by IS NOT NULL FROM source_sync_run WHERE id = :r"),
        {"r": held.run}).one()
    assert tuple(row) == ("discarded", "the partner's server was down", True)
    assert scalar(db, "SELECT count(*) FROM moderation_event WHERE action = 'refuse' "
                      "AND actor_id IS NOT NULL AND reason LIKE :r",
                  r=f"sync run {held.run} discarded: the partner%") == 1
    assert "à décider" not in moderator.get("/moderation/sources").get_data(as_text=True)
    # "Sync now" queues a job for the worker.
    assert post(moderator, "/moderation/sources/sync", {"source": SOURCE},
                page="/moderation/sources").status_code == 303
    assert scalar(db, "SELECT payload->>'source' FROM job WHERE kind = 'sources.sync'") == \
        SOURCE


def test_an_ogc_api_collection_is_synced_page_by_page(db):
    rows = rows_v1(6)
    feats = json.loads(collection(rows))["features"]
    routes = _Routes()
    routes["/ogc/collections/bib"] = (200, json.dumps({
        "id": "bib", "attribution": "Réseau des bibliothèques",
        "links": [{"rel": "items", "type": "application/geo+json",
                   "href": "/ogc/collections/bib/items"}]}).encode())
    routes["/ogc/collections/bib/items"] = (200, json.dumps({
        "type": "FeatureCollection", "features": feats[:3],
        "links": [{"rel": "next", "type": "application/geo+json",
                   "href": "/ogc/collections/bib/items/2"}]}).encode())
    routes["/ogc/collections/bib/items/2"] = (200, json.dumps({
        "type": "FeatureCollection", "features": feats[3:], "links": []}).encode())
    with serve(routes) as base:
        city = city_with(base, "/ogc/collections/bib", format="ogcapi")
        first = sync(db, city)
        assert (first.status, first.read, first.new) == ("applied", 6, 6)
        routes["/ogc/collections/bib/items/2"] = (200, json.dumps({
            "type": "FeatureCollection", "features": feats[3:5], "links": []}).encode())
        second = sync(db, city)
    assert second.status == "held" and second.would_retire == 1  # 1 of 6 > 10 %
    assert len(published(db)) == 6
