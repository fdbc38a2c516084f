"""Translated strings the page needs, handed to its script as JSON data (not script).

The labels of accessibility features, audiences and weekdays live here once, for both
the template (profile form) and ``static/map/app.js`` (a place's panel), so that a slug
never reaches a resident's eyes.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from ingestion.messages import catalogue

from .i18n import current_lang

__all__ = ["access_labels", "areas_heading", "audience_labels", "js_strings",
           "weekday_labels"]


def access_labels() -> list[dict[str, str]]:
    """Accessibility slugs with the label of their presence and of their absence.

    The slugs are those of ``data/categories.json`` (top-level ``accessibility``): a
    place's ``attributes.accessibility`` lists the present ones and
    ``attributes.accessibility_lacks`` the absent ones.
    """
    return [
        {"slug": "step_free_access", "label": _("Step-free access"),
         "lacks": _("No step-free access")},
        {"slug": "adapted_toilets", "label": _("Adapted toilets"),
         "lacks": _("No adapted toilets")},
        {"slug": "seating", "label": _("Seating"), "lacks": _("No seating")},
        {"slug": "hearing_loop", "label": _("Hearing loop"), "lacks": _("No hearing loop")},
        {"slug": "braille_or_large_print", "label": _("Braille or large print"),
         "lacks": _("No braille or large print")},
        {"slug": "quiet_space", "label": _("Quiet space"), "lacks": _("No quiet space")},
        {"slug": "assistance_dogs_welcome", "label": _("Assistance dogs welcome"),
         "lacks": _("Assistance dogs not admitted")},
    ]


def audience_labels() -> list[dict[str, str]]:
    """Audience slugs (``attributes.audiences``, the profile's age group) and labels."""
    return [
        {"slug": "children", "label": _("Children")},
        {"slug": "families", "label": _("Families")},
        {"slug": "seniors", "label": _("Seniors")},
        {"slug": "everyone", "label": _("Everyone")},
    ]


def weekday_labels() -> list[dict[str, str]]:
    """The week from Monday, with the slugs of the ``days`` filter and of hour slots."""
    return [
        {"slug": "mon", "short": _("Mon"), "label": _("Monday")},
        {"slug": "tue", "short": _("Tue"), "label": _("Tuesday")},
        {"slug": "wed", "short": _("Wed"), "label": _("Wednesday")},
        {"slug": "thu", "short": _("Thu"), "label": _("Thursday")},
        {"slug": "fri", "short": _("Fri"), "label": _("Friday")},
        {"slug": "sat", "short": _("Sat"), "label": _("Saturday")},
        {"slug": "sun", "short": _("Sun"), "label": _("Sunday")},
    ]


def areas_heading() -> str:
    """The search's group of areas in the city's words, deepest level first.

    Paris: "Quartiers et arrondissements" (its levels' ``plural_names``); a city of one
    level: "Districts". "Areas" when a level has no plural configured.
    """
    from ..city import current_city

    lang = current_lang()
    words = [level.label(lang, plural=True) for level in reversed(current_city().levels)]
    if not words or not all(words):
        return _("Areas")
    joined = words[0] if len(words) == 1 else \
        _("%(some)s and %(last)s", some=", ".join(w for w in words[:-1] if w), last=words[-1])
    return joined[:1].upper() + joined[1:]


def js_strings() -> dict[str, Any]:
    """The strings of ``static/map/app.js``, in the request's language.

    ``validation`` is the submission message table of :mod:`ingestion.messages`: the
    pin form's checks say in the browser exactly what the server would say.
    """
    return {
        "validation": catalogue(current_lang()),
        "listEmpty": _("No place matches in this part of the map."),
        "listCount": _("{n} places in view"),
        "listCountOne": _("1 place in view"),
        "listNearest": _("{n} places in view — the {k} nearest are listed"),
        "listMany": _("More than {n} places in view — the {k} nearest are listed"),
        "listLoading": _("Looking for places in view…"),
        "listUnavailable": _("The list is not available right now."),
        "mapFailed": _("Part of the map could not be drawn; try again in a moment."),
        "metres": _("{n} m"),
        "kilometres": _("{n} km"),
        "sheetExpand": _("Show the panel"),
        "sheetReduce": _("Reduce the panel"),
        "sheetBigger": _("Enlarge"),
        "sheetSmaller": _("Shrink"),
        "filtersActive": _("{n} active"),
        "locating": _("Finding your position…"),
        "locateFailed": _("Your position is not available."),
        "youAreHere": _("You are here"),
        "searchNone": _("Nothing found."),
        "searchFeatures": _("Places"),
        "searchAreas": areas_heading(),
        "searchAddresses": _("Addresses"),
        "profileSaved": _("Your profile is saved in this browser only."),
        "walkNone": _("No matching place fits in this time. Try a longer walk or more interests."),
        "walkSummary": _("{stops} stops, {km} km, about {minutes} min"),
        "walkLeg": _("{m} m on foot, arrive after {min} min"),
        "walkFailed": _("The walk could not be planned; try again."),
        "pinClick": _("Click or tap the map where the place is, or use your position."),
        "pinPlaced": _("Pin placed. Fill in the form below."),
        "pinNeedPoint": _("Place the pin on the map first."),
        "pinSending": _("Sending…"),
        "pinThanks": _("Thank you! A moderator will review your pin."),
        "pinTrack": _("Follow your submission"),
        "pinKeep": _("Keep this link: it is the only way to follow your submission."),
        "pinError": _("Please correct the fields marked below."),
        "pinFailed": _("Sending failed; your text is still here, try again."),
        "yes": _("yes"),
        "no": _("no"),
        "starts": _("Starts"),
        "ends": _("Ends"),
        "when": _("When"),
        "eventOver": _("This event is over."),
        "choose": _("Choose…"),
        "tagsHint": _("separated by commas"),
        "slotFrom": _("From"),
        "slotTo": _("To"),
        "flagNeedReason": _("Please say what is wrong."),
        "flagThanks": _("Thank you: a moderator will review this place."),
        "flagTooMany": _("Too many reports from this connection; try again later."),
        "flagFailed": _("The report could not be sent; try again."),
        # layers.js: the basemap and the places' canvas tiles
        "noBasemap": _("No street map for this city yet: only the places are drawn."),
        "layerBasemap": _("City plan"),
        "layerPlaces": _("Places and events"),
        "attributionPlaces": _("Places © their contributors"),
        "tileGroup": _("1 group"),
        "tileGroups": _("{n} groups"),
        "tilePlace": _("1 place"),
        "tilePlaces": _("{n} places"),
        "tileSummary": _("{summary}: {detail}"),
        "zoomIn": _("Zoom in"),
        "zoomOut": _("Zoom out"),
        "layersControl": _("Map layers"),
        "placeLoading": _("Loading this place…"),
        "placeNotFound": _("This place does not exist or has been removed from the map."),
        "placeFailed": _("This place could not be loaded; try again."),
        "accessibility": _("Accessibility"),
        "accessUnknown": _("Accessibility: unknown"),
        "audiences": _("For"),
        "openingHours": _("Opening hours"),
        "availability": _("Availability"),
        "closed": _("closed"),
        "openNow": _("Open now, until {to}"),
        "closedNow": _("Closed now"),
        "hoursRange": _("{from}–{to}"),
        "calendar": _("Add to my calendar (.ics)"),
        "copyLink": _("Copy the link"),
        "linkCopied": _("Link copied."),
        "copyFallback": _("Copy this link:"),
        "where": _("Where"),
        "source": _("Source: {source}"),
        "chooserTitle": _("{n} places here"),
        "chooserHint": _("Choose one to see it."),
        "dateInvalid": _("The end date is before the start date."),
    }
