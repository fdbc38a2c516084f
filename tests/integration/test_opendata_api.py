"""``GET /api/v1/features``: public GeoJSON, filters, paging, and strict parameters."""

from urllib.parse import urlsplit

import pytest

from tests.opendata_fixtures import od_data  # noqa: F401


def get(client, query=""):
    response = client.get("/api/v1/features" + query)
    return response, response.get_json(force=True)


def titles(body):
    return sorted(f["properties"]["title"] for f in body["features"])


def test_every_published_feature_as_geojson_and_nothing_else(client, od_data):  # noqa: F811
    # Both fixture events (May and June 2026) are over: asking from January shows them.
    response, body = get(client, "?from=2026-01-01")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == body["numberMatched"] == od_data.published
    ids = {f["id"] for f in body["features"]}
    assert od_data.ids["gone"] not in ids
    merri = next(f for f in body["features"] if f["id"] == od_data.ids["merri"])
    assert merri["geometry"] == {"type": "Point", "coordinates": [2.3509, 48.859]}
    props = merri["properties"]
    assert set(props) == {"id", "category", "title", "description", "starts_at", "ends_at",
                          "attributes", "arrondissement", "arrondissement_name", "quartier",
                          "quartier_name", "source", "attribution", "published_at",
                          "updated_at", "photos"}
    assert props["photos"] == []  # none sent: an empty list, never null
    assert props["arrondissement_name"].startswith("4") or props["arrondissement"]
    assert props["published_at"].endswith("Z")


def test_live_list_leaves_out_events_that_are_over(client, od_data):  # noqa: F811
    _, body = get(client)
    ids = {f["id"] for f in body["features"]}
    assert od_data.ids["party"] not in ids and od_data.ids["soup"] not in ids
    assert body["numberMatched"] == od_data.published - 2
    # ...but a window that asks for the past finds them, with their dates.
    _, body = get(client, "?from=2026-05-29&to=2026-05-30")
    assert "Fête rue Oberkampf" in titles(body) and "Disco Soupe" not in titles(body)
    assert len(body["features"]) == od_data.published - 1  # the places, and the party
    party = next(f for f in body["features"] if f["id"] == od_data.ids["party"])
    assert party["properties"]["ends_at"] == "2026-05-29T23:00:00Z"
    # The soup has no end: it lasts its whole (Paris) day, 12 June, and not the 13th.
    _, body = get(client, "?from=2026-06-12T21:59:00Z&category=fete-od")
    assert titles(body) == ["Disco Soupe"]
    _, body = get(client, "?from=2026-06-13&category=fete-od")
    assert titles(body) == []


def test_bbox_category_and_time_filters(client, od_data):  # noqa: F811
    _, body = get(client, "?bbox=2.34,48.85,2.36,48.87")
    assert titles(body) == ["Jardin Saint-Merri"]
    _, body = get(client, "?category=fete-od,atelier-od&from=2026-01-01")
    assert len(body["features"]) == 4
    _, body = get(client, "?at=2026-05-29T20:00:00Z&category=fete-od")
    assert titles(body) == ["Fête rue Oberkampf"]
    _, body = get(client, "?at=2026-05-29T20:00:00Z")
    # undated places are always there; the June soup is not
    assert "Disco Soupe" not in titles(body) and len(body["features"]) == 5


def test_audience_and_accessibility_filters(client, od_data):  # noqa: F811
    everyone = {v for k, v in od_data.ids.items()
                if k not in ("merri", "formula", "gone", "party", "soup")}
    _, body = get(client, "?audience=children")
    # named audiences, or none named: open to everyone
    assert {f["id"] for f in body["features"]} == everyone | {od_data.ids["merri"]}
    _, body = get(client, "?audience=seniors,families")
    assert {f["id"] for f in body["features"]} == everyone | {od_data.ids["formula"]}
    _, body = get(client, "?accessible=true")
    assert {f["id"] for f in body["features"]} == {od_data.ids["merri"], od_data.ids["outside"]}
    _, body = get(client, "?accessible=step_free,adapted_toilets")
    assert [f["id"] for f in body["features"]] == [od_data.ids["outside"]]


def test_paging_with_next_links_reaches_every_feature(client, od_data):  # noqa: F811
    seen, url = [], "/api/v1/features?limit=4&from=2026-01-01"
    while url:
        body = client.get(url).get_json(force=True)
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = "{0.path}?{0.query}".format(urlsplit(nxt[0])) if nxt else None
    assert len(seen) == len(set(seen)) == od_data.published


@pytest.mark.parametrize(("query", "param"), [
    ("?bbox=nan,48,3,49", "bbox"),
    ("?bbox=2,48,inf,49", "bbox"),
    ("?bbox=3,48,2,49", "bbox"),
    ("?bbox=2,49,3,48", "bbox"),
    ("?bbox=2,48,0,3,49,10", "bbox"),
    ("?bbox=2,48,3", "bbox"),
    ("?bbox=2,48,3,91", "bbox"),
    ("?bbox=1e400,48,3,49", "bbox"),
    ("?limit=0", "limit"),
    ("?limit=10001", "limit"),
    ("?limit=99999999999999999999999", "limit"),
    ("?limit=abc", "limit"),
    ("?offset=-1", "offset"),
    ("?offset=9223372036854775808", "offset"),
    ("?at=yesterday", "at"),
    ("?at=2026-13-01", "at"),
    ("?category=<script>", "category"),
    ("?audience=", "audience"),
    ("?colour=red", "colour"),
    ("?limit=1&limit=2", "limit"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, engine, query, param):
    response, body = get(client, query)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert body["invalid_params"][0]["name"] == param
    assert param in body["detail"]
