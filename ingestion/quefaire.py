"""Events from the city's "Que faire à Paris ?" listings, shaped for the ``sortie`` category.

The city publishes its agenda (opendata.paris.fr ``que-faire-a-paris-``) as GeoJSON with
dates, the venue, price and booking, and three accessibility flags. What is taken, and
only that:

* title, ``date_start`` / ``date_end`` (an exhibition of several months is refused by
  the product's rule on event length, counted as ``too_long``), the point and the
  venue's name and address;
* ``pmr`` / ``blind`` / ``deaf``: 1 becomes a slug in ``attributes.accessibility``
  (``step_free_access``, ``braille_or_large_print``, ``hearing_loop``), 0 the same slug
  in ``accessibility_lacks``, empty says nothing. The source's flags say "accessible to
  people with reduced mobility / blind / deaf people"; our slugs are the nearest
  facilities, a choice documented in ``docs/services.md``;
* price (``gratuit`` / ``gratuit sous condition`` / ``payant``), booking (``obligatoire`` /
  ``conseillée`` / ``non``) and its link, and the event's page on paris.fr
  (``source_url``), where the organisers' own words are;
* the audience when it says "Tout public" (``everyone``) or "enfants" (``children``).

**Not taken**: ``lead_text``, ``description`` and ``date_description`` (editorial prose,
often the organisers', whose rights are not established), the cover image and its
credit, the organisers' contacts (phone, e-mail, social networks). The shipped sample
(``data/cities/paris/services/que-faire-a-paris_75018_events.sample.geojson``) has
them removed already; the mapper ignores them in a full export too.

The sample's events are past (2022–2024): it shapes and tests the import, it is not
seeded as live content (``docs/services.md``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .mapping import Mapped
from .readers import SourceRow

__all__ = ["ACCESS_FLAGS", "SOURCE", "quefaire_event"]

SOURCE = "paris-que-faire"
ACCESS_FLAGS = {"pmr": "step_free_access", "blind": "braille_or_large_print",
                "deaf": "hearing_loop"}
PRICES = {"gratuit": "free", "gratuit sous condition": "free_with_conditions",
          "payant": "paying"}
BOOKING = {"obligatoire": "required", "conseillée": "advised", "conseillee": "advised",
           "non": "none"}
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)


def _s(props: Mapping[str, Any], key: str) -> str:
    value = props.get(key)
    return "" if value is None else " ".join(str(value).split())


def _url(value: str) -> str | None:
    return value if value and len(value) <= 500 and _URL.match(value) else None


def _flag(value: Any) -> bool | None:
    if value in (1, "1", True, "true"):
        return True
    if value in (0, "0", False, "false"):
        return False
    return None


def quefaire_event(row: SourceRow) -> Mapped:
    """One event of the listings as a ``sortie`` submission (see the module's rules)."""
    p = row.props
    attrs: dict[str, Any] = {}
    venue = _s(p, "address_name")
    if venue:
        attrs["venue"] = venue[:200]
    address = " ".join(x for x in (_s(p, "address_street"), _s(p, "address_zipcode"),
                                   _s(p, "address_city")) if x)
    if address:
        attrs["address"] = address[:200]
    tags = p.get("tags")
    if isinstance(tags, list) and tags:
        attrs["event_type"] = ", ".join(str(t) for t in tags)[:200]
    price = PRICES.get(_s(p, "price_type").lower())
    if price:
        attrs["price"] = price
    booking = BOOKING.get(_s(p, "access_type").lower())
    if booking:
        attrs["booking"] = booking
    link = _url(_s(p, "access_link"))
    if link:
        attrs["booking_url"] = link
    page = _url(_s(p, "url"))
    if page:
        attrs["source_url"] = page
    has = [slug for key, slug in ACCESS_FLAGS.items() if _flag(p.get(key)) is True]
    lacks = [slug for key, slug in ACCESS_FLAGS.items() if _flag(p.get(key)) is False]
    if has:
        attrs["accessibility"] = has
    if lacks:
        attrs["accessibility_lacks"] = lacks
    audience = _s(p, "audience").lower()
    audiences = (["everyone"] if "tout public" in audience else []) + \
        (["children"] if "enfant" in audience else [])
    if audiences:
        attrs["audiences"] = audiences
    title = _s(p, "title") or venue or "Événement"
    data = {"category": "sortie", "title": title[:120], "description": "",
            "starts_at": _s(p, "date_start") or None, "ends_at": _s(p, "date_end") or None,
            "attributes": attrs}
    return data, _s(p, "id") or f"row{row.number}"
