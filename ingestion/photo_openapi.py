"""The photo operations of the OpenAPI document (issue 19), added to ``openapi_document``.

Kept beside the photo code rather than in :mod:`ingestion.openapi`: the multipart form
of a submission or correction, ``photo_ids`` in their JSON, and the upload step.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["with_photos"]

_LICENCE = {"type": "string", "enum": ["CC-BY-SA-4.0", "CC0-1.0"], "default": "CC-BY-SA-4.0",
            "description": "the photo's licence, as credited in open data"}
_PHOTO_IDS = {"type": "array", "maxItems": 4, "items": {"type": "string", "minLength": 16,
                                                        "maxLength": 64},
              "description": "ids returned by POST /api/v1/photos: attached once, by "
                             "whoever holds them"}
_META = {"licence": _LICENCE,
         "author": {"type": "string", "maxLength": 120, "description": "name to credit"},
         "alt": {"type": "string", "maxLength": 300,
                 "description": "what the photo shows (once for all, or once per photo)"}}
_REFUSED = {"type": "array", "items": {"type": "object", "properties": {
    "position": {"type": "integer", "minimum": 1}, "name": {"type": "string"},
    "code": {"enum": ["not_an_image", "unsupported_format", "polyglot", "truncated",
                      "too_large", "too_many_pixels", "too_many_photos", "unknown_photo",
                      "bad_field"]},
    "detail": {"type": "string", "description": "in the resident's language"}}}}

_TRACKED = {"type": "array", "description": "the photos sent with the item, as the "
            "resident sees them (the tracking answer is private)", "items": {
    "type": "object", "required": ["position", "status", "state", "label"], "properties": {
        "position": {"type": "integer", "minimum": 1},
        "name": {"type": ["string", "null"], "description": "the file's name as sent"},
        "status": {"enum": ["quarantined", "ready", "refused", "hidden", "removed"]},
        "state": {"enum": ["published", "pending", "processing", "not_published", "hidden",
                           "removed", "refused"],
                  "description": "its fate: on the map, waiting with its item, not "
                                 "published with it, or a moderator's or the upload's "
                                 "refusal"},
        "label": {"type": "string", "description": "the state in words, with the reason, "
                                                   "in the resident's language"},
        "reason": {"type": "string", "description": "why it was refused at upload, or the "
                                                    "moderator's reason for hiding or "
                                                    "removing it"},
        "url": {"type": "string", "description": "published only: the display size"},
        "thumbnail_url": {"type": "string", "description": "published only"}}}}


def _problem(description: str, retry: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if retry:
        out["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return out


def _multipart(json_part: str, max_per_item: int) -> dict[str, Any]:
    return {"schema": {"type": "object", "properties": {
        json_part: {"type": "string", "contentMediaType": "application/json",
                    "description": "the JSON body (or, for a submission, the same fields "
                                   "as form fields)"},
        "photos": {"type": "array", "maxItems": max_per_item,
                   "items": {"type": "string", "contentMediaType": "image/*"},
                   "description": "JPEG, PNG or WebP files"},
        **_META}}}


def with_photos(doc: dict[str, Any], *, max_per_item: int = 4) -> dict[str, Any]:
    """``doc`` with photos: multipart bodies, ``photo_ids``, ``POST /api/v1/photos``.

    ``max_per_item`` is ``PHOTO_MAX_PER_ITEM``: the document states the server's limit.
    """
    doc = copy.deepcopy(doc)
    photo_ids = {**_PHOTO_IDS, "maxItems": max_per_item}
    paths = doc["paths"]
    schemas = doc["components"]["schemas"]
    schemas["Submission"]["properties"]["photo_ids"] = photo_ids
    for path, part in (("/api/v1/submissions", "submission"),
                       ("/api/v1/features/{id}/corrections", "correction")):
        op = paths[path]["post"]
        op["requestBody"]["content"]["multipart/form-data"] = _multipart(part, max_per_item)
        json_schema = op["requestBody"]["content"]["application/json"]["schema"]
        if "properties" in json_schema:
            json_schema["properties"]["photo_ids"] = photo_ids
        op["responses"]["413"] = _problem("a JSON body over 64 KiB, or a request with "
                                          "photos over PHOTO_MAX_REQUEST_BYTES")
        op["responses"]["422"] = _problem(
            "fields refused (each named by a JSON pointer), or photos refused: the "
            "submission is kept all the same (submission_id, tracking_url) and "
            "photos_refused names each photo and why")
    paths["/api/v1/photos"] = {"post": {
        "operationId": "uploadPhoto",
        "summary": "Upload one photo ahead of its submission; its id goes in photo_ids",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["photo"], "properties": {
                "photo": {"type": "string", "contentMediaType": "image/*"}, **_META}}}}},
        "responses": {
            "201": {"description": "kept and processed", "content": {"application/json": {
                "schema": {"type": "object", "required": ["id", "width", "height",
                                                          "media_type"],
                           "properties": {"id": {"type": "string"},
                                          "width": {"type": "integer"},
                                          "height": {"type": "integer"},
                                          "media_type": {"enum": ["image/jpeg",
                                                                  "image/webp"]}}}}}},
            "400": _problem("no file part named photo"),
            "413": _problem("over PHOTO_MAX_REQUEST_BYTES"),
            "415": _problem("not multipart/form-data"),
            "422": {**_problem("the file is refused (photos_refused says why) or a field "
                               "is not valid"),
                    "x-photos-refused": _REFUSED},
            "429": _problem("too many uploads from this client", retry=True),
            "503": _problem("every decoder is busy: send it again after Retry-After",
                            retry=True)}}}
    schemas["Status"]["properties"]["photos"] = _TRACKED
    return doc
