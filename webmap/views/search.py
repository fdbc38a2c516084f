"""Search that forgives: our places and the city's areas, however the name is typed.

"Buttes-Chaumont", "buttes chaumont", "Buttes Chaumont Paris 19" and "butte" all find
the park: the query is folded (case, accents, hyphens and apostrophes), "paris",
"de", "la"... are left out, an area named by the city's aliases (``areas.levels[].aliases``
of its ``city.json``: Paris's "19e", "75019", "paris 19") narrows the results, and each
remaining word must start a word of the title. PostgreSQL answers
with a case-insensitive regular expression per word in which every vowel and ``c``
stands for its accented forms (``ch[aàâä]um[oôö]nt``); the trigram index on titles
(migration ``0002_ingestion``) serves these expressions, so a million features are
not scanned.

Results whose titles read the same are told apart by their first-level area and
category ("Jardin partagé — 11e arr., Jardin partagé ou comestible": the level's word
shortened as its ``short_names`` say), and titles that start with what was typed come
first.

**By type as well as by name**: a word may also name the kind of place, in French or
English ("piscine", "swimming pool", "toilettes", "bibliothèque", "library", "wifi",
"mairie du 11e", "douches"): a word matches a category when it starts a word of the
category's labels or of :data:`TYPE_WORDS` (what residents type that the labels do not
say: "wc", "loo", "médiathèque", "shower"). Each word must then start a word of the
title *or* name the feature's category; the category index serves the second half.
With ``near`` (the map's centre) the nearest results come first, so "toilettes" lists
the toilets around the resident rather than the first ones by name.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.events import city_zone, live_sql, local_midnight
from geo.geocode import STOP_WORDS, fold, parse_query, shortcuts_of

__all__ = ["TYPE_WORDS", "area_keys", "categories_named", "search_areas",
           "search_features", "type_vocabulary", "word_pattern"]

# Words for a kind of place the category labels do not hold (folded, singular).
TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "toilettes": ("wc", "sanisette", "sanisettes", "toilet", "toilets", "loo", "restroom",
                  "restrooms", "urinoir", "lavatory"),
    "bibliotheque": ("mediatheque", "mediatheques", "bibliotheques", "libraries", "books",
                     "livres"),
    "piscine": ("piscines", "pools", "swim", "swimming", "baignade", "nager", "natation"),
    "mairie": ("mairies", "hall", "townhall", "civil"),
    "bains-douches": ("douche", "douches", "shower", "showers", "bath", "baths"),
    "wifi": ("wifi", "wi", "fi", "internet", "hotspot", "hotspots"),
    "fontaine": ("eau", "water", "boire", "drink", "drinking"),
    "marche": ("marches", "market", "markets"),
    "service-municipal": ("mvac", "anim"),
}
TYPE_MIN = 3  # a shorter typed word ("pi") names no kind of place

_ACCENTS = {"a": "[aàâäáã]", "e": "[eéèêë]", "i": "[iîïí]", "o": "[oôöó]",
            "u": "[uùûüú]", "c": "[cç]", "y": "[yÿ]", "n": "[nñ]"}
CANDIDATES = 60  # rows read to rank; the answer keeps the best few


def word_pattern(word: str) -> str:
    r"""A PostgreSQL regular expression matching a title word that starts with ``word``.

    ``word`` is folded (``[a-z0-9]`` only), so nothing in it is a regex operator.

    >>> word_pattern("cafe")
    '\\m[cç][aàâäáã]f[eéèêë]'
    """
    return r"\m" + "".join(_ACCENTS.get(ch, ch) for ch in word)


def _words(q: str) -> tuple[list[str], str | None]:
    """The query's words, and the code of an area it names by the city's aliases."""
    from ..city import current_city

    query = parse_query(q, shortcuts_of(current_city()))
    words = [w for w in query.words if w not in STOP_WORDS]
    if query.number is not None:  # "10 rue ..." is an address; a title may hold numbers
        words = [query.number.split()[0], *words]
    return words, query.area


def _short_area_name(name: str | None, lang: str) -> str:
    """A first-level area's name, its level's word abbreviated as the city says ("11e arr.")."""
    from ..city import current_city

    levels = current_city().levels
    return levels[0].shorten(name or "", lang) if levels else (name or "")


def type_vocabulary(session: Session) -> dict[str, frozenset[str]]:
    """Category slug -> the folded words that name it (labels fr/en and :data:`TYPE_WORDS`)."""
    rows = session.execute(text(
        "SELECT slug, label_fr, label_en FROM category WHERE active")).all()
    out = {}
    for slug, fr, en in rows:
        said = {w for w in fold(f"{fr} {en}").split() if len(w) >= TYPE_MIN}  # not "ou"
        said |= set(TYPE_WORDS.get(slug, ()))  # "wc", "wi fi" on purpose
        out[slug] = frozenset(w for w in said if w not in STOP_WORDS)
    return out


def categories_named(word: str, vocabulary: dict[str, frozenset[str]]) -> list[str]:
    """The categories a typed word names (it starts one of their words).

    >>> categories_named("pisc", {"piscine": frozenset({"piscine", "pool"})})
    ['piscine']
    """
    if len(word) < TYPE_MIN:  # "wc", "wi fi": only a whole word
        return sorted(slug for slug, said in vocabulary.items() if word in said)
    return sorted(slug for slug, said in vocabulary.items()
                  if any(w.startswith(word) for w in said))


def search_features(session: Session, q: str, *, lang: str, limit: int,
                    near: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    """Published, live features whose title or category holds every word of ``q``.

    Each word must start a word of the title or name the feature's category
    (:func:`categories_named`). Each result carries its first-level area and category
    label; when several results have the same title, ``label`` adds what tells them
    apart. ``near`` (lon, lat): nearest first.
    """
    words, area_code = _words(q)
    if not words:
        return []
    now = datetime.now(UTC)
    params: dict[str, Any] = {"live_from": now,
                              "live_day": local_midnight(now, city_zone()),
                              "limit": CANDIDATES}
    clauses = ["f.status = 'published'", live_sql("f")]
    vocabulary = type_vocabulary(session)
    kinds: set[str] = set()
    for i, word in enumerate(words):
        params[f"w{i}"] = word_pattern(word)
        named = categories_named(word, vocabulary)
        if named:
            clauses.append(f"(f.title ~* :w{i} OR f.category = ANY(:c{i}))")
            params[f"c{i}"] = named
            kinds.update(named)
        else:
            clauses.append(f"f.title ~* :w{i}")
    if area_code is not None:  # the code of an area of any level (its aliases)
        clauses.append("f.area_ids @> ARRAY[(SELECT id FROM area WHERE code = :arr)]")
        params["arr"] = area_code
    params["start"] = "^" + word_pattern(words[0])[2:]
    order = "(f.title ~* :start) DESC, length(f.title), f.id"
    if near is not None:
        order = ("f.geom::geography <-> ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326)"
                 "::geography, f.id")  # true metres
        params["near_lon"], params["near_lat"] = near
    if kinds:  # "mairie": the town halls before a "Place de la Mairie"
        order = f"(f.category = ANY(:kinds)) DESC, {order}"
        params["kinds"] = sorted(kinds)
    # Only fixed clauses with bound parameters are joined in: no value enters the text.
    rows = session.execute(text(f"""
        SELECT f.id, f.title, f.category, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat,
               ar.areas, c.label_fr, c.label_en
        FROM feature f
        JOIN category c ON c.slug = f.category
        LEFT JOIN LATERAL (
          SELECT json_agg(json_build_array(a.depth, a.kind::text, a.code, a.name)
                          ORDER BY a.depth) AS areas
          FROM area a WHERE a.id = ANY(f.area_ids) AND a.depth >= 1) ar ON true
        WHERE {' AND '.join(clauses)}
        ORDER BY {order}
        LIMIT :limit"""), params).all()  # noqa: S608
    typed = " ".join(words)

    def rank(row: Any) -> tuple[int, int, int, int]:
        title = " ".join(w for w in fold(row.title).split() if w not in STOP_WORDS)
        return (0 if row.category in kinds or not kinds else 1,
                0 if title.startswith(typed) else 1 if title.startswith(words[0]) else 2,
                len(row.title), row.id)

    def whole_name(row: Any) -> tuple[int, int]:  # its own name typed: first even when near
        title = " ".join(w for w in fold(row.title).split() if w not in STOP_WORDS)
        return (0 if title.startswith(typed) and len(words) > 1 else 1,
                0 if row.category in kinds or not kinds else 1)

    best = sorted(rows, key=rank)[:limit] if near is None else \
        sorted(rows, key=whole_name)[:limit]  # rows come nearest first
    out = [{"id": r.id, "title": r.title, "category": r.category, "lon": r.lon,
            "lat": r.lat, **area_keys(r.areas or [], lang),
            "category_label": r.label_en if lang == "en" else r.label_fr,
            "label": r.title} for r in best]
    _tell_apart(out, lang)
    return out


def area_keys(rows: list[list[Any]], lang: str) -> dict[str, Any]:
    """A result's areas, the generic list and the older Paris-named keys.

    ``rows``: ``[depth, level slug, code, name]`` of each of the feature's areas, first
    level first. ``areas`` lists them as ``{level, level_label, code, name}``: ``level``
    the level's slug of the city's ``city.json`` (Paris: ``arrondissement``,
    ``quartier``; a one-level city: its one slug), ``level_label`` the level's word in
    ``lang``. The keys ``arrondissement`` (code) and ``arrondissement_name`` (the first
    level's) and ``quartier_name`` (the second level's) stay for the search answer's
    existing consumers, whatever the city calls its levels (deprecated in the OpenAPI
    document; ``null`` when the city has no such level or the point none).
    """
    from ..city import current_city

    city = current_city()
    areas = []
    by_depth: dict[int, dict[str, Any]] = {}
    for depth, slug, code, name in rows:
        try:
            label = city.level(slug).label(lang) or slug
        except KeyError:  # an area of a level the city no longer configures
            label = slug
        area = {"level": slug, "level_label": label, "code": code, "name": name}
        areas.append(area)
        by_depth.setdefault(int(depth), area)
    first, second = by_depth.get(1, {}), by_depth.get(2, {})
    return {"areas": areas, "arrondissement": first.get("code"),
            "arrondissement_name": first.get("name"), "quartier_name": second.get("name")}


def _tell_apart(results: list[dict[str, Any]], lang: str) -> None:
    """Add the first-level area, category, then second-level area to twin titles.

    Read from the result's ``areas`` (first level first), whatever the city calls them.
    """
    same = Counter(fold(r["title"]) for r in results)
    for r in results:
        first = r["areas"][0]["name"] if r["areas"] else None
        if same[fold(r["title"])] > 1:
            r["label"] = f"{r['title']} — {_short_area_name(first, lang)}" \
                         f", {r['category_label']}" if first \
                else f"{r['title']} — {r['category_label']}"
    again = Counter(r["label"] for r in results)
    for r in results:
        second = r["areas"][1]["name"] if len(r["areas"]) > 1 else None
        if again[r["label"]] > 1 and second:
            r["label"] = f"{r['label']} ({second})"


def search_areas(session: Session, q: str, *, limit: int,
                 lang: str | None = None) -> list[dict[str, Any]]:
    """The city's areas (any level) named like ``q`` (folded), or the one it designates.

    The city's aliases designate an area (Paris: "19e", "75019" or "Paris 19" give the
    19th arrondissement); "folie mericourt" the quartier; an area's code its area. Each
    carries its ``level`` (the level's slug, also under the older key ``kind``) and
    ``level_label``, the level's word in ``lang`` (default: the city's language).
    """
    from ..city import current_city

    city = current_city()
    words, area_code = _words(q)
    clauses, params = [], {"limit": limit, "code": q.strip()}
    for i, word in enumerate(words):
        clauses.append(f"name ~* :w{i}")
        params[f"w{i}"] = word_pattern(word)
    conditions = ["code = :code"]
    if clauses:
        conditions.append("(" + " AND ".join(clauses) + ")")
    if area_code is not None and not words:  # "19e", "75019": the city's aliases
        conditions.append("code = :arr")
        params["arr"] = area_code
    rows = session.execute(text(f"""
        SELECT code, name, kind::text AS kind,
               ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat,
               ST_XMin(geom) AS w, ST_YMin(geom) AS s, ST_XMax(geom) AS e, ST_YMax(geom) AS n
        FROM area
        WHERE kind <> 'city' AND ({' OR '.join(conditions)})
        ORDER BY depth, name
        LIMIT :limit"""), params).all()  # noqa: S608 - fixed clauses, bound values
    def label(slug: str) -> str:
        try:
            return city.level(slug).label(lang or city.default_language) or slug
        except KeyError:  # a level the city no longer configures
            return slug

    return [{"code": r.code, "name": r.name, "kind": r.kind, "level": r.kind,
             "level_label": label(r.kind), "lon": r.lon, "lat": r.lat,
             "bbox": [r.w, r.s, r.e, r.n]} for r in rows]
