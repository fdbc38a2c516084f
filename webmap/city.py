"""The city the running app serves, read once into ``app.config["CITY"]``.

Every web page and API that needs to know *which* city (the map's centre, the page
title, the address file of the search, the attribution, the locality of a calendar
event) reads it here, never a constant. ``CARTE_CITY`` picks the folder; the value is
loaded with ``check_files=False`` (a renamed basemap source must not stop the web
process; ``carte city check`` checks the files).
"""

from __future__ import annotations

from flask import current_app

from geo.city import City, load_city

__all__ = ["current_city"]


def current_city() -> City:
    """The app's city: ``app.config["CITY"]`` as a :class:`~geo.city.City`, loaded once.

    The settings give ``CITY`` as a slug (``CARTE_CITY``); the first call replaces it
    with the city it names.
    """
    city = current_app.config.get("CITY")
    if not isinstance(city, City):
        city = current_app.config["CITY"] = load_city(city or None, check_files=False)
    return city
