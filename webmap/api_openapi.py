"""The ``/api/v1`` operations served by webmap and moderation, for the OpenAPI document.

``/api/v1/openapi.json`` is served by the ingestion blueprint (:mod:`ingestion.openapi`
describes the submissions); ``ingestion`` may not import ``webmap``, so the app factory
registers :func:`paths` in ``app.extensions["openapi_paths"]`` and that view merges
them in. Every operation lists its parameters and every status it can answer: 400 for a
bad parameter (problem+json naming it), 503 during a database outage (with
``Retry-After``), 414 for a request line over 8190 bytes (gunicorn's limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["SEARCH_ANSWER", "paths", "register_operations"]

_REGISTERED: dict[str, dict[str, Any]] = {}


def register_operations(path_items: dict[str, dict[str, Any]]) -> None:
    """Add path items of another module's ``/api/v1`` operations to the document.

    For the feature modules (residents, time bank, missions...): call it at import time
    with ``{"/api/v1/...": {"get": {...}}}``; methods of one path are merged.
    """
    for path, item in path_items.items():
        _REGISTERED.setdefault(path, {}).update(item)

PROBLEM = "application/problem+json"
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _problem(description: str, schema: str = "Problem") -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


FIELD_PROBLEM = {
    "type": "object", "description": "RFC 9457 problem details; errors maps each bad "
                                     "field to what is wrong with it",
    "required": ["type", "title", "status"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "errors": {"type": "object", "additionalProperties": {"type": "string"}}},
}


_TEXT_OR_NULL = {"type": ["string", "null"]}
_AREA_REF = {
    "type": "object", "required": ["level", "level_label", "code", "name"],
    "properties": {
        "level": {"type": "string", "description": "the level's slug in the city's "
                                                   "city.json (its areas.levels[].slug)"},
        "level_label": {"type": "string",
                        "description": "the level's word in the answer's language"},
        "code": {"type": "string", "description": "the area's code (as listed at "
                                                  "/ogc/collections/areas/items)"},
        "name": {"type": "string"}}}
SEARCH_ANSWER: dict[str, Any] = {
    "type": "object", "required": ["features", "areas", "addresses"],
    "properties": {
        "features": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "title", "category", "lon", "lat", "areas", "category_label",
                         "label"],
            "properties": {
                "id": {"type": "integer"}, "title": {"type": "string"},
                "category": {"type": "string"}, "lon": {"type": "number"},
                "lat": {"type": "number"},
                "areas": {"type": "array", "items": _AREA_REF,
                          "description": "the feature's areas, first level first (none "
                                         "outside every area)"},
                "category_label": {"type": "string"},
                "label": {"type": "string", "description": "the title, with what tells "
                                                           "same-titled results apart"},
                "arrondissement": {**_TEXT_OR_NULL, "deprecated": True,
                                   "description": "the first level's area code: read "
                                                  "areas[0].code"},
                "arrondissement_name": {**_TEXT_OR_NULL, "deprecated": True,
                                        "description": "the first level's area name: "
                                                       "read areas[0].name"},
                "quartier_name": {**_TEXT_OR_NULL, "deprecated": True,
                                  "description": "the second level's area name: read "
                                                 "areas[1].name"}}}},
        "areas": {"type": "array", "items": {
            "type": "object", "required": ["code", "name", "level", "level_label", "lon",
                                           "lat", "bbox"],
            "properties": {
                "code": {"type": "string"}, "name": {"type": "string"},
                "level": {"type": "string", "description": "the level's slug"},
                "level_label": {"type": "string"},
                "kind": {"type": "string", "description": "the level's slug (as level)"},
                "lon": {"type": "number"}, "lat": {"type": "number"},
                "bbox": {"type": "array", "items": {"type": "number"},
                         "minItems": 4, "maxItems": 4}}}},
        "addresses": {"type": "array", "items": {
            "type": "object", "required": ["label", "lon", "lat"],
            "properties": {"label": {"type": "string"}, "lon": {"type": "number"},
                           "lat": {"type": "number"}}}}}}


def _q(name: str, description: str, schema: dict[str, Any], *,
       required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required,
            "description": description, "schema": schema}


def _path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _common(*, bad: str = "a parameter is malformed or out of range (named in "
                          "invalid_params)", schema: str = "Problem") -> dict[str, Any]:
    return {
        "400": _problem(bad, schema),
        "414": {"description": "the request line is longer than 8190 bytes"},
        "503": {**_problem("the database is unavailable; retry after Retry-After seconds"),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
    }


def filter_parameters(category_slugs: Sequence[str]) -> list[dict[str, Any]]:
    """The shared filter parameters (list, filtered tiles, walk), one meaning everywhere."""
    del category_slugs  # any slug is accepted: an unknown one matches nothing
    return [
        _q("category", "category slugs, comma-separated", {"type": "string"}),
        _q("from", "RFC 3339 date-time or YYYY-MM-DD (city time zone): window start",
           {"type": "string"}),
        _q("to", "RFC 3339 date-time or YYYY-MM-DD: window end", {"type": "string"}),
        _q("at", "RFC 3339 date-time: what happens then (not with from/to)",
           {"type": "string"}),
        _q("audience", "audience slugs, comma-separated", {"type": "string"}),
        _q("accessible", "true, or accessibility slugs, comma-separated",
           {"type": "string"}),
        _q("accessible_match", "known (default) or not_unsuitable",
           {"type": "string", "enum": ["known", "not_unsuitable"]}),
        _q("days", "comma-separated days (mon..sun)", {"type": "string"}),
        _q("hours", "HH:MM-HH:MM", {"type": "string"}),
    ]


def paths(category_slugs: Sequence[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 path items of webmap's and moderation's ``/api/v1`` operations."""
    filters = filter_parameters(category_slugs)
    geojson = {"application/geo+json": {"schema": {
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"const": "FeatureCollection"},
                       "features": {"type": "array"}}}}}
    calendar = {"text/calendar": {"schema": {"type": "string"}}}
    feature_id = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    return {
        "/api/v1/features": {"get": {
            "operationId": "listFeatures",
            "summary": "Published features as GeoJSON, filtered (live: events that are "
                       "over are left out unless the window asks for the past)",
            "parameters": [
                _q("bbox", "west,south,east,north in degrees", {"type": "string"}),
                *filters,
                _q("near", "lon,lat: nearest first", {"type": "string"}),
                _q("limit", "page size", {"type": "integer", "minimum": 1,
                                          "maximum": 10000}),
                _q("offset", "items skipped", {"type": "integer", "minimum": 0})],
            "responses": {"200": {"description": "a page of features", "content": geojson},
                          **_common()}}},
        "/api/v1/events.ics": {"get": {
            "operationId": "eventsCalendar",
            "summary": "Upcoming approved events as iCalendar (RFC 5545)",
            "parameters": [_q("category", "category slugs, comma-separated",
                              {"type": "string"}),
                           _q("area", "an area code, of any of the city's levels (as "
                                      "listed at /ogc/collections/areas/items)",
                              {"type": "string"}),
                           _q("lang", "fr or en", {"type": "string"})],
            "responses": {"200": {"description": "the calendar", "content": calendar},
                          **_common()}}},
        "/api/v1/features/{raw_id}.ics": {"get": {
            "operationId": "featureCalendar",
            "summary": "One published event as iCalendar",
            "parameters": [_path_param("raw_id", {"type": "string"}),
                           _q("lang", "fr or en", {"type": "string"})],
            "responses": {"200": {"description": "the event", "content": calendar},
                          "404": _problem("no published event has this id"),
                          **_common()}}},
        "/api/v1/search": {"get": {
            "operationId": "search",
            "summary": "Published features, areas and addresses matching q",
            "description": ("Each feature lists its areas, first level first, with the "
                            "level's slug and word as the city configures them. The keys "
                            "arrondissement, arrondissement_name and quartier_name are "
                            "deprecated: they hold the first level's code and name and the "
                            "second level's name, whatever the city calls its levels; read "
                            "areas instead."),
            "parameters": [_q("q", "what to look for (at most 100 characters)",
                              {"type": "string"}),
                           _q("near", "lon,lat: nearest features first",
                              {"type": "string"}),
                           _q("lang", "fr or en", {"type": "string"})],
            "responses": {"200": {"description": "matches", "content": {
                "application/json": {"schema": SEARCH_ANSWER}}}, **_common()}}},
        "/api/v1/walk": {"get": {
            "operationId": "walk",
            "summary": "An ordered walk from a point through matching places",
            "parameters": [
                _q("lon", "start longitude", {"type": "number"}, required=True),
                _q("lat", "start latitude", {"type": "number"}, required=True),
                _q("minutes", "time available", {"type": "number"}),
                _q("speed", "walking speed, km/h", {"type": "number"}), *filters],
            "responses": {"200": {"description": "the walk", "content": {
                "application/json": {"schema": {"type": "object"}}}}, **_common()}}},
        "/api/v1/changes": {"get": {
            "operationId": "changes",
            "summary": "The change feed of published features (cursor-paged)",
            "description": ("Entries are created, changed or removed; a changed entry with "
                            "reason photo_removed (or photo_added) is one photo taken down "
                            "(or put back) by a moderator: its photos are the list now. "
                            "A removed entry with reason removed-at-source left the "
                            "partner or open-data source it was imported from."),
            "parameters": [_q("since", "RFC 3339 date-time", {"type": "string"}),
                           _q("cursor", "the next page's cursor", {"type": "string"}),
                           _q("limit", "page size", {"type": "integer", "minimum": 1})],
            "responses": {"200": {"description": "changes", "content": {
                "application/json": {"schema": {"type": "object"}}}},
                **_common(schema="FieldProblem")}}},
        "/api/v1/features/{feature_id}/flags": {"post": {
            "operationId": "flagFeature",
            "summary": "Flag a published feature (one flag per client and feature)",
            "parameters": [_path_param("feature_id", feature_id)],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"],
                "properties": {"reason": {"type": "string"},
                               "comment": {"type": "string", "maxLength": 500}}}}}},
            "responses": {
                "201": {"description": "flag recorded", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                "200": {"description": "this client had flagged it already", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                "404": _problem("no published feature has this id"),
                "415": _problem("not application/json"),
                "429": {**_problem("too many flags from this client"),
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                **_common(bad="the body or a field is wrong (named in errors)",
                          schema="FieldProblem")}}},
        "/api/v1/features/{feature_id}/corrections": {"post": {
            "operationId": "correctFeature",
            "summary": "Suggest a change to a published feature, or report it closed",
            "parameters": [_path_param("feature_id", feature_id)],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object"}}}},
            "responses": {
                "201": {"description": "kept and queued for moderation", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                "200": {"description": "a retry: the first answer again", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                "404": _problem("no published feature has this id"),
                "409": _problem("a retry while the first request is still processed"),
                "413": _problem("body too large"),
                "415": _problem("not application/json"),
                "422": _problem("fields refused; each named by a JSON pointer"),
                "429": {**_problem("too many submissions from this client"),
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                **_common(bad="not JSON, not UTF-8, NaN/Infinity, too deep")}}},
        "/api/v1/subscriptions/unsubscribe/{token}": {"post": {
            "operationId": "unsubscribeOneClick",
            "summary": "RFC 8058 one-click unsubscribe (List-Unsubscribe-Post)",
            "parameters": [_path_param("token", {"type": "string"})],
            "responses": {"200": {"description": "unsubscribed", "content": {
                "text/plain": {"schema": {"type": "string"}}}},
                "404": {"description": "invalid link", "content": {
                    "text/plain": {"schema": {"type": "string"}}}},
                **_common()}}},
    }


def complete(doc: dict[str, Any], category_slugs: Sequence[str]) -> dict[str, Any]:
    """``doc`` (ingestion's document) with these paths added.

    Every operation also gets the statuses any request can meet (414, 503).
    """
    doc["paths"].update(paths(category_slugs))
    for path, item in _REGISTERED.items():
        doc["paths"].setdefault(path, {}).update(item)
    doc.setdefault("components", {}).setdefault("schemas", {})["FieldProblem"] = FIELD_PROBLEM
    common = _common()
    for item in doc["paths"].values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status in ("414", "503"):
                responses.setdefault(status, common[status])
    doc["info"]["title"] = "Carte citoyenne – public API"
    return doc
