"""``/data/``: the open-data downloads, an index (HTML and JSON) and the files themselves.

The index lists what ``carte export`` wrote (its manifest) and the tile archives the
tile pipeline keeps in ``$CARTE_VAR_DIR/tiles`` (PMTiles, MBTiles, density GeoTIFF)
when they exist. Files are served with ``ETag``, ``Last-Modified`` and HTTP ``Range``
(``send_file(conditional=True)``), which PMTiles readers and resumed downloads rely
on. Only names listed in the index are served: no path ever comes from the URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file, url_for

from opendata.exports import ATTRIBUTION, LICENCE_NAME, LICENCE_URL, read_manifest

from .ogc.html import render_string

__all__ = ["TILE_FILES", "bp", "data_files"]

bp = Blueprint("opendata", __name__, url_prefix="/data")

TILE_FILES = {
    "features.pmtiles": ("Tuiles vectorielles (PMTiles) / Vector tiles (PMTiles)",
                         "application/vnd.pmtiles", "EPSG:3857 (Web Mercator tiles)"),
    "features.mbtiles": ("Tuiles vectorielles (MBTiles) / Vector tiles (MBTiles)",
                         "application/vnd.mapbox-vector-tile+sqlite3",
                         "EPSG:3857 (Web Mercator tiles)"),
    "density.tif": ("Densité des contributions (GeoTIFF COG) / Density raster (COG)",
                    "image/tiff; application=geotiff; profile=cloud-optimized",
                    "EPSG:3857"),
}


def _stat(path: Path) -> tuple[int, str] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, datetime.fromtimestamp(st.st_mtime, UTC).isoformat()


def changes_behind(manifest: dict[str, Any]) -> dict[str | None, int] | None:
    """Features changed (published, edited, hidden, removed) since the export, by category.

    Counted against the newest ``updated_at`` the export saw (the database's own clock),
    through ``feature_updated_at_idx``; ``None`` is the total. A feature moved from one
    category to another counts for its new one. ``carte worker`` brings it back to 0.
    """
    last = (manifest.get("state") or {}).get("last_change")
    if not manifest.get("files"):
        return None
    from sqlalchemy import text

    from geo.db import get_engine

    with get_engine(current_app.config["DATABASE_URL"]).connect() as conn:
        rows = conn.execute(text(
            "SELECT category, count(*) FROM feature WHERE CAST(:last AS timestamptz) IS NULL "
            "OR updated_at > CAST(:last AS timestamptz) GROUP BY category"),
            {"last": last}).all()
    behind: dict[str | None, int] = {cat: int(n) for cat, n in rows}
    behind[None] = sum(behind.values())
    return behind


def data_files() -> dict[str, dict[str, Any]]:
    """Every downloadable file that exists now, by name, with its description and path.

    Export files carry ``built_at`` (when this file's bytes were last written: a file
    whose features did not change keeps its time across refreshes), ``checked_at``
    (when the last refresh found it current), ``refresh`` (``kept``, ``assembled``
    from cached parts, ``patched`` or ``written`` whole by the last refresh) and
    ``changes_behind`` (features of the file changed since); tile archives their file
    time.
    """
    var_dir: Path = current_app.config["VAR_DIR"]
    files: dict[str, dict[str, Any]] = {}
    manifest = read_manifest(var_dir / "data") or {"files": []}
    behind = changes_behind(manifest)
    for item in manifest["files"]:
        path = var_dir / "data" / item["name"]
        st = _stat(path)
        if st is None:
            continue
        files[item["name"]] = {
            **item, "size": st[0], "updated_at": st[1], "path": path,
            "built_at": item.get("built_at") or manifest.get("generated_at"),
            "checked_at": manifest.get("generated_at"),
            "refresh": item.get("refresh"),
            "changes_behind": None if behind is None else behind.get(item.get("category"), 0)}
    for name, (title, media, crs) in TILE_FILES.items():
        path = var_dir / "tiles" / name
        st = _stat(path)
        if st is None:
            continue
        files[name] = {
            "name": name, "format": name.rsplit(".", 1)[1], "media_type": media,
            "title": title, "description": title, "category": None, "count": None,
            "crs": crs, "size": st[0], "updated_at": st[1], "licence": LICENCE_NAME,
            "licence_url": LICENCE_URL, "attribution": ATTRIBUTION, "path": path,
            "built_at": st[1], "checked_at": None, "refresh": None, "changes_behind": None}
    return files


def _refresh(manifest: dict[str, Any] | None) -> dict[str, Any]:
    """When the exports were last brought up to date, and whether incrementally."""
    manifest = manifest or {}
    return {"generated_at": manifest.get("generated_at"),
            "incremental": manifest.get("incremental")}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in item.items() if k != "path"}
    out["url"] = url_for(".download", name=item["name"], _external=True)
    return out


@bp.get("/")
def index() -> Response:
    """What can be downloaded, under which licence (HTML, or JSON on ``?f=json``)."""
    files = [_public(f) for f in data_files().values()]
    body = {"title": "Carte citoyenne – données ouvertes / open data",
            "licence": LICENCE_NAME, "licence_url": LICENCE_URL, "attribution": ATTRIBUTION,
            "ogc_api": url_for("ogc.landing", _external=True),
            **_refresh(read_manifest(current_app.config["VAR_DIR"] / "data")),
            "files": files}
    fmt = request.args.get("f")
    if fmt not in (None, "json", "html"):
        abort(400, description="f must be json or html")
    best = request.accept_mimetypes.best_match(["text/html", "application/json"],
                                               default="text/html")
    if fmt == "json" or (fmt is None and best == "application/json"):
        response = jsonify(body)
    else:
        response = Response(render_string(_INDEX, doc=body), mimetype="text/html")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.get("/index.json")
def index_json() -> Response:
    """The index as JSON, at a stable address."""
    files = [_public(f) for f in data_files().values()]
    return jsonify({"licence": LICENCE_NAME, "licence_url": LICENCE_URL,
                    "attribution": ATTRIBUTION,
                    **_refresh(read_manifest(current_app.config["VAR_DIR"] / "data")),
                    "files": files})


@bp.get("/<name>")
def download(name: str) -> Response:
    """One file, with ETag, Last-Modified and Range support."""
    item = data_files().get(name)
    if item is None:
        abort(404, description=f"There is no file {name[:80]!r}; see /data/.")
    response = send_file(item["path"], mimetype=item["media_type"].split(";")[0],
                         conditional=True, etag=True, max_age=300, download_name=name)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = \
        "Content-Length, Content-Range, ETag, Last-Modified, Accept-Ranges"
    response.headers["Link"] = f'<{LICENCE_URL}>; rel="license"'
    return response


_INDEX = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ doc.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:72rem;margin:1rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;text-align:left}
td.n{text-align:right}</style></head><body><main>
<h1>{{ doc.title }}</h1>
<p>Licence : <a href="{{ doc.licence_url }}" rel="license">{{ doc.licence }}</a>.
{{ doc.attribution }}</p>
<p>API : <a href="{{ doc.ogc_api }}">OGC API – Features</a>,
<a href="/api/v1/features">/api/v1/features</a> (GeoJSON) ;
<a href="?f=json">cet index en JSON / this index as JSON</a>.</p>
{% if doc.generated_at %}<p>Dernière mise à jour / Last refresh : {{ doc.generated_at }}
({{ "incrémentale : seuls les fichiers modifiés sont réécrits / incremental: only "
    "changed files rewritten" if doc.incremental else "complète / full" }}).</p>
{% endif %}
{% if doc.files %}<table><thead><tr><th>Fichier / File</th><th>Description</th>
<th>Format</th><th>Objets / Features</th><th>CRS</th><th>Taille / Size</th>
<th>Construit / Built</th><th>Modifications depuis / Changes since</th></tr></thead>
<tbody>{% for f in doc.files %}<tr>
<td><a href="{{ f.url }}">{{ f.name }}</a></td><td>{{ f.title }}<br><small>
{{ f.description }}</small></td><td>{{ f.format }}</td>
<td class="n">{{ f.count if f.count is not none else "–" }}</td><td>{{ f.crs }}</td>
<td class="n">{{ "{:,}".format(f.size).replace(",", " ") }} o</td><td>{{ f.built_at }}</td>
<td class="n">{{ f.changes_behind if f.changes_behind is not none else "–" }}</td>
</tr>{% endfor %}</tbody></table>
{% else %}<p>Aucun fichier pour l'instant : <code>carte export</code> les produit. /
No file yet: <code>carte export</code> writes them.</p>{% endif %}
</main></body></html>"""
