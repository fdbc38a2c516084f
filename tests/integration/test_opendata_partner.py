"""Partner sources by URL: an OGC API collection and a GeoJSON feed, served by our own app."""

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingestion.sources import fetch_features, import_url, urllib_fetch
from tests.opendata_fixtures import od_data  # noqa: F401
from tests.opendata_server import serve


def partner_rows(engine, source):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT source_ref, attribution, title FROM feature WHERE source = :s "
            "AND status = 'published' ORDER BY source_ref"), {"s": source}).all()


def test_ogc_collection_is_paged_imported_with_attribution_and_rerun_adds_nothing(
        database_url, var_dir, od_data):  # noqa: F811
    with serve(database_url, var_dir) as base:
        url = f"{base}/ogc/collections/atelier-od"
        got = fetch_features(url, page_limit=1)
        assert got.pages == 2 and len(got.features) == 2  # followed the next link
        assert "ODbL" in got.attribution and got.licence.startswith("https://")
        for attempt in range(2):
            with Session(od_data.engine) as s, s.begin():
                # into another category, so that the source does not grow with the import
                summary = import_url(url, session=s, source="partner-asso-test",
                                     page_limit=1, publish=True, category="jardin-od")
            assert summary.read == 2 == summary.accepted + summary.refused
            assert summary.already_imported == (2 if attempt else 0)
            # the same rules as every import: Montreuil is outside the service area
            assert summary.refused_by_reason == {"outside_area": 1}
        rows = partner_rows(od_data.engine, "partner-asso-test")
        assert [r.source_ref for r in rows] == [str(od_data.ids["html"])]
        assert "ODbL" in rows[0].attribution and "opendatacommons" in rows[0].attribution


def test_geojson_feed_url_with_next_links(database_url, var_dir, od_data):  # noqa: F811
    with serve(database_url, var_dir) as base:
        url = f"{base}/api/v1/features?category=jardin-od&limit=1"
        with Session(od_data.engine) as s, s.begin():
            summary = import_url(url, session=s, source="ville-test", publish=True,
                                 attribution="Ville de Paris — ODbL")
        assert summary.read == 2 and summary.accepted + summary.refused == 2
        assert summary.file == url


def test_refuses_other_schemes_and_unreachable_hosts():
    import pytest

    from ingestion.errors import BadSourceFile

    with pytest.raises(BadSourceFile, match="http and https"):
        urllib_fetch("file:///etc/passwd")
    with pytest.raises(BadSourceFile, match="cannot be fetched"):
        urllib_fetch("http://127.0.0.1:9/nothing", timeout=2)
    with pytest.raises(BadSourceFile, match="another host"):
        pages = {"http://a/x": b'{"type": "FeatureCollection", "features": [{"type": "Feature"}],'
                               b' "links": [{"rel": "next", "href": "http://b/y"}]}'}
        fetch_features("http://a/x", fetch=pages.__getitem__)


def test_carte_import_takes_a_url(database_url, var_dir, od_data, runner):  # noqa: F811
    import json

    from webmap.cli import main

    with serve(database_url, var_dir) as base:
        url = f"{base}/ogc/collections/atelier-od"
        result = runner.invoke(main, ["import", url, "--source", "partner-cli-test",
                                      "--category", "jardin-od", "--publish"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["read"] == 2 and summary["file"] == url
    assert [r.source_ref for r in partner_rows(od_data.engine, "partner-cli-test")] == \
        [str(od_data.ids["html"])]


def test_carte_import_names_a_missing_file(runner):
    from webmap.cli import main

    result = runner.invoke(main, ["import", "/nonexistent.geojson", "--source", "x"])
    assert result.exit_code == 2
    assert "neither a file nor an http(s) URL" in result.output
