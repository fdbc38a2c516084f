"""No personal data leaves: known secrets are searched for in every public output."""

import json

from tests.opendata_fixtures import SECRETS, od_data  # noqa: F401
from webmap.cli import main


def assert_clean(blob: bytes, where: str) -> None:
    for secret in SECRETS:
        assert secret.encode() not in blob, f"{secret!r} leaked in {where}"
    assert b"client_key" not in blob and b"tracking_token" not in blob, where
    assert b'"email"' not in blob and b"decided_by" not in blob, where


def test_no_personal_data_in_api_ogc_downloads_or_index(runner, client, var_dir,
                                                         od_data):  # noqa: F811
    with od_data.engine.begin() as conn:  # a form once stored an e-mail in attributes
        conn.exec_driver_sql(
            "UPDATE feature SET attributes = attributes || "
            "jsonb_build_object('email', CAST(%(e)s AS text)) WHERE id = %(id)s",
            {"e": SECRETS[0], "id": od_data.ids["merri"]})
    result = runner.invoke(main, ["export"])
    assert result.exit_code == 0, result.output
    files = sorted(p for p in (var_dir / "data").iterdir() if p.is_file())
    assert len(files) == 17
    for path in files:
        assert_clean(path.read_bytes(), path.name)
    cache = sorted(p for p in (var_dir / "data" / ".parts").rglob("*") if p.is_file())
    assert cache  # the incremental exports' parts, rendered from the same public fields
    for path in cache:
        assert_clean(path.read_bytes(), str(path))

    urls = ["/api/v1/features", "/api/v1/features?limit=1", "/data/", "/data/?f=json",
            "/ogc/", "/ogc/collections", "/ogc/api", "/ogc/conformance"]
    cols = client.get("/ogc/collections").get_json()["collections"]
    for col in cols:
        base = f"/ogc/collections/{col['id']}"
        urls += [base, base + "?f=html", base + "/items?limit=10000",
                 base + "/items?f=html&limit=10000"]
        if col["id"] != "areas":
            body = client.get(base + "/items?limit=10000").get_json(force=True)
            for f in body["features"]:
                urls += [f"{base}/items/{f['id']}", f"{base}/items/{f['id']}?f=html"]
    urls += [f"/ogc/collections/features/items/{od_data.ids['gone']}"]
    for url in urls:
        with client.get(url) as r:
            assert r.status_code in (200, 404), url
            assert_clean(r.data, url)
    # The published feature made from the submission is there, without its e-mail.
    doc = client.get(f"/ogc/collections/features/items/{od_data.ids['merri']}").get_json(
        force=True)
    assert doc["properties"]["title"] == "Jardin Saint-Merri"
    assert "email" not in json.dumps(doc["properties"]["attributes"])
