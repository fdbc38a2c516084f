"""Partner sources over HTTP: a GeoJSON file or an OGC API – Features collection by URL.

The city's "network of existing actions" publishes its layers as GeoJSON files or OGC
API collections. :func:`import_url` fetches every feature (following the OGC ``next``
links page by page), writes them as one GeoJSON file and hands it to the ordinary
importer (:func:`ingestion.importer.run_import`): the same validation, duplicate
check and stable references, so a scheduled re-run adds nothing new. Each feature's
``id`` is kept as its reference; the collection's attribution and licence are kept
with every published feature.

The transport is injected (``fetch``: URL -> bytes) so tests can serve pages
themselves; the default uses urllib with a timeout and a size cap, ``http(s)`` only,
and never follows a ``next`` link to another host.
"""

from __future__ import annotations

import json
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from .errors import BadSourceFile
from .importer import ImportSummary, run_import

__all__ = ["Fetch", "PartnerFeatures", "fetch_features", "import_url", "urllib_fetch"]

Fetch = Callable[[str], bytes]
MAX_BYTES = 256 * 1024 * 1024  # per document
MAX_PAGES = 10_000
PAGE_LIMIT = 1000
GEOJSON_TYPES = ("application/geo+json", "application/json")


def urllib_fetch(url: str, *, timeout: float = 30.0, max_bytes: int = MAX_BYTES) -> bytes:
    """GET ``url`` (http or https only), asking for GeoJSON; at most ``max_bytes``."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise BadSourceFile(f"{url}: only http and https URLs can be imported")
    request = urllib.request.Request(url, headers={  # noqa: S310 (scheme checked above)
        "Accept": "application/geo+json, application/json;q=0.9",
        "User-Agent": "carte-citoyenne-import/1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(max_bytes + 1)
    except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
        raise BadSourceFile(f"{url}: cannot be fetched ({exc})") from exc
    if len(body) > max_bytes:
        raise BadSourceFile(f"{url}: larger than {max_bytes} bytes")
    return body


@dataclass
class PartnerFeatures:
    """What a source gave: its features, and what to credit it with."""

    features: list[dict[str, Any]]
    attribution: str | None
    licence: str | None
    pages: int


def _json(fetch: Fetch, url: str) -> Any:
    try:
        return json.loads(fetch(url))
    except ValueError as exc:
        raise BadSourceFile(f"{url}: not JSON ({exc})") from exc


def _link(doc: dict[str, Any], rel: str, base: str) -> str | None:
    for link in doc.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == rel and link.get("href") and \
                (link.get("type") in (None, *GEOJSON_TYPES) or rel == "license"):
            return urllib.parse.urljoin(base, str(link["href"]))
    return None


def _with_limit(url: str, limit: int) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.setdefault("limit", str(limit))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def fetch_features(url: str, *, fetch: Fetch = urllib_fetch,
                   page_limit: int = PAGE_LIMIT) -> PartnerFeatures:
    """Every feature behind ``url``: a GeoJSON file, an OGC collection or its items.

    Raises
    ------
    BadSourceFile
        Unreachable, not JSON, not features, too many pages, or a ``next`` link that
        leaves the source's host.
    """
    doc = _json(fetch, url)
    if not isinstance(doc, dict):
        raise BadSourceFile(f"{url}: not a GeoJSON object")
    attribution = doc.get("attribution") if isinstance(doc.get("attribution"), str) else None
    licence = _link(doc, "license", url)
    if doc.get("type") != "FeatureCollection":
        items = _link(doc, "items", url)  # an OGC collection document
        if items is None:
            raise BadSourceFile(f"{url}: neither a FeatureCollection nor an OGC collection")
        url = _with_limit(items, page_limit)
        doc = _json(fetch, url)
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise BadSourceFile(f"{url}: the collection's items are not a FeatureCollection")
    host = urllib.parse.urlsplit(url).netloc
    features: list[dict[str, Any]] = []
    pages, seen = 0, {url}
    while True:
        pages += 1
        page = doc.get("features")
        if not isinstance(page, list):
            raise BadSourceFile(f"{url}: 'features' is not a list")
        features.extend(f for f in page if isinstance(f, dict))
        nxt = _link(doc, "next", url)
        if nxt is None or not page:
            break
        if urllib.parse.urlsplit(nxt).netloc != host:
            raise BadSourceFile(f"{url}: the next page is on another host ({nxt})")
        if nxt in seen or pages >= MAX_PAGES:
            raise BadSourceFile(f"{url}: paging does not end (page {pages})")
        seen.add(nxt)
        url = nxt
        doc = _json(fetch, url)
        if not isinstance(doc, dict):
            raise BadSourceFile(f"{url}: not a GeoJSON object")
    for feature in features:  # the feature's id is its stable reference across runs
        props = feature.get("properties")
        if not isinstance(props, dict):
            feature["properties"] = props = {}
        if feature.get("id") is not None and props.get("id") is None:
            props["id"] = feature["id"]
    return PartnerFeatures(features, attribution, licence, pages)


def import_url(url: str, *, session: Session, source: str, fetch: Fetch = urllib_fetch,
               attribution: str | None = None, page_limit: int = PAGE_LIMIT,
               **options: Any) -> ImportSummary:
    """Import every feature behind ``url`` through :func:`run_import` (same options).

    ``attribution`` defaults to the source's own (its ``attribution`` member) followed
    by its licence link, so that every published feature credits it.
    """
    got = fetch_features(url, fetch=fetch, page_limit=page_limit)
    credit = attribution or " — ".join(x for x in (got.attribution, got.licence) if x) or None
    with tempfile.TemporaryDirectory(prefix="carte-partner-") as tmp:
        path = Path(tmp) / "partner.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": got.features},
                                   ensure_ascii=False), encoding="utf-8")
        summary = run_import(path, session=session, source=source, attribution=credit,
                             file_name=url[:1000],
                             **options)
    summary.file = url
    return summary
