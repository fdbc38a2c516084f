"""Why a photo was refused, in the resident's language, naming the file and its place.

The codes are :mod:`photos.errors`' (``not_an_image``, ``too_large``...); the sentences
follow :mod:`ingestion.messages`' style ("Photo 2 « IMG_1234.jpg » : ce fichier n'est
pas une image"). A table rather than the Babel catalogue for the same reason as there:
the submission fast path answers without a Flask request context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PHOTO_MESSAGES", "PHOTO_STATES", "photo_form_labels", "photo_message",
           "photo_state", "photo_state_label", "photo_track_labels", "photos_detail",
           "photos_title"]

PHOTO_MESSAGES: dict[str, tuple[str, str]] = {
    "not_an_image": ("ce fichier n'est pas une image", "this file is not an image"),
    "unsupported_format": ("format non accepté ({format}) : envoyez une photo JPEG, PNG "
                           "ou WebP", "format not accepted ({format}): send a JPEG, PNG or "
                           "WebP photo"),
    "polyglot": ("ce fichier contient autre chose qu'une image", "this file holds something "
                 "other than an image"),
    "truncated": ("image incomplète ou abîmée : renvoyez-la", "incomplete or damaged image: "
                  "send it again"),
    "too_large": ("fichier trop lourd ({size_mb} Mo ; {max_mb} Mo au plus)",
                  "file too large ({size_mb} MB; at most {max_mb} MB)"),
    "too_many_pixels": ("image trop grande ({width} × {height} pixels ; {max_mp} mégapixels "
                        "au plus)", "image too large ({width} × {height} pixels; at most "
                        "{max_mp} megapixels)"),
    "too_many_photos": ("{max} photos au plus par proposition : celle-ci n'est pas gardée",
                        "at most {max} photos per submission: this one is not kept"),
    "unknown_photo": ("photo envoyée introuvable ou déjà utilisée : renvoyez-la",
                      "uploaded photo not found or already used: upload it again"),
    "bad_field": ("{field} non valable", "{field} not valid"),
    # An iPhone's photo library gives browsers a JPEG; a HEIC file still comes from the
    # Files app, a Mac's Finder or another system's picker: say what to do.
    "heic": ("photo au format HEIC, que nous ne lisons pas : choisissez-la dans « Photos » "
             "(l'iPhone l'envoie alors en JPEG) ou réglez Réglages › Appareil photo › Formats "
             "› « Le plus compatible »", "a HEIC photo, which we cannot read: pick it from "
             "\"Photos\" (the iPhone then sends a JPEG) or set Settings › Camera › Formats › "
             "\"Most Compatible\""),
}
_FALLBACK = {"too_large": ("fichier trop lourd", "file too large"),
             "too_many_pixels": ("image trop grande", "image too large"),
             "unsupported_format": ("format non accepté : envoyez une photo JPEG, PNG ou WebP",
                                    "format not accepted: send a JPEG, PNG or WebP photo")}
_TITLES = {
    "refused": ("Photo refusée", "Photo refused"),
    "refused_detail": ("La proposition est enregistrée ; {n} photo(s) refusée(s) : {list}",
                       "The submission is kept; {n} photo(s) refused: {list}"),
}


def _mb(n: Any) -> str:
    return f"{int(n) / (1024 * 1024):.1f}"


def photo_message(code: str, params: Mapping[str, Any], *, name: str, position: int,
                  lang: str) -> str:
    """"Photo 2 « IMG_1.jpg » : ce fichier n'est pas une image" (``position`` from 1)."""
    i = 1 if lang == "en" else 0
    values = dict(params)
    if "size" in values:
        values["size_mb"] = _mb(values["size"])
    if "max" in values and code == "too_large":
        values["max_mb"] = _mb(values["max"])
    if "max" in values and code == "too_many_pixels":
        values["max_mp"] = round(int(values["max"]) / 1e6)
    if code == "unsupported_format" and str(values.get("format", "")).upper() == "HEIC":
        code = "heic"
    template = PHOTO_MESSAGES.get(code, PHOTO_MESSAGES["not_an_image"])[i]
    try:
        text = template.format(**values)
    except (KeyError, IndexError, ValueError):
        text = _FALLBACK.get(code, (template.split(" (")[0],) * 2)[i]
    label = f"Photo {position} « {name} »" if i == 0 else f'Photo {position} "{name}"'
    return f"{label} : {text}" if i == 0 else f"{label}: {text}"


def photos_title(lang: str) -> str:
    """The problem's title when photos were refused."""
    return _TITLES["refused"][1 if lang == "en" else 0]


def photos_detail(refused: list[Mapping[str, Any]], lang: str) -> str:
    """One sentence listing every refused photo."""
    i = 1 if lang == "en" else 0
    return _TITLES["refused_detail"][i].format(
        n=len(refused), list="; ".join(str(r["detail"]) for r in refused))


_FORM_LABELS: dict[str, tuple[str, str]] = {
    "legend": ("Photos (facultatif)", "Photos (optional)"),
    "files": ("Jusqu'à {n} photos", "Up to {n} photos"),
    "files_hint": ("JPEG, PNG ou WebP, {mb} Mo au plus chacune ; nous retirons la position "
                   "GPS et les autres métadonnées avant publication",
                   "JPEG, PNG or WebP, at most {mb} MB each; we remove the GPS position and "
                   "other metadata before publishing"),
    "licence": ("Licence de vos photos", "Licence of your photos"),
    "cc_by_sa": ("CC BY-SA 4.0 (réutilisables en vous citant)",
                 "CC BY-SA 4.0 (reusable with credit to you)"),
    "cc0": ("CC0 (domaine public, sans citation)", "CC0 (public domain, no credit needed)"),
    "author": ("Nom à citer (facultatif)", "Name to credit (optional)"),
    "alt": ("Ce que montrent les photos (pour qui ne les voit pas)",
            "What the photos show (for people who cannot see them)"),
    "again": ("Choisissez à nouveau vos photos : le navigateur ne les garde pas",
              "Choose your photos again: the browser does not keep them"),
}


def photo_form_labels(lang: str, *, max_photos: int = 4, max_mb: int = 10) -> dict[str, str]:
    """The photo part of the no-JavaScript form, in ``lang``."""
    i = 1 if lang == "en" else 0
    return {k: v[i].format(n=max_photos, mb=max_mb) for k, v in _FORM_LABELS.items()}


# --- a photo's fate on the tracking page -----------------------------------------------

PHOTO_STATES: dict[str, tuple[str, str]] = {
    "published": ("publiée", "published"),
    "pending": ("en attente de modération", "waiting for a moderator"),
    "processing": ("en cours de vérification", "being checked"),
    "not_published": ("non publiée", "not published"),
    "hidden": ("masquée par la modération", "hidden by the moderators"),
    "removed": ("retirée par la modération", "removed by the moderators"),
    "refused": ("refusée", "refused"),
}
"""A photo's state in the resident's words (French, English)."""

_ITEM_WAITING = frozenset({"received", "pending", "invalid"})


def photo_state(status: str, public: bool, item_status: str) -> str:
    """What became of one photo, from its row and its item's (submission or correction).

    ``public`` is whether the photo is ``ready`` on a published feature. A ``ready``
    photo that is not public waits with its item while that waits; otherwise it is not
    published (its item was refused or withdrawn, or the place left the map since).
    """
    if status in ("hidden", "removed", "refused"):
        return status
    if status == "quarantined":
        return "processing"
    if public:
        return "published"
    return "pending" if item_status in _ITEM_WAITING else "not_published"


def photo_state_label(state: str, reason: str | None, lang: str) -> str:
    """"masquée par la modération : <reason>", "publiée"... in ``lang``."""
    i = 1 if lang == "en" else 0
    label = PHOTO_STATES.get(state, PHOTO_STATES["pending"])[i]
    if not reason:
        return label
    if state == "refused":  # photo_message already names the photo: keep its reason
        reason = reason.split(" : ", 1)[-1] if i == 0 else reason.split('": ', 1)[-1]
    # French puts a no-break space before the colon: it never starts a line.
    return f"{label}\u00a0: {reason}" if i == 0 else f"{label}: {reason}"


_TRACK_LABELS: dict[str, tuple[str, str]] = {
    "photos": ("Vos photos", "Your photos"),
    "photo_n": ("Photo {n}", "Photo {n}"),
    "photo_alt": ("Votre photo {n}, telle que publiée", "Your photo {n}, as published"),
    "photos_hint": ("Seules les photos publiées sont visibles par tous, sans leurs "
                    "métadonnées (position GPS, appareil).",
                    "Only published photos are public, without their metadata (GPS "
                    "position, camera)."),
}


def photo_track_labels(lang: str) -> dict[str, str]:
    """The photo section of the tracking page, in ``lang`` (``photo_n`` takes ``n``)."""
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in _TRACK_LABELS.items()}
