"""OGC API – Features Part 1 Core at /ogc/: documents, paging, negotiation, errors, HTML."""

from urllib.parse import urlsplit

import pytest

from tests.opendata_fixtures import od_data  # noqa: F401

CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"


def rels(doc):
    return {link["rel"]: link for link in doc["links"]}


def local(href):
    parts = urlsplit(href)
    return parts.path + ("?" + parts.query if parts.query else "")


def test_landing_conformance_and_openapi(client, engine):
    landing = client.get("/ogc/").get_json()
    links = rels(landing)
    assert {"self", "service-desc", "conformance", "data", "license"} <= links.keys()
    conf = client.get(local(links["conformance"]["href"])).get_json()
    assert {CONF + c for c in ("core", "geojson", "html", "oas30")} <= set(conf["conformsTo"])
    api = client.get(local(links["service-desc"]["href"]))
    assert api.mimetype == "application/vnd.oai.openapi+json"
    doc = api.get_json()
    assert doc["openapi"].startswith("3.0")
    assert doc["components"]["parameters"]["limit"]["schema"]["maximum"] == 10000


def test_collections_are_all_features_each_category_and_areas(client, od_data):  # noqa: F811
    cols = client.get("/ogc/collections").get_json()["collections"]
    ids = [c["id"] for c in cols]
    assert ids[0] == "features" and ids[-1] == "areas"
    assert set(ids[1:-1]) == {"jardin-od", "fete-od", "atelier-od"}
    fete = next(c for c in cols if c["id"] == "fete-od")
    assert "temporal" in fete["extent"]
    assert client.get("/ogc/collections/nope").status_code == 404


def test_items_paging_counts_and_links(client, od_data):  # noqa: F811
    r = client.get("/ogc/collections/features/items?limit=4")
    assert r.mimetype == "application/geo+json"
    body = r.get_json(force=True)
    assert body["numberReturned"] == 4 and body["numberMatched"] == 6
    assert "prev" not in rels(body)
    second = client.get(local(rels(body)["next"]["href"])).get_json(force=True)
    assert second["numberReturned"] == 2 and "next" not in rels(second)
    assert second["numberMatched"] == 6
    back = client.get(local(rels(second)["prev"]["href"])).get_json(force=True)
    assert [f["id"] for f in back["features"]] == [f["id"] for f in body["features"]]
    seen = [f["id"] for f in body["features"] + second["features"]]
    assert len(set(seen)) == 6 and seen == sorted(seen)
    # a small box counts its matches in the same scan
    small = client.get("/ogc/collections/features/items?bbox=2.29,48.85,2.38,48.87&limit=2")
    small = small.get_json(force=True)
    assert small["numberReturned"] == 2 and small["numberMatched"] == 4
    assert [f["id"] for f in small["features"]] == sorted(f["id"] for f in small["features"])


def test_items_bbox_datetime_and_category(client, od_data):  # noqa: F811
    def ids(query, cid="features"):
        body = client.get(f"/ogc/collections/{cid}/items{query}").get_json(force=True)
        return {f["id"] for f in body["features"]}

    i = od_data.ids
    assert ids("?bbox=2.34,48.85,2.36,48.87") == {i["merri"]}
    assert ids("?bbox=2.34,48.85,-100,2.36,48.87,100") == {i["merri"]}  # 3-D box
    assert ids("?datetime=2026-05-29") == {i["party"]}
    assert ids("?datetime=2026-05-29T19:00:00Z") == {i["party"]}
    assert ids("?datetime=2026-06-01T00:00:00Z/..") == {i["soup"]}
    assert ids("?datetime=../2026-06-30T00:00:00Z") == {i["party"], i["soup"]}
    assert ids("?datetime=2026-06-13/2026-06-30") == set()
    assert ids("", "atelier-od") == {i["html"], i["outside"]}
    assert ids("?category=fete-od") == {i["party"], i["soup"]}


def test_single_items(client, od_data):  # noqa: F811
    fid = od_data.ids["merri"]
    r = client.get(f"/ogc/collections/features/items/{fid}")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    feature = r.get_json(force=True)
    assert feature["id"] == fid and feature["properties"]["title"] == "Jardin Saint-Merri"
    assert client.get(f"/ogc/collections/jardin-od/items/{fid}").status_code == 200
    assert client.get(f"/ogc/collections/fete-od/items/{fid}").status_code == 404
    gone = od_data.ids["gone"]
    assert client.get(f"/ogc/collections/features/items/{gone}").status_code == 404
    assert client.get("/ogc/collections/features/items/999999").status_code == 404
    assert client.get("/ogc/collections/areas/items/75104").get_json(
        force=True)["properties"]["kind"] == "arrondissement"
    assert client.get("/ogc/collections/areas/items/99999").status_code == 404


@pytest.mark.parametrize(("url", "param"), [
    ("/ogc/collections/features/items/abc", "featureId"),
    ("/ogc/collections/features/items/99999999999999999999", "featureId"),
    ("/ogc/collections/features/items/-1", "featureId"),
    ("/ogc/collections/features/items?bbox=nan,48,3,49", "bbox"),
    ("/ogc/collections/features/items?bbox=3,48,2,49", "bbox"),
    ("/ogc/collections/features/items?bbox=2,48,3,49,5", "bbox"),
    ("/ogc/collections/features/items?bbox=2,48,5,3,49,1", "bbox"),
    ("/ogc/collections/features/items?limit=10001", "limit"),
    ("/ogc/collections/features/items?limit=0", "limit"),
    ("/ogc/collections/features/items?offset=99999999999999999999", "offset"),
    ("/ogc/collections/features/items?datetime=2026-07-01/2026-06-01", "datetime"),
    ("/ogc/collections/features/items?datetime=soon", "datetime"),
    ("/ogc/collections/features/items?crs=EPSG:2154", "crs"),
    ("/ogc/collections/features/items?f=xml", "f"),
    ("/ogc/collections/features/items?sortby=title", "sortby"),
    ("/ogc/collections/areas/items?category=x", "category"),
])
def test_bad_parameters_are_400_never_500(client, engine, url, param):
    r = client.get(url)
    assert r.status_code == 400, r.data
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["invalid_params"][0]["name"] == param


def test_content_negotiation(client, od_data):  # noqa: F811
    url = "/ogc/collections/features/items"
    assert client.get(url, headers={"Accept": "application/geo+json"}).mimetype == \
        "application/geo+json"
    assert client.get(url, headers={"Accept": "text/html,*/*;q=0.8"}).mimetype == "text/html"
    assert client.get(url + "?f=json", headers={"Accept": "text/html"}).mimetype == \
        "application/geo+json"
    assert client.get("/ogc/collections", headers={"Accept": "text/html"}).mimetype == \
        "text/html"
    assert client.get("/ogc/collections?f=html").mimetype == "text/html"
    assert client.get("/ogc/conformance").mimetype == "application/json"


def test_html_views_escape_residents_text(client, od_data):  # noqa: F811
    fid = od_data.ids["html"]
    for url in (f"/ogc/collections/features/items/{fid}?f=html",
                "/ogc/collections/atelier-od/items?f=html"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in page
    landing = client.get("/ogc/?f=html").get_data(as_text=True)
    assert "ODbL" in landing and "<script" not in landing
    items = client.get("/ogc/collections/features/items?f=html&limit=2").get_data(as_text=True)
    assert 'rel="next"' in items
