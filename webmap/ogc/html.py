"""HTML views of the OGC API (the ``html`` conformance class): plain, escaped, script-free.

The templates live here as strings in one autoescaping Jinja environment so that the
pages need no package data and every value — titles and descriptions come from
residents — is escaped for HTML. The pages load nothing (no script, no style sheet
from anywhere), so they pass the app's Content-Security-Policy as they are.
"""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape

__all__ = ["render", "render_string"]

_BASE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}OGC API{% endblock %} – Carte citoyenne</title>
<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:1rem auto;padding:0 1rem;
line-height:1.4}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;
text-align:left;vertical-align:top}nav a{margin-right:1rem}</style></head>
<body><nav aria-label="OGC API"><a href="{{ root }}">OGC API</a>
<a href="{{ root }}collections?f=html">Collections</a>
<a href="{{ root }}conformance?f=html">Conformance</a>
<a href="{{ root }}api?f=html">API</a>
<a href="/data/">Téléchargements / Downloads</a></nav>
<main>{% block main %}{% endblock %}</main>
{% block json %}{% if json_href %}<p><a href="{{ json_href }}">JSON</a></p>{% endif %}{% endblock %}
</body></html>"""

_LINKS = """{% macro links(items) %}<ul>{% for l in items %}
<li><a href="{{ l.href }}" rel="{{ l.rel }}">{{ l.title or l.rel }}</a>
 <small>({{ l.type }})</small></li>{% endfor %}</ul>{% endmacro %}"""

TEMPLATES = {
    "base": _BASE,
    "macros": _LINKS,
    "landing": """{% extends "base" %}{% import "macros" as m %}
{% block title %}{{ doc.title }}{% endblock %}
{% block main %}<h1>{{ doc.title }}</h1><p>{{ doc.description }}</p>
{{ m.links(doc.links) }}{% endblock %}""",
    "conformance": """{% extends "base" %}{% block title %}Conformance{% endblock %}
{% block main %}<h1>Conformance</h1><ul>{% for c in doc.conformsTo %}
<li>{{ c }}</li>{% endfor %}</ul>{% endblock %}""",
    "collections": """{% extends "base" %}{% block title %}Collections{% endblock %}
{% block main %}<h1>Collections</h1><table><thead><tr><th>Collection</th><th>Description</th>
<th>Items</th></tr></thead><tbody>{% for c in doc.collections %}<tr>
<td><a href="{{ root }}collections/{{ c.id|urlencode }}?f=html">{{ c.title }}</a></td>
<td>{{ c.description }}</td>
<td><a href="{{ root }}collections/{{ c.id|urlencode }}/items?f=html">{{ c.id }}</a></td>
</tr>{% endfor %}</tbody></table><p>{{ doc.collections[0].attribution if doc.collections }}</p>
{% endblock %}""",
    "collection": """{% extends "base" %}{% import "macros" as m %}
{% block title %}{{ doc.title }}{% endblock %}
{% block main %}<h1>{{ doc.title }}</h1><p>{{ doc.description }}</p>
{% if doc.extent %}<p>Extent (CRS84): {{ doc.extent.spatial.bbox[0]|join(", ") }}</p>{% endif %}
<p><a href="{{ root }}collections/{{ doc.id|urlencode }}/items?f=html">Browse the items</a></p>
<p>{{ doc.attribution }}</p>{{ m.links(doc.links) }}{% endblock %}""",
    "items": """{% extends "base" %}{% block title %}{{ cid }}: items{% endblock %}
{% block main %}<h1>Items of {{ cid }}</h1>
<p>{{ doc.numberReturned }} items{% if doc.numberMatched is defined %} of
{{ doc.numberMatched }}{% endif %}, from number {{ offset + 1 }}.</p>
<table><thead><tr><th>id</th><th>Title</th><th>Category</th><th>Starts</th><th>Ends</th>
<th>Position</th></tr></thead><tbody>{% for f in doc.features %}<tr>
<td><a href="{{ root }}collections/{{ cid|urlencode }}/items/{{ f.id|string|urlencode }}?f=html">
{{ f.id }}</a></td>
<td>{{ f.properties.title or f.properties.name }}</td>
<td>{{ f.properties.category or f.properties.kind }}</td>
<td>{{ f.properties.starts_at or "" }}</td><td>{{ f.properties.ends_at or "" }}</td>
<td>{% if f.geometry.type == "Point" %}{{ f.geometry.coordinates|join(", ") }}{% endif %}</td>
</tr>{% endfor %}</tbody></table>
<p>{% for l in doc.links if l.rel in ("prev", "next") %}
<a href="{{ l.href }}" rel="{{ l.rel }}">{{ l.title }}</a> {% endfor %}</p>{% endblock %}""",
    "item": """{% extends "base" %}{% block title %}{{ cid }} {{ doc.id }}{% endblock %}
{% block main %}<h1>{{ doc.properties.title or doc.properties.name }}</h1>
<table><tbody>{% for k, v in doc.properties.items() %}<tr><th scope="row">{{ k }}</th>
<td>{% if k == "photos" and v %}{% for ph in v %}<figure>
<a href="{{ ph.url }}"><img src="{{ ph.thumbnail_url }}" alt="{{ ph.alt }}" loading="lazy"
width="{{ ph.width }}" height="{{ ph.height }}" style="height:120px;width:auto"></a>
<figcaption>{{ "© " if ph.licence != "CC0-1.0" }}{{ ph.author or "" }} {{ ph.licence }}
</figcaption></figure>{% endfor %}
{% elif v is mapping or (v is sequence and v is not string) %}{{ v|tojson }}
{% else %}{{ v if v is not none else "" }}{% endif %}
</td></tr>{% endfor %}
{% if doc.geometry.type == "Point" %}<tr><th scope="row">lon, lat</th>
<td>{{ doc.geometry.coordinates|join(", ") }}</td></tr>{% endif %}</tbody></table>
<p><a href="{{ root }}collections/{{ cid|urlencode }}/items?f=html">All items</a></p>
{% endblock %}""",
    "openapi": """{% extends "base" %}{% block title %}API{% endblock %}
{% block main %}<h1>{{ doc.info.title }}</h1><p>{{ doc.info.description }}</p>
<p>OpenAPI {{ doc.openapi }}: <a href="{{ root }}api?f=json">JSON</a></p>
<table><thead><tr><th>Path</th><th>Summary</th><th>Parameters</th></tr></thead><tbody>
{% for path, ops in doc.paths.items() %}<tr><td>GET {{ path }}</td>
<td>{{ ops.get.summary }}</td><td>{% for p in ops.get.parameters or [] %}
{{ p.name or p["$ref"].rsplit("/", 1)[-1] }}{{ ", " if not loop.last }}{% endfor %}</td></tr>
{% endfor %}</tbody></table>{% endblock %}""",
}

_env = Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context: Any) -> str:
    """Render one of :data:`TEMPLATES` (every value escaped)."""
    from flask import url_for

    context.setdefault("root", url_for("ogc.landing"))
    context.setdefault("json_href", None)
    return _env.get_template(template).render(**context)


def render_string(source: str, **context: Any) -> str:
    """Render a template given as a string, with the same escaping."""
    return _env.from_string(source).render(**context)
