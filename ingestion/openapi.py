"""The OpenAPI 3.1 document of the ingestion endpoints, served at ``/api/v1/openapi.json``.

Built from plain dicts (JSON Schema 2020-12, which OpenAPI 3.1 uses as is) with the
live category slugs, so the document and the validator cannot disagree on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["openapi_document"]

_PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "submission_id": {"type": "integer",
                          "description": "the refused submission, kept with its errors"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["pointer", "code", "detail"],
            "properties": {"pointer": {"type": "string", "description": "RFC 6901 JSON pointer"},
                           "code": {"type": "string"}, "detail": {"type": "string"}}}},
    },
}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def openapi_document(category_slugs: Iterable[str], *, server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 description of the submission, tracking and category endpoints."""
    slot = {"type": "object", "required": ["day", "from", "to"], "properties": {
        "day": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "from": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        "to": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"}}}
    submission = {
        "type": "object",
        "required": ["lon", "lat", "title", "category"],
        "additionalProperties": False,
        "properties": {
            "lon": {"type": "number", "minimum": -180, "maximum": 180,
                    "description": "WGS84 longitude; must lie in the service area"},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "title": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string", "maxLength": 2000},
            "category": {"type": "string", "enum": sorted(category_slugs)},
            "starts_at": {"type": "string", "format": "date-time",
                          "description": "with a time zone; required for events"},
            "ends_at": {"type": "string", "format": "date-time"},
            "email": {"type": "string", "format": "email", "maxLength": 254,
                      "description": "private: never published"},
            "not_duplicate_of": {"type": "array", "maxItems": 20,
                                 "items": {"type": "integer", "minimum": 1},
                                 "description": "ids of the nearby items the resident was "
                                                "shown and said theirs is different from"},
            "attributes": {"type": "object", "description":
                           "fields of the category (see /api/v1/categories); "
                           "audiences and accessibility are lists",
                           "properties": {"availability": {"type": "array", "items": slot},
                                          "audiences": {"type": "array",
                                                        "items": {"type": "string"}},
                                          "accessibility": {"type": "array",
                                                            "items": {"type": "string"}}}},
        },
    }
    status = {"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "integer"},
        "status": {"enum": ["received", "invalid", "pending", "approved", "refused", "merged",
                            "withdrawn"]},
        "kind": {"enum": ["submission", "correction"]},
        "history": {"type": "array", "items": {"type": "object", "properties": {
            "event": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
            "local": {"type": "string", "description": "in the city's time zone"}}}},
        "map_url": {"type": ["string", "null"], "description": "the place on the map, once "
                                                               "published"},
        "can_withdraw": {"type": "boolean"},
        "corrections": {"type": "array", "items": {"type": "object"}},
        "received_at": {"type": "string", "format": "date-time"},
        "title": {"type": ["string", "null"]},
        "category": {"type": ["string", "null"]},
        "reason": {"type": ["string", "null"], "description": "the moderator's reason"},
        "feature_id": {"type": ["integer", "null"]},
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Carte citoyenne – submissions", "version": "1.0.0",
                 "description": "Residents' and partners' contributions to the city map.",
                 "license": {"name": "AGPL-3.0-or-later",
                             "identifier": "AGPL-3.0-or-later"}},
        "servers": [{"url": server_url}],
        "paths": {
            "/api/v1/submissions": {"post": {
                "operationId": "createSubmission",
                "summary": "Drop a pin: the submission is kept, validated and queued",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "minLength": 1,
                                           "maxLength": 200},
                                "description": "retries with the same key and body get "
                                               "the first answer back"}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Submission"}}}},
                "responses": {
                    "200": {"description": "a retry with the same Idempotency-Key: "
                                           "the first answer again"},
                    "201": {"description": "queued for moderation", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["id", "status", "tracking_url"],
                            "properties": {"id": {"type": "integer"},
                                           "status": {"const": "pending"},
                                           "tracking_url": {"type": "string",
                                                            "format": "uri"}}}}}},
                    "400": _problem_response("not JSON, not UTF-8, NaN/Infinity, too deep"),
                    "409": _problem_response("a retry while the first request with this "
                                             "Idempotency-Key is still being processed"),
                    "413": _problem_response("body over 64 KiB"),
                    "415": _problem_response("not application/json"),
                    "422": _problem_response("fields refused; each named by a JSON pointer"),
                    "429": {**_problem_response("too many submissions from this client"),
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                }}},
            "/api/v1/track/{token}": {"get": {
                "operationId": "trackSubmission",
                "summary": "A submission's status and the moderator's reason",
                "parameters": [{"name": "token", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "status", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}},
                    "404": _problem_response("unknown token")}}},
            "/api/v1/submissions/nearby": {"get": {
                "operationId": "nearbySubmissions",
                "summary": "Published items of a category a new pin may duplicate",
                "parameters": [
                    {"name": "lon", "in": "query", "required": True,
                     "schema": {"type": "number", "minimum": -180, "maximum": 180}},
                    {"name": "lat", "in": "query", "required": True,
                     "schema": {"type": "number", "minimum": -90, "maximum": 90}},
                    {"name": "category", "in": "query", "required": True,
                     "schema": {"type": "string", "enum": sorted(category_slugs)}},
                    {"name": "title", "in": "query", "required": False,
                     "schema": {"type": "string", "maxLength": 200}}],
                "responses": {"200": {"description": "nearest first", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "items": {"type": "array", "items": {"type": "object", "properties": {
                            "id": {"type": "integer"}, "title": {"type": "string"},
                            "lon": {"type": "number"}, "lat": {"type": "number"},
                            "distance_m": {"type": "integer"},
                            "similarity": {"type": "number"}}}},
                        "pending": {"type": "integer", "minimum": 0, "description":
                                    "how many similar submissions nearby still await "
                                    "moderation (counted only: they are not public)"}}}}}},
                    "400": _problem_response("a parameter is missing or out of range")}}},
            "/api/v1/features/{id}/corrections": {"post": {
                "operationId": "proposeCorrection",
                "summary": "Suggest new values for a published place, or report it closed",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "additionalProperties": False,
                               "properties": {
                                   "changes": {"type": "object",
                                               "description": "field name -> new value "
                                                              "(title, description, "
                                                              "starts_at, ends_at or a "
                                                              "field of the category)"},
                                   "closed": {"type": "boolean"},
                                   "comment": {"type": "string", "maxLength": 2000},
                                   "email": {"type": "string", "format": "email"}}}}}},
                "responses": {
                    "201": {"description": "queued for moderation", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["id", "status", "tracking_url"],
                            "properties": {"id": {"type": "integer"},
                                           "status": {"const": "pending"},
                                           "tracking_url": {"type": "string",
                                                            "format": "uri"}}}}}},
                    "400": _problem_response("not JSON, not UTF-8, NaN/Infinity, too deep"),
                    "404": _problem_response("no published feature with this id"),
                    "413": _problem_response("body over 64 KiB"),
                    "415": _problem_response("not application/json"),
                    "422": _problem_response("fields refused; each named by a JSON pointer "
                                             "with a localised detail"),
                    "429": _problem_response("too many proposals from this client")}}},
            "/api/v1/categories": {"get": {
                "operationId": "listCategories",
                "summary": "Categories: slugs, labels, kinds, fields, audiences, style",
                "responses": {"200": {"description": "the active categories", "content": {
                    "application/json": {"schema": {"type": "object"}}}}}}},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {
                    "application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {"schemas": {"Submission": submission, "Status": status,
                                   "Problem": _PROBLEM}},
    }
