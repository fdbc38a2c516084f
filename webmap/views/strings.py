"""Translated strings the page's script needs, handed to it as JSON data (not script)."""

from __future__ import annotations

from flask_babel import gettext as _

__all__ = ["js_strings"]


def js_strings() -> dict[str, str]:
    """The strings of ``static/map/app.js``, in the request's language."""
    return {
        "listEmpty": _("No place matches in this part of the map."),
        "listCount": _("{n} places in view"),
        "listMore": _("Showing the first {n}: zoom in to see the rest."),
        "listUnavailable": _("The list is not available right now."),
        "locating": _("Finding your position…"),
        "locateFailed": _("Your position is not available."),
        "youAreHere": _("You are here"),
        "searchNone": _("Nothing found."),
        "searchFeatures": _("Places"),
        "searchAreas": _("Areas"),
        "searchAddresses": _("Addresses"),
        "profileSaved": _("Your profile is saved in this browser only."),
        "walkNone": _("No matching place fits in this time. Try a longer walk or more interests."),
        "walkSummary": _("{stops} stops, {km} km, about {minutes} min"),
        "walkLeg": _("{m} m on foot, arrive after {min} min"),
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
        "choose": _("Choose…"),
        "tagsHint": _("separated by commas"),
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
    }
