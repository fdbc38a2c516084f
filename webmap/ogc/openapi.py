"""The OpenAPI 3.0 definition of ``/ogc/`` (the ``oas30`` conformance class).

One explicit path per collection, so that each declares exactly the parameters it
accepts (clients such as GDAL read ``limit``'s maximum and default from it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["CRS84", "openapi_document"]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _param(name: str, description: str, schema: dict[str, Any], *,
           explode: bool | None = None, style: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": "query", "required": False,
                         "description": description, "schema": schema}
    if style:
        p["style"] = style
    if explode is not None:
        p["explode"] = explode
    return p


def openapi_document(base: str, category_slugs: Sequence[str], *, max_limit: int,
                     default_limit: int) -> dict[str, Any]:
    """The API definition for the server at ``base`` (``http://host/ogc``)."""
    params = {
        "f": _param("f", "Response format.", {"type": "string",
                                               "enum": ["json", "geojson", "html"]}),
        "bbox": _param("bbox", "Only features inside west,south,east,north (CRS84). Six "
                       "numbers (with heights) are accepted; heights are ignored.",
                       {"type": "array", "minItems": 4, "maxItems": 6,
                        "items": {"type": "number"}}, style="form", explode=False),
        "datetime": _param("datetime", "An RFC 3339 instant, a date, or an interval "
                           "(start/end, '..' for open). Matches dated features (events) "
                           "whose time span meets it.", {"type": "string"}),
        "limit": _param("limit", f"Features per page (1–{max_limit}); a larger value is "
                        "refused with 400.",
                        {"type": "integer", "minimum": 1, "maximum": max_limit,
                         "default": default_limit}, style="form", explode=False),
        "offset": _param("offset", "How many features to skip (paging).",
                         {"type": "integer", "minimum": 0, "default": 0}),
        "category": _param("category", "Only these categories (comma-separated slugs).",
                           {"type": "string"}),
        "crs": _param("crs", "CRS of the answer (only CRS84).",
                      {"type": "string", "format": "uri", "enum": [CRS84]}),
        "bbox-crs": _param("bbox-crs", "CRS of bbox (only CRS84).",
                           {"type": "string", "format": "uri", "enum": [CRS84]}),
        "featureId": {"name": "featureId", "in": "path", "required": True,
                      "description": "A feature's stable id (areas: their INSEE code).",
                      "schema": {"type": "string"}},
    }

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/parameters/{name}"}

    def ok(media: str, description: str) -> dict[str, Any]:
        return {"200": {"description": description,
                        "content": {media: {}, "text/html": {}}},
                "400": {"description": "A bad parameter (named in the answer)."},
                "404": {"description": "Not found."},
                "414": {"description": "The request line is longer than 8190 bytes "
                                       "(a bbox or filter list that long is refused)."},
                "503": {"description": "The database is unavailable; retry after the "
                                       "Retry-After header's seconds.",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}}}}

    paths: dict[str, Any] = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage",
                      "parameters": [ref("f")],
                      "responses": ok("application/json", "Links to the API")}},
        "/conformance": {"get": {"summary": "Conformance classes",
                                 "operationId": "getConformance", "parameters": [ref("f")],
                                 "responses": ok("application/json", "Conformance")}},
        "/api": {"get": {"summary": "This document", "operationId": "getApi",
                         "parameters": [ref("f")],
                         "responses": ok("application/vnd.oai.openapi+json;version=3.0",
                                         "The API definition")}},
        "/collections": {"get": {"summary": "Collections", "operationId": "getCollections",
                                 "parameters": [ref("f")],
                                 "responses": ok("application/json", "The collections")}},
    }
    for cid in ["features", *category_slugs, "areas"]:
        op = cid.replace("-", "_")
        item_params = [ref("f"), ref("bbox"), ref("datetime"), ref("limit"), ref("offset"),
                       ref("crs"), ref("bbox-crs")]
        if cid == "features":
            item_params.append(ref("category"))
        paths[f"/collections/{cid}"] = {"get": {
            "summary": f"Collection {cid}", "operationId": f"describe_{op}",
            "parameters": [ref("f")],
            "responses": ok("application/json", "The collection")}}
        paths[f"/collections/{cid}/items"] = {"get": {
            "summary": f"Features of {cid}", "operationId": f"getFeatures_{op}",
            "parameters": item_params,
            "responses": ok("application/geo+json", "A page of features")}}
        paths[f"/collections/{cid}/items/{{featureId}}"] = {"get": {
            "summary": f"One feature of {cid}", "operationId": f"getFeature_{op}",
            "parameters": [ref("featureId"), ref("f"), ref("crs")],
            "responses": ok("application/geo+json", "One feature")}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Carte citoyenne – OGC API Features", "version": "1.0.0",
                 "description": "Read-only published features of the participative map, "
                                "under the ODbL 1.0 licence.",
                 "license": {"name": "ODbL-1.0",
                             "url": "https://opendatacommons.org/licenses/odbl/1-0/"}},
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"parameters": params},
    }
