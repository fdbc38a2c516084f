"""Import runs: the lean landing table, its database rules, re-imports and decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures


@pytest.fixture
def db(categories_loaded, clean_db):
    return clean_db


def run(engine, path, **kw):
    from ingestion.importer import run_import

    kw.setdefault("category", "service-municipal")
    with Session(engine) as s, s.begin():
        return run_import(path, session=s, **kw)


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def one(engine, sql, **params):
    return rows(engine, sql, **params)[0][0]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def moderator(engine) -> int:
    with engine.begin() as conn:
        return conn.execute(text(
            "INSERT INTO app_user (email, password_hash, role) "
            "VALUES ('m@example.org', '$argon2id$x', 'moderator') RETURNING id")).scalar_one()


def test_the_database_refuses_rows_of_a_missing_run_category_or_area(db, tmp_path):
    s = run(db, write(tmp_path / "a.csv", ["id,title,lon,lat", "p1,Mairie,2.35,48.85"]),
            source="t")
    insert = ("INSERT INTO import_row (run_id, row_number, ref, raw, outcome, "
              "category, title, attributes, geom, area_ids) VALUES "
              "(:run, 9, 'x', 'raw', 'valid', :cat, 'T', '{}', "
              "ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), ARRAY[CAST(:area AS integer)])")
    for params, missing in (({"run": 999_999, "cat": "service-municipal", "area": None}, "run"),
                            ({"run": s.run_id, "cat": "nope", "area": None}, "category"),
                            ({"run": s.run_id, "cat": "service-municipal", "area": -5}, "area")):
        with pytest.raises(DBAPIError, match=f"refers to a missing {missing}"), \
                db.begin() as conn:
            conn.execute(text(insert), params)
    # ... while a row whose references all exist goes in (the trigger is not a blanket no).
    with db.begin() as conn:
        conn.execute(text(insert), {"run": s.run_id, "cat": "service-municipal", "area": None})
    # What was imported cannot be rewritten nor deleted.
    for sql in ("UPDATE import_row SET title = 'changed'", "DELETE FROM import_row"):
        with pytest.raises(DBAPIError, match="append-only"), db.begin() as conn:
            conn.execute(text(sql))
    with pytest.raises(DBAPIError, match="append-only"), db.begin() as conn:
        conn.execute(text("DELETE FROM import_file_part"))


def test_a_failed_import_leaves_its_file_and_a_failed_run(db, tmp_path, monkeypatch):
    import ingestion.filestore
    from ingestion.errors import CrsError

    monkeypatch.setattr(ingestion.filestore, "PART_SIZE", 16)  # several parts, in order
    path = write(tmp_path / "b.csv", ["id,title,x,y", "a1,Tour,648237.3,6862271.7"])
    with pytest.raises(CrsError, match="unknown CRS"):
        run(db, path, source="oops", crs="EPSG:999999")
    status, reason, name, size = rows(
        db, "SELECT status::text, reason, file_name, file_size FROM import_run "
            "WHERE source = 'oops'")[0]
    assert status == "failed" and "unknown CRS" in reason
    assert (name, size) == ("b.csv", path.stat().st_size)
    stored = b"".join(bytes(d) for (d,) in rows(
        db, "SELECT data FROM import_file_part p JOIN import_run r ON r.id = p.run_id "
            "WHERE r.source = 'oops' ORDER BY part"))
    assert stored == path.read_bytes()
    assert one(db, "SELECT count(*) FROM import_file_part") == 3
    assert one(db, "SELECT count(*) FROM import_row") == 0


def test_rows_kept_as_slices_of_the_stored_file_read_back_exactly(db, tmp_path, monkeypatch):
    # A simple CSV's rows are not copied: (offset, length) in the file as received, read
    # back by import_row_raw across part boundaries (a BOM and a blank line included);
    # a re-import compares them with the stored file's bytes; a gzipped file keeps copies.
    import gzip

    import ingestion.filestore

    monkeypatch.setattr(ingestion.filestore, "PART_SIZE", 7)  # rows span several parts
    lines = ["id,title,lon,lat", "s1,Fontaine Wallace,2.3522,48.8566", "",
             "s2,Jardin partagé é→ü,2.3470,48.8530", "s3,,2.35,48.85",
             "s4,Loin,2.8,48.9"]
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    expected = [line.encode() for line in lines[1:] if line]
    s = run(db, path, source="slices")
    assert s.read == 4 == s.accepted + s.refused
    got = rows(db, "SELECT row_number, raw IS NULL, import_row_raw(run_id, row_number) "
                   "FROM import_row WHERE run_id = :r ORDER BY row_number", r=s.run_id)
    assert [bytes(r[2]) for r in got] == expected
    assert [r[1] for r in got] == [True, True, False, False]  # valid rows: slices
    again = run(db, path, source="slices")
    assert (again.already_imported, again.changed, again.read) == (4, 0, 4)
    got = rows(db, "SELECT outcome::text, raw IS NULL, import_row_raw(run_id, row_number) "
                   "FROM import_row WHERE run_id = :r ORDER BY row_number", r=again.run_id)
    assert [r[0] for r in got] == ["unchanged"] * 4
    assert [bytes(r[2]) for r in got] == expected
    changed = tmp_path / "bom2.csv"
    changed.write_bytes(path.read_bytes().replace(b"Fontaine Wallace", b"Fontaine Wallace!"))
    third = run(db, changed, source="slices")
    assert (third.already_imported, third.changed) == (3, 1)
    zipped = tmp_path / "bom.csv.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    s = run(db, zipped, source="gz")
    got = rows(db, "SELECT raw IS NULL, import_row_raw(run_id, row_number) "
                   "FROM import_row WHERE run_id = :r ORDER BY row_number", r=s.run_id)
    assert [r[0] for r in got] == [False] * 4
    assert [bytes(r[1]) for r in got] == expected


def test_a_changed_row_revises_its_feature_and_an_unchanged_one_is_not_repeated(db, tmp_path):
    from moderation import queue

    v1 = write(tmp_path / "v1.csv", ["id,title,lon,lat", "p1,Mairie du 4e,2.3522,48.8566",
                                      "p2,Bibliothèque,2.3470,48.8530"])
    first = run(db, v1, source="city", publish=True, attribution="Ville")
    assert (first.accepted, first.published, first.changed) == (2, 2, 0)
    fid = one(db, "SELECT id FROM feature WHERE source_ref = 'p1'")
    v2 = write(tmp_path / "v2.csv", ["id,title,lon,lat", "p1,Mairie du 4e (rénovée),2.3523,48.8567",
                                      "p2,Bibliothèque,2.3470,48.8530", "p3,Piscine,2.36,48.86"])
    again = run(db, v2, source="city", publish=True, attribution="Ville")
    assert again.read == 3 == again.accepted + again.refused
    assert (again.already_imported, again.changed) == (1, 1)
    # No duplicate: p1 is the same feature, at version 2, with the new title and place.
    assert one(db, "SELECT count(*) FROM feature WHERE source = 'city'") == 3
    title, version, lon = rows(db, "SELECT title, version, ST_X(geom) FROM feature "
                                   "WHERE id = :f", f=fid)[0]
    assert (title, version, lon) == ("Mairie du 4e (rénovée)", 2, 2.3523)
    assert [r.title for r in rows(db, "SELECT title FROM feature_version WHERE feature_id = :f "
                                      "ORDER BY version", f=fid)] == \
        ["Mairie du 4e", "Mairie du 4e (rénovée)"]
    # The feature's audit history shows each import's version with before and after,
    # under the run's one import event (not one event per feature).
    with Session(db) as session:
        history = queue.history(session, feature_id=fid)
    assert [(h.action, h.import_run_id) for h in history] == \
        [("import", again.run_id), ("import", first.run_id)]
    assert history[0].before["title"] == "Mairie du 4e" and history[0].after["version"] == 2
    assert history[1].before is None and history[1].after["title"] == "Mairie du 4e"
    assert rows(db, "SELECT after FROM moderation_event WHERE import_run_id = :r",
                r=again.run_id) == [({"source": "city", "created": 1, "revised": 1},)]
    outcomes = dict(rows(db, "SELECT ref, outcome::text || CASE WHEN changed THEN '+changed' "
                             "ELSE '' END FROM import_row WHERE run_id = :r", r=again.run_id))
    assert outcomes == {"p1": "valid+changed", "p2": "unchanged", "p3": "valid"}
    # A third run of the same file: nothing changes, nothing is published twice.
    third = run(db, v2, source="city", publish=True, attribution="Ville")
    assert third.already_imported == 3 and third.changed == 0
    assert one(db, "SELECT max(version) FROM feature WHERE source = 'city'") == 2


def test_a_pending_run_waits_for_a_moderator_who_publishes_or_refuses_it(db, tmp_path):
    from ingestion.errors import RunAlreadyDecided, RunNotFound
    from ingestion.runs import list_runs, publish_run, refuse_run, run_rows

    path = write(tmp_path / "p.csv", ["id,title,lon,lat", "q1,Jardin,2.35,48.85",
                                      "q2,,2.35,48.85", "q3,Loin,2.8,48.9"])
    s = run(db, path, source="asso", attribution="Asso")
    assert (s.status, s.pending, s.published) == ("pending", 1, 0)
    assert one(db, "SELECT count(*) FROM feature") == 0
    actor = moderator(db)
    with Session(db) as session:
        runs = list_runs(session, status="pending")
        assert [r.id for r in runs] == [s.run_id] and runs[0].summary["read"] == 3
        refused = run_rows(session, s.run_id, outcome="invalid")
        assert [r.ref for r in refused] == ["q2", "q3"] and refused[0].errors
        assert run_rows(session, s.run_id, limit=1, offset=2)[0].raw == b"q3,Loin,2.8,48.9"
    with Session(db) as session, session.begin():
        assert publish_run(session, s.run_id, actor_id=actor, attribution=None) == 1
    assert rows(db, "SELECT source_ref, attribution FROM feature") == [("q1", "Asso")]
    assert one(db, "SELECT status::text FROM import_run WHERE id = :r", r=s.run_id) == \
        "published"
    assert rows(db, "SELECT action::text, actor_id FROM moderation_event "
                    "WHERE import_run_id = :r AND feature_id IS NULL", r=s.run_id) == \
        [("approve", actor)]
    with Session(db) as session, session.begin(), pytest.raises(RunAlreadyDecided):
        publish_run(session, s.run_id, actor_id=actor, attribution=None)
    # Another run, refused with a reason: nothing published, every row kept, audited.
    other = run(db, write(tmp_path / "o.csv", ["id,title,lon,lat", "z1,Spam,2.35,48.85"]),
                source="spammer")
    with Session(db) as session, session.begin():
        with pytest.raises(ValueError, match="reason"):
            refuse_run(session, other.run_id, actor_id=actor, reason=" ")
        refuse_run(session, other.run_id, actor_id=actor, reason="not a partner")
    assert rows(db, "SELECT status::text, reason, decided_by FROM import_run WHERE id = :r",
                r=other.run_id) == [("refused", "not a partner", actor)]
    assert one(db, "SELECT count(*) FROM feature WHERE source = 'spammer'") == 0
    assert one(db, "SELECT reason FROM moderation_event WHERE action = 'refuse' "
                   "AND import_run_id = :r", r=other.run_id) == "not a partner"
    with Session(db) as session, session.begin(), pytest.raises(RunAlreadyDecided):
        refuse_run(session, other.run_id, actor_id=actor, reason="again")
    with Session(db) as session, session.begin(), pytest.raises(RunNotFound):
        publish_run(session, 999_999, actor_id=actor, attribution=None)


def test_set_based_publish_writes_what_publish_feature_writes(db, tmp_path):
    from datetime import UTC, datetime

    from geo.models import ModerationAction
    from geo.publish import FeatureDraft, publish_feature, version_snapshot_sql

    lines = ["id,title,description,lon,lat,opening_hours"]
    lines += [f"r{i},Lieu {i},Desc {i},{2.30 + i * 0.007:.4f},{48.84 + i * 0.003:.4f},"
              + ("9h-18h" if i % 2 else "") for i in range(12)]
    s = run(db, write(tmp_path / "s.csv", lines), source="setb", publish=True,
            attribution="A", now=datetime(2026, 6, 1, tzinfo=UTC))

    def state(source, after):
        feats = rows(db, "SELECT source_ref, status::text, category, title, description, "
                         "starts_at, ends_at, attributes, ST_AsText(geom), area_ids, "
                         "attribution, version, submission_id, merged_into "
                         "FROM feature WHERE source = :s ORDER BY source_ref", s=source)
        versions = rows(db, "SELECT f.source_ref, v.version, v.status::text, v.category, "
                            "v.title, v.description, v.attributes, ST_AsText(v.geom), "
                            "v.changed_by, e.action::text, e.reason, e.actor_id, "
                            f"({after}) - 'id' FROM feature_version v "
                            "JOIN feature f ON f.id = v.feature_id "
                            "JOIN moderation_event e ON e.id = v.event_id "
                            "WHERE f.source = :s ORDER BY 1", s=source)
        return feats, versions

    # The set-based path writes one event that the versions point to; each version's
    # audited "after" (as the feature's history shows it) is its own row.
    set_based = state("setb", version_snapshot_sql("v"))
    assert rows(db, "SELECT count(*), min(after ->> 'created') FROM moderation_event") == \
        [(1, "12")]
    tiles = rows(db, "SELECT z, x, y FROM tile_dirty ORDER BY 1, 2, 3")
    assert len(set_based[0]) == s.published == 12
    with db.begin() as conn:
        conn.execute(text("DELETE FROM tile_dirty"))
    records = rows(db, "SELECT ref, category, title, description, attributes, ST_X(geom), "
                       "ST_Y(geom) FROM import_row WHERE run_id = :r ORDER BY row_number",
                   r=s.run_id)
    with Session(db) as session, session.begin():
        for ref, cat, title, desc, attrs, lon, lat in records:
            publish_feature(session, FeatureDraft(category=cat, title=title, lon=lon, lat=lat,
                                                  description=desc, attributes=attrs),
                            source="perrow", source_ref=ref, attribution="A",
                            action=ModerationAction.import_, reason="import from setb")
    assert state("perrow", "e.after") == set_based
    assert rows(db, "SELECT z, x, y FROM tile_dirty ORDER BY 1, 2, 3") == tiles


def test_the_fast_and_the_scalar_path_store_the_same_rows(db, tmp_path):
    lines = ["id,title,description,lon,lat,opening_hours,category",
             "a1,Mairie,Ouverte,2.3522,48.8566,,",
             "a2,Bibliothèque \\ livres,,2.3470,48.8530,9h-18h,",
             "a3,,sans titre,2.35,48.85,,",
             "a1,Doublon,,2.35,48.85,,",
             "a4,Loin,,2.9,48.9,,",
             "a5,Inversé,,48.85,2.35,,",
             "a6,Pas un nombre,,2.3x,48.85,,",
             ",Sans id,,2.351,48.851,,",
             "a7,Trop court,2.35",
             "a8,Autre catégorie,,2.352,48.852,,fontaine",
             "a9,  Espaces  ,,2.353,48.853,,",
             "a10," + "T" * 130 + ",,2.354,48.854,,",
             "a11,Nombre signé,,+2.355,4.8855e1,,"]
    path = write(tmp_path / "mix.csv", lines)
    from ingestion.readers import csv_columns

    assert csv_columns(path.read_bytes()) is not None  # the fast path does take this file
    # The same source again, some rows changed, one more, one repeated: the re-import
    # compares bytes (unchanged rows take the column path too).
    changed = [*lines[:2], "a2,Bibliothèque rénovée,,2.3471,48.8531,9h-18h,", *lines[3:],
               "a12,Nouveau,,2.356,48.856,,", "a12,Nouveau bis,,2.357,48.857,,"]
    path2 = write(tmp_path / "mix2.csv", changed)
    got = {}
    for fast in (True, False):
        for n, source_file in enumerate((path, path2)):
            refused = tmp_path / f"refused-{fast}-{n}.jsonl"
            s = run(db, source_file, source=f"src-{fast}", category=None, fast=fast,
                    refused_path=refused)
            # The bytes as read, whether kept as a copy or as a slice of the stored file.
            table = rows(db, "SELECT row_number, ref, import_row_raw(run_id, row_number), "
                             "outcome::text, changed, "
                             "errors, category, title, description, starts_at, ends_at, "
                             "attributes, ST_AsEWKB(geom), area_ids "
                             "FROM import_row WHERE run_id = :r ORDER BY row_number",
                         r=s.run_id)
            d = s.as_dict()
            for key in ("source", "run_id", "seconds", "rows_per_s", "refused_file"):
                d.pop(key)
            got[fast, n] = (table, d, refused.read_text())
    assert got[True, 1] == got[False, 1]
    second = got[True, 1][1]
    assert second["already_imported"] == len(lines) - 2 and second["changed"] == 1
    assert second["read"] == second["accepted"] + second["refused"] == len(changed) - 1
    got = {fast: got[fast, 0] for fast in (True, False)}
    assert got[True] == got[False]
    table, summary, refused_text = got[True]
    assert summary["read"] == len(lines) - 1 == summary["accepted"] + summary["refused"]
    assert len(refused_text.splitlines()) == summary["refused"] >= 6
    assert {json.loads(x)["ref"] for x in refused_text.splitlines()} >= {"a3", "a1#row4"}


def test_area_lookup_in_memory_gives_the_database_answer(engine):
    import numpy as np

    from geo.areas import locate
    from ingestion.importer import AreaIndex

    rng = np.random.default_rng(7)
    lons = rng.uniform(2.22, 2.47, 2000)
    lats = rng.uniform(48.81, 48.91, 2000)
    with Session(engine) as session:
        found = AreaIndex(session).lookup_ids(lons, lats)
        assert (found[next(iter(found))] >= 0).sum() > 1000
        for i in range(0, 2000, 40):
            where = locate(session, float(lons[i]), float(lats[i]))
            got = [int(f[i]) for f in found.values()]
            assert got == [a.id if a else -1 for a in (where.at(1), where.at(2))]


def test_area_raster_gives_the_polygon_answer_near_boundaries(engine):
    # Points on and within a few metres of every boundary (where the raster must defer
    # to the polygons), and uniform ones: the raster-backed lookup equals the exact test.
    import numpy as np
    import shapely

    from ingestion.importer import AreaIndex

    rng = np.random.default_rng(20261128)
    with Session(engine) as session:
        index = AreaIndex(session)
    lons, lats = [rng.uniform(2.2, 2.5, 20_000)], [rng.uniform(48.8, 48.92, 20_000)]
    for geoms, *_ in index.kinds.values():
        for geom in geoms:
            edge = shapely.boundary(geom)
            pts = shapely.line_interpolate_point(edge, rng.uniform(0, 1, 300), normalized=True)
            xy = shapely.get_coordinates(pts)
            for scale in (0.0, 2e-5, 1e-4, 3e-4):
                lons.append(xy[:, 0] + rng.normal(0, scale, len(xy)))
                lats.append(xy[:, 1] + rng.normal(0, scale, len(xy)))
    lon, lat = np.concatenate(lons), np.concatenate(lats)
    fast, exact = index.lookup_ids(lon, lat), index.lookup_ids(lon, lat, exact=True)
    for kind in exact:
        assert np.array_equal(fast[kind], exact[kind]), kind
        assert (exact[kind] >= 0).sum() > len(lon) // 2


def test_carte_imports_lists_and_decides_pending_runs(db, runner, tmp_path):
    from webmap.cli import main

    path = write(tmp_path / "c.csv", ["id,title,lon,lat", "c1,Jardin,2.35,48.85"])
    out = runner.invoke(main, ["import", str(path), "--source", "cli-asso", "--category",
                               "jardin-partage", "--refused", str(tmp_path / "r.jsonl")])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output.strip().splitlines()[-1])
    assert summary["status"] == "pending" and summary["pending"] == 1
    listed = runner.invoke(main, ["imports", "list", "--status", "pending"])
    assert [json.loads(x)["id"] for x in listed.output.splitlines()] == [summary["run_id"]]
    got = runner.invoke(main, ["imports", "rows", str(summary["run_id"])])
    assert json.loads(got.output)["raw"] == "c1,Jardin,2.35,48.85"
    moderator(db)
    bad = runner.invoke(main, ["imports", "refuse", str(summary["run_id"]), "--by",
                               "nobody@example.org", "--reason", "x"])
    assert bad.exit_code == 2 and "no active account" in bad.output
    ok = runner.invoke(main, ["imports", "publish", str(summary["run_id"]), "--by",
                              "m@example.org"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["features"] == 1
    again = runner.invoke(main, ["imports", "refuse", str(summary["run_id"]), "--by",
                                 "m@example.org", "--reason", "too late"])
    assert again.exit_code == 1 and "not pending" in again.output
    assert one(db, "SELECT count(*) FROM feature WHERE source = 'cli-asso'") == 1
