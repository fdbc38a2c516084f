"""Validation messages in the resident's language, naming the field by its label.

:mod:`ingestion.validation` stays pure and answers codes, pointers and parameters;
this module turns them into the sentence a resident reads ("Fin : avant le début"),
in French or English, at the edge (the JSON API, the form, the map page's script).

Why a table here rather than the Babel catalogue of ``webmap``: the submission fast
path answers without a Flask request context (see ``ingestion.api``), and the same
table is handed to the map's script so the browser says exactly what the server says.
The language is chosen like the page's: ``?lang=``, the ``lang`` cookie, then
``Accept-Language``, French by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .categories import CategorySpec

__all__ = ["LANGS", "catalogue", "field_label", "form_labels", "localise", "message",
           "pick_lang"]

LANGS = ("fr", "en")

# Labels of the fields every submission has (category fields carry their own).
LABELS: dict[str, tuple[str, str]] = {
    "category": ("Catégorie", "Category"),
    "title": ("Titre", "Title"),
    "description": ("Description", "Description"),
    "lon": ("Emplacement", "Location"),
    "lat": ("Emplacement", "Location"),
    "location": ("Emplacement", "Location"),
    "starts_at": ("Début", "Start"),
    "ends_at": ("Fin", "End"),
    "email": ("Courriel", "Email"),
    "attributes": ("Détails", "Details"),
    "audiences": ("Pour qui", "Who for"),
    "accessibility": ("Accessibilité", "Accessibility"),
    "accessibility_lacks": ("Accessibilité", "Accessibility"),
    "charter": ("Charte", "Charter"),
    "dupes": ("Doublon possible", "Possible duplicate"),
    "changes": ("Modifications", "Changes"),
    "comment": ("Commentaire", "Comment"),
    "closed": ("Fermeture", "Closure"),
    "": ("Proposition", "Submission"),
}

# code -> (French, English); {params} come from the error, {label} is added.
MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("obligatoire", "required"),
    "blank": ("ne peut pas être vide", "cannot be empty"),
    "type": ("valeur non valable", "not a valid value"),
    "format": ("valeur non valable", "not a valid value"),
    "too_long": ("{max} caractères au plus (il y en a {n})", "at most {max} characters ({n} now)"),
    "too_many": ("{max} créneaux au plus", "at most {max} time slots"),
    "too_long_event": ("dure plus de {days} jours", "lasts more than {days} days"),
    "out_of_range": ("entre {min} et {max}", "between {min} and {max}"),
    "year_range": ("l'année doit être entre {min} et {max}",
                   "the year must be between {min} and {max}"),
    "not_finite": ("valeur non valable", "not a valid value"),
    "choice": ("choix inconnu", "unknown choice"),
    "unknown": ("champ inconnu", "unknown field"),
    "number": ("un nombre, par exemple 2,5", "a number, e.g. 2.5"),
    "integer": ("un nombre entier", "a whole number"),
    "url": ("une adresse web commençant par https://", "a web address starting with https://"),
    "email": ("adresse non valable (exemple : nom@exemple.fr)",
              "not a valid address (e.g. name@example.org)"),
    "datetime": ("date et heure non valables", "not a valid date and time"),
    "timezone": ("fuseau horaire manquant", "time zone missing"),
    "time": ("heure au format 14:30", "time as 14:30"),
    "day": ("jour de la semaine inconnu", "unknown day of the week"),
    "slots": ("ajoutez au moins un créneau (jour, début, fin)",
              "add at least one time slot (day, from, to)"),
    "slot_order": ("créneau {n} : la fin doit suivre le début",
                   "slot {n}: the end must come after the start"),
    "slot_time": ("créneau {n} : heure au format 14:30", "slot {n}: time as 14:30"),
    "slot_day": ("créneau {n} : choisissez un jour", "slot {n}: choose a day"),
    "order": ("avant le début", "before the start"),
    "past": ("déjà passé", "already past"),
    "too_far": ("plus de {days} jours à l'avance", "more than {days} days ahead"),
    "swapped": ("longitude et latitude semblent inversées",
                "longitude and latitude look swapped"),
    "outside_area": ("hors de la ville", "outside the city"),
    "need_point": ("placez d'abord le point sur la carte", "place the pin on the map first"),
    "charter": ("acceptez la charte des contributeurs", "accept the contributor charter"),
    "dupes_confirm": ("ouvrez le lieu existant, ou cochez « différent » s'il s'agit d'un autre",
                      "open the existing place, or tick \"different\" if yours is another one"),
    "forbidden_character": ("contient un caractère invisible ou interdit ({char}) : "
                            "retapez le texte", "contains an invisible or forbidden "
                            "character ({char}): type the text again"),
}
FORMAT = ("{label} : {message}", "{label}: {message}")
TITLES = {
    "invalid": ("Proposition à corriger", "Invalid submission"),
    "invalid_detail": ("{n} champ(s) à corriger ; la proposition est gardée avec ses erreurs",
                       "{n} field(s) refused; the submission is kept with its errors"),
}


def _i(lang: str) -> int:
    return 1 if lang == "en" else 0


def pick_lang(args: Mapping[str, str], cookies: Mapping[str, str],
              accept_language: Any) -> str:
    """``fr`` or ``en``, in the page's order: ``?lang=``, cookie, ``Accept-Language``.

    ``accept_language`` is werkzeug's ``LanguageAccept`` (``request.accept_languages``).
    """
    for asked in (args.get("lang", ""), cookies.get("lang", "")):
        if asked in LANGS:
            return asked
    best = accept_language.best_match(LANGS) if accept_language is not None else None
    return best or "fr"


def field_label(pointer: str, category: CategorySpec | None, lang: str) -> str:
    """The label a resident sees for the field at ``pointer``."""
    parts = pointer.lstrip("/").split("/")
    if parts[0] in ("attributes", "changes") and len(parts) > 1:
        name = parts[1]
        spec = category.field(name) if category is not None else None
        if spec is not None:
            return (spec.label_en or spec.name) if lang == "en" else (spec.label_fr or spec.name)
        if name in LABELS:
            return LABELS[name][_i(lang)]
        return name
    return LABELS.get(parts[0], (parts[0], parts[0]))[_i(lang)]


def _code_for(error: Mapping[str, Any], category: CategorySpec | None) -> tuple[str, dict]:
    """The message key: the code, refined by where it is (a slot, a date, a number)."""
    code = str(error.get("code", ""))
    params = dict(error.get("params") or {})
    parts = str(error.get("pointer", "")).lstrip("/").split("/")
    spec = None
    if parts[0] in ("attributes", "changes") and len(parts) > 1 and category is not None:
        spec = category.field(parts[1])
    if parts[0] == "changes" and len(parts) > 1 and parts[1] in LABELS:
        parts = parts[1:]  # a correction's /changes/ends_at reads as /ends_at
    if spec is not None and spec.type == "availability":
        if len(parts) >= 3 and parts[2].isdigit():
            params["n"] = int(parts[2]) + 1
            key = parts[3] if len(parts) > 3 else ""
            if code == "order":
                return "slot_order", params
            if key in ("from", "to"):
                return "slot_time", params
            if key == "day":
                return "slot_day", params
            return "slots", params
        if code == "too_long":
            return "too_many", params
        if code in ("type", "required"):
            return "slots" if code == "type" else "required", params
    if code == "too_long" and parts[0] == "ends_at":
        return "too_long_event", params
    if code == "out_of_range" and params.get("year"):
        return "year_range", params
    if code in ("type", "format"):
        if parts[0] in ("starts_at", "ends_at"):
            return "datetime", params
        if parts[0] == "email":
            return "email", params
        if spec is not None and spec.type in ("number", "integer", "url"):
            return spec.type, params
    return code, params


def message(error: Mapping[str, Any], category: CategorySpec | None, lang: str) -> str:
    """One error as the sentence a resident reads: "Fin : avant le début"."""
    key, params = _code_for(error, category)
    if key not in MESSAGES:
        return str(error.get("detail") or key)
    for k in ("min", "max"):
        if isinstance(params.get(k), float) and params[k].is_integer():
            params[k] = int(params[k])
    if lang == "fr":
        params = {k: (str(v).replace(".", ",") if isinstance(v, float) else v)
                  for k, v in params.items()}
    try:
        text = MESSAGES[key][_i(lang)].format(**params)
    except (KeyError, IndexError, ValueError):
        text = MESSAGES[key][_i(lang)].split("{")[0].strip(" :(")
    label = field_label(str(error.get("pointer", "")), category, lang)
    return FORMAT[_i(lang)].format(label=label, message=text)


def localise(errors: Iterable[Mapping[str, Any]], category: CategorySpec | None,
             lang: str) -> list[dict[str, Any]]:
    """The errors as answered: ``pointer`` and ``code`` kept, ``detail`` localised."""
    return [{"pointer": e.get("pointer", ""), "code": e.get("code", ""),
             "detail": message(e, category, lang)} for e in errors]


def catalogue(lang: str) -> dict[str, Any]:
    """Messages, the general labels and the line format in ``lang``, for the map's script."""
    i = _i(lang)
    return {"messages": {k: v[i] for k, v in MESSAGES.items()},
            "labels": {k: v[i] for k, v in LABELS.items() if k},
            "format": FORMAT[i], "form": {k: v[i] for k, v in _FORM.items()}}


AUDIENCES: dict[str, tuple[str, str]] = {
    "children": ("Enfants", "Children"), "families": ("Familles", "Families"),
    "seniors": ("Seniors", "Seniors"), "everyone": ("Tout le monde", "Everyone"),
}
ACCESSIBILITY: dict[str, tuple[str, str]] = {
    "step_free_access": ("Accès de plain-pied", "Step-free access"),
    "adapted_toilets": ("Toilettes adaptées", "Adapted toilets"),
    "seating": ("Places assises", "Seating"),
    "hearing_loop": ("Boucle magnétique", "Hearing loop"),
    "braille_or_large_print": ("Braille ou gros caractères", "Braille or large print"),
    "quiet_space": ("Espace calme", "Quiet space"),
    "assistance_dogs_welcome": ("Chiens d'assistance admis", "Assistance dogs welcome"),
}
_FORM: dict[str, tuple[str, str]] = {
    "page_title": ("Proposer un point", "Drop a pin"),
    "intro": ("Chaque proposition est lue par un modérateur avant d'être publiée.",
              "Every pin is read by a moderator before it is published."),
    "fix": ("À corriger :", "Please fix:"),
    "title_hint": ("120 caractères au plus", "at most 120 characters"),
    "description_hint": ("2 000 caractères au plus", "at most 2,000 characters"),
    "where": ("Où ?", "Where?"),
    "when": ("Quand ? (événements)", "When? (events)"),
    "details": ("Détails selon la catégorie", "Details for your category"),
    "details_hint": ("Remplissez seulement la partie de la catégorie choisie.",
                     "Only fill in the part of the category you chose."),
    "slots_hint": ("un créneau par ligne, par ex. « samedi 10:00-12:00 » ou « lun-ven 9h-17h »",
                   "one slot a line, e.g. \"saturday 10:00-12:00\" or \"mon-fri 9-17\""),
    "email": ("Courriel (facultatif, jamais publié)", "Email (optional, never published)"),
    "charter": ("J'accepte la charte des contributeurs", "I accept the contributor charter"),
    "charter_link": ("charte des contributeurs", "contributor charter"),
    "send": ("Envoyer", "Send"),
    "unknown": ("Je ne sais pas", "Don't know"),
    "yes": ("Oui", "Yes"),
    "no": ("Non", "No"),
    "choose": ("Choisir…", "Choose…"),
    "other_lang": ("English", "Français"),
    "day": ("Jour", "Day"),
    "pin_waiting": ("Pas de réseau : votre point est gardé sur cet appareil et sera envoyé "
                    "dès le retour du réseau.", "No network: your pin is kept on this device "
                    "and will be sent as soon as the network is back."),
    "outbox_count": ("{n} point(s) en attente d'envoi", "{n} pin(s) waiting to be sent"),
    "outbox_sent": ("Votre point gardé hors ligne a été envoyé.",
                    "Your pin kept offline has been sent."),
    "flag_kinds": ("Ce lieu n'existe plus|Mauvais emplacement|Informations fausses|"
                   "Contenu choquant ou insultant|Publicité ou spam|Autre",
                   "This place no longer exists|Wrong location|Wrong information|"
                   "Offensive content|Advertising or spam|Other"),
    "flag_kind_legend": ("Quel est le problème ?", "What is the problem?"),
    "flag_details": ("Précisez (facultatif sauf pour « Autre »)",
                     "Details (optional except for \"Other\")"),
    "flag_already": ("Vous aviez déjà signalé ce lieu : votre signalement est bien reçu, "
                     "un modérateur va l'examiner.", "You had already reported this place: "
                     "your report is received and a moderator will review it."),
    "correct": ("Proposer une correction", "Suggest a change"),
    "report_closed": ("Signaler une fermeture", "Report closed"),
    "correct_title": ("Proposer une correction", "Suggest a change"),
    "closed_title": ("Ce lieu a fermé ?", "Has this place closed?"),
    "closed_hint": ("Dites depuis quand si vous le savez.", "Say since when if you know."),
    "comment": ("Commentaire pour les modérateurs", "Comment for the moderators"),
    "email_optional": ("Courriel (facultatif, jamais publié)", "Email (optional, never published)"),
    "cancel": ("Annuler", "Cancel"),
    "correct_thanks": ("Merci ! Un modérateur examinera votre proposition ; la carte ne change "
                       "qu'après sa décision.", "Thank you! A moderator will review it; the map "
                       "changes only once they decide."),
    "correct_track": ("Suivre ma proposition", "Follow my suggestion"),
    "nothing_changed": ("modifiez au moins un champ", "change at least one field"),
    "dupes_title": ("Déjà sur la carte tout près : est-ce le même ?",
                    "Already on the map close by: is it the same?"),
    "dupe_open": ("Voir", "Open"),
    "dupe_correct": ("Proposer une correction", "Suggest a change"),
    "dupe_different": ("Mon lieu est différent de ceux-ci", "Mine is different from these"),
    "dupe_distance": ("à {n} m", "{n} m away"),
    "add_slot": ("Ajouter un créneau", "Add a time slot"),
    "copy_slot": ("Copier au jour suivant", "Copy to the next day"),
    "remove_slot": ("Retirer", "Remove"),
    "server_down": ("Le service ne répond pas pour l'instant : réessayez dans une minute. "
                    "Ce que vous avez saisi est gardé.",
                    "The service is not answering right now: try again in a minute. "
                    "What you typed is kept."),
}


def form_labels(lang: str) -> dict[str, Any]:
    """Texts of the no-JavaScript form in ``lang`` (plus audience/accessibility labels)."""
    i = _i(lang)
    out: dict[str, Any] = {k: v[i] for k, v in _FORM.items()}
    out.update({f"label_{k}": v[i] for k, v in LABELS.items() if k})
    out["audience"] = {k: v[i] for k, v in AUDIENCES.items()}
    out["access"] = {k: v[i] for k, v in ACCESSIBILITY.items()}
    return out


_TRACK: dict[str, tuple[str, str]] = {
    "page_title": ("Suivi de votre proposition", "Tracking your submission"),
    "correction_title": ("Suivi de votre correction", "Tracking your suggested change"),
    "unknown_title": ("Lien inconnu", "Unknown link"),
    "unknown": ("Aucune proposition ne correspond à ce lien.", "No submission has this link."),
    "title": ("Titre", "Title"), "category": ("Catégorie", "Category"),
    "status": ("Statut", "Status"), "reason": ("Raison du modérateur", "Moderator's reason"),
    "history": ("Historique", "History"),
    "on_map": ("Voir le lieu sur la carte", "See the place on the map"),
    "withdraw": ("Retirer ma proposition", "Withdraw my submission"),
    "withdraw_hint": ("Tant qu'elle n'est pas modérée, vous pouvez la retirer.",
                      "Until a moderator decides, you may take it back."),
    "corrections": ("Corrections proposées pour ce lieu", "Changes suggested for this place"),
    "changes": ("Modifications proposées", "Suggested changes"),
    "closed": ("Signalé fermé", "Reported closed"),
    "comment": ("Commentaire", "Comment"),
    "keep": ("Gardez ce lien : c'est le seul moyen de suivre votre proposition.",
             "Keep this link: it is the only way to follow your submission."),
    "back": ("Retour à la carte", "Back to the map"),
    "received": ("Reçue", "Received"), "in_review": ("En cours de modération", "In review"),
    "pending": ("En attente de modération", "Waiting for a moderator"),
    "invalid": ("À corriger", "Needs fixing"), "approved": ("Publiée", "Published"),
    "refused": ("Refusée", "Refused"), "merged": ("Fusionnée avec un lieu existant",
                                                 "Merged into an existing place"),
    "withdrawn": ("Retirée par vous", "Withdrawn by you"),
}


def track_labels(lang: str) -> dict[str, str]:
    """Texts of the tracking page in ``lang``."""
    i = _i(lang)
    return {k: v[i] for k, v in _TRACK.items()}
