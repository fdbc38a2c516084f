"""A category's own fields, as moderators read and edit them: pure functions.

``data/categories.json`` gives each category its fields (text, boolean, integer, number,
enum, tags, url, availability) with French and English labels; every category may also
carry ``audiences``, ``accessibility`` (known present) and ``accessibility_lacks``
(known absent). :func:`shown` turns stored attributes into labelled, readable values
(choice labels, a week of slots, yes/no); :func:`widgets` describes the edit form's
inputs; :func:`from_form` reads that form back into the JSON shape a submission has,
so that :func:`ingestion.validation.validate_submission` judges a moderator's edit by
the same rules as a resident's submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ingestion.categories import CategorySpec, FieldSpec

from .i18n import ACCESS_WORDS, AUDIENCE_WORDS, DAY_WORDS, N_, NP_, translate

__all__ = ["RESERVED", "Shown", "Widget", "from_form", "input_name", "shown", "widgets"]

DAYS = tuple(DAY_WORDS)
RESERVED = ("audiences", "accessibility", "accessibility_lacks")
RESERVED_CONTEXT = "champ commun"
"""The catalogue context of :data:`RESERVED_LABELS` (a correction's "Accessibilité
(absente)" is translated otherwise)."""
RESERVED_LABELS = {"audiences": NP_("champ commun", "Publics"),
                   "accessibility": NP_("champ commun", "Accessibilité (présente)"),
                   "accessibility_lacks": NP_("champ commun", "Accessibilité (absente)")}
EMPTY_SLOTS = 2  # blank rows offered after a field's slots, to add some


class FormValues(Protocol):
    """What a form gives (``werkzeug.MultiDict``)."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class Shown:
    """One field as a moderator reads it."""

    name: str
    label: str
    text: str
    empty: bool = False


@dataclass
class Widget:
    """One input of the edit form (``kind``: the field type, or ``checks``)."""

    name: str
    input: str
    label: str
    kind: str
    value: Any = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    slots: list[dict[str, str]] = field(default_factory=list)
    required: bool = False


def _pick(table: Mapping[str, str], code: str, lang: str) -> str:
    """The word of ``code`` in ``table`` (French msgids) in ``lang``; else the code."""
    return translate(table[code], lang) if code in table else code


def _reserved_label(name: str, lang: str) -> str:
    return translate(RESERVED_LABELS[name], lang, context=RESERVED_CONTEXT)


def _label(spec: FieldSpec, lang: str) -> str:
    return (spec.label_en if lang == "en" else spec.label_fr) or spec.name


def input_name(name: str) -> str:
    """The form input of attribute ``name`` (``a_`` keeps it apart from core fields)."""
    return f"a_{name}"


def week(slots: Any, lang: str) -> str:
    """Slots ``[{day, from, to}]`` as a readable week, Monday first."""
    if not isinstance(slots, list):
        return str(slots)
    by_day: dict[str, list[str]] = {}
    for slot in slots:
        if isinstance(slot, Mapping):
            by_day.setdefault(str(slot.get("day")), []).append(
                f"{slot.get('from')}–{slot.get('to')}")
    order = [d for d in DAYS if d in by_day] + [d for d in by_day if d not in DAYS]
    return " ; ".join(f"{_pick(DAY_WORDS, d, lang)} "
                      f"{', '.join(by_day[d])}" for d in order)


def _value_text(spec: FieldSpec, value: Any, lang: str) -> str:
    if spec.type == "boolean" and isinstance(value, bool):
        return translate(N_("oui") if value else N_("non"), lang)
    if spec.type == "enum" and isinstance(value, str):
        return spec.label_of(value, lang)
    if spec.type == "tags" and isinstance(value, list):
        return ", ".join(spec.label_of(str(v), lang) for v in value)
    if spec.type == "availability":
        return week(value, lang)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _tags_text(name: str, value: Any, lang: str) -> str:
    table = AUDIENCE_WORDS if name == "audiences" else ACCESS_WORDS
    if not isinstance(value, list):
        return str(value)
    return ", ".join(_pick(table, str(v), lang) for v in value)


def shown(spec: CategorySpec | None, attributes: Mapping[str, Any] | None, lang: str
          ) -> list[Shown]:
    """Every field of the category, labelled in ``lang``, with the value as received.

    Fields the item leaves empty are listed too (``empty``), so a moderator sees what
    is missing; attributes the category does not know (an older schema, an import)
    are listed last under their own names rather than dropped.
    """
    attributes = attributes or {}
    out: list[Shown] = []
    known = set(RESERVED)
    for spec_field in spec.fields if spec else ():
        known.add(spec_field.name)
        value = attributes.get(spec_field.name)
        empty = value in (None, "", [])
        out.append(Shown(spec_field.name, _label(spec_field, lang),
                         "—" if empty else _value_text(spec_field, value, lang), empty))
    for name in RESERVED:
        value = attributes.get(name)
        empty = value in (None, "", [])
        out.append(Shown(name, _reserved_label(name, lang),
                         "—" if empty else _tags_text(name, value, lang), empty))
    for name, value in attributes.items():
        if name not in known:
            out.append(Shown(name, name, str(value)))
    return out


def _choices(table: Mapping[str, str], allowed: tuple[str, ...], lang: str
             ) -> list[tuple[str, str]]:
    return [(v, _pick(table, v, lang)) for v in allowed]


def widgets(spec: CategorySpec | None, attributes: Mapping[str, Any] | None, lang: str
            ) -> list[Widget]:
    """The edit form's inputs for a category's fields, filled with the current values."""
    attributes = attributes or {}
    out: list[Widget] = []
    for f in spec.fields if spec else ():
        value = attributes.get(f.name)
        w = Widget(f.name, input_name(f.name), _label(f, lang), f.type, value,
                   required=f.required)
        if f.type in ("enum", "tags"):
            w.choices = [(c, f.label_of(c, lang)) for c in f.choices]
        if f.type == "availability":
            slots = [dict(s) for s in value if isinstance(s, Mapping)] \
                if isinstance(value, list) else []
            w.slots = slots + [{"day": "", "from": "", "to": ""}] * EMPTY_SLOTS
            w.choices = [(d, _pick(DAY_WORDS, d, lang)) for d in DAYS]
        out.append(w)
    if spec is not None:
        for name, table, allowed in (("audiences", AUDIENCE_WORDS, spec.audiences),
                                     ("accessibility", ACCESS_WORDS, spec.accessibility),
                                     ("accessibility_lacks", ACCESS_WORDS,
                                      spec.accessibility)):
            if allowed:
                out.append(Widget(name, input_name(name), _reserved_label(name, lang),
                                  "checks", attributes.get(name) or [],
                                  _choices(table, allowed, lang)))
    return out


def _number(raw: str, kind: str) -> Any:
    text = raw.strip().replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return text  # validation names it ("must be a finite integer")
    if kind == "integer" and number.is_integer():
        return int(number)
    return number


def from_form(spec: CategorySpec | None, form: FormValues) -> dict[str, Any]:
    """The attributes of an edit form, in the JSON shape a submission has.

    Empty inputs are left out (the field is then absent, as when a resident leaves it
    blank); a boolean is a three-way select (unknown, yes, no) so "not said" is kept.
    """
    out: dict[str, Any] = {}
    for f in spec.fields if spec else ():
        key = input_name(f.name)
        if f.type == "availability":
            days, starts, ends = (form.getlist(f"{key}_day"), form.getlist(f"{key}_from"),
                                  form.getlist(f"{key}_to"))
            slots = [{"day": d, "from": s.strip(), "to": e.strip()}
                     for d, s, e in zip(days, starts, ends, strict=False)
                     if d or s.strip() or e.strip()]
            if slots:
                out[f.name] = slots
            continue
        if f.type == "tags":
            picked = form.getlist(key)
            if picked:
                out[f.name] = picked
            continue
        raw = form.get(key)
        if raw is None or str(raw).strip() == "":
            continue
        raw = str(raw)
        if f.type == "boolean":
            out[f.name] = {"true": True, "false": False}.get(raw, raw)
        elif f.type in ("integer", "number"):
            out[f.name] = _number(raw, f.type)
        elif f.type in ("enum", "url"):
            out[f.name] = raw.strip()
        else:
            out[f.name] = raw.replace("\r\n", "\n")
    if spec is not None:
        for name in RESERVED:
            picked = form.getlist(input_name(name))
            if picked:
                out[name] = picked
    return out
