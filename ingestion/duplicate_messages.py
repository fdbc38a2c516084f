"""Texts of the no-JavaScript form's duplicate step, in French and English.

The map's form asks ``/api/v1/submissions/nearby`` before sending; the ``/submit`` form
cannot, so its first POST answers with the same likely duplicates (their distance, a
link to each on the map) and a "C'est un autre lieu" checkbox. A table like
:mod:`ingestion.photo_messages`, for the same reason (no catalogue on the fast path).
"""

from __future__ import annotations

__all__ = ["DUPLICATE_LABELS", "duplicate_labels"]

DUPLICATE_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Ce lieu existe peut-être déjà", "This place may already be on the map"),
    "intro": ("Avant d'envoyer, regardez si votre proposition n'est pas l'un de ces lieux "
              "déjà publiés près du point choisi :",
              "Before sending, check that your submission is not one of these places "
              "already published near the point you chose:"),
    "metres": ("à {m} m", "{m} m away"),
    "open": ("Voir sur la carte", "See it on the map"),
    "correct": ("Proposer une correction", "Suggest a change"),
    "correct_hint": ("(depuis la fiche du lieu sur la carte)",
                     "(from the place's panel on the map)"),
    "pending": ("{n} proposition similaire attend déjà la modération à cet endroit.",
                "{n} similar submission is already waiting for moderation here."),
    "pending_many": ("{n} propositions similaires attendent déjà la modération à cet "
                     "endroit.", "{n} similar submissions are already waiting for "
                     "moderation here."),
    "different": ("C'est un autre lieu", "It is a different place"),
    "different_hint": ("Cochez la case puis envoyez à nouveau : le modérateur verra que vous "
                       "l'avez confirmé.", "Tick the box and send again: the moderator will "
                       "see that you confirmed it."),
    "confirm_needed": ("Cochez « C'est un autre lieu » pour envoyer quand même.",
                       "Tick “It is a different place” to send it anyway."),
    "photos_again": ("Les photos choisies n'ont pas été gardées : choisissez-les à nouveau "
                     "avant d'envoyer.", "The photos you chose were not kept: choose them "
                     "again before sending."),
}


def duplicate_labels(lang: str) -> dict[str, str]:
    """The step's texts in ``lang`` (``en``, else French)."""
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in DUPLICATE_LABELS.items()}
