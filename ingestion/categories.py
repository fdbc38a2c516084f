"""Categories: read ``data/categories.json``, turn it into specs, load it into the DB.

The file is the one readable source of truth (labels in French and English, kind,
fields, audiences, accessibility, colour, icon); the ``category`` table mirrors it and
``carte categories load`` upserts it, so it can be run again after every edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.models import Category, CategoryKind

from .errors import CategoryDataError

__all__ = [
    "FIELD_TYPES",
    "RESERVED_ATTRIBUTES",
    "CategorySpec",
    "FieldSpec",
    "load_categories",
    "read_categories",
    "specs_from_db",
]

FIELD_TYPES = frozenset({"text", "boolean", "integer", "number", "enum", "tags", "url",
                         "availability"})
RESERVED_ATTRIBUTES = frozenset({"audiences", "accessibility", "accessibility_lacks"})
"""Attributes every category may carry, checked against the category's lists.

``accessibility`` lists what is known present, ``accessibility_lacks`` what is known
absent; a feature naming neither is *unknown*, which the map's "hide places known not
to suit me" keeps and "only places known to suit me" leaves out."""
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_COLOUR = re.compile(r"^#[0-9a-f]{6}$")


@dataclass(frozen=True)
class FieldSpec:
    """One attribute a category's pins may (or must) carry."""

    name: str
    type: str
    required: bool = False
    label_fr: str = ""
    label_en: str = ""
    choices: tuple[str, ...] = ()
    max_length: int = 500
    min: float | None = None
    max: float | None = None
    # (value, French label, English label) for each choice of an enum or tags field:
    # the page shows labels, never codes.
    choice_labels: tuple[tuple[str, str, str], ...] = ()
    # Filled by imports only (a service's sources, the hotspots of its Wi-Fi): shown on
    # the place, not asked in the pin form.
    imported: bool = False

    def label_of(self, value: str, lang: str) -> str:
        """The label of one choice in ``lang`` (``fr`` or ``en``); the value if none."""
        for v, fr, en in self.choice_labels:
            if v == value:
                return en if lang == "en" else fr
        return value

    def as_json(self) -> dict[str, Any]:
        """The field as stored in ``category.fields`` and served by the API."""
        out: dict[str, Any] = {"name": self.name, "type": self.type,
                               "required": self.required, "label_fr": self.label_fr,
                               "label_en": self.label_en}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.choice_labels:
            out["choice_labels"] = {v: {"fr": fr, "en": en}
                                    for v, fr, en in self.choice_labels}
        if self.type == "text":
            out["max_length"] = self.max_length
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.imported:
            out["imported"] = True
        return out


@dataclass(frozen=True)
class CategorySpec:
    """A category as validation needs it (plain values, no database)."""

    slug: str
    kind: str
    label_fr: str
    label_en: str
    colour: str
    icon: str
    fields: tuple[FieldSpec, ...] = ()
    audiences: tuple[str, ...] = ()
    accessibility: tuple[str, ...] = ()
    description_fr: str = ""
    description_en: str = ""
    position: int = 0

    @property
    def needs_dates(self) -> bool:
        """Events must say when they start and end."""
        return self.kind == "event"

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name``, if the category has one."""
        return next((f for f in self.fields if f.name == name), None)


def _choice_labels(raw: Any, choices: tuple[str, ...], where: str,
                   *, required: bool) -> tuple[tuple[str, str, str], ...]:
    if raw is None and not required:
        return ()
    if not isinstance(raw, Mapping) or set(raw) != set(choices):
        raise CategoryDataError(f"{where}: choice_labels must give a label to each of "
                                f"{list(choices)} and nothing else")
    out = []
    for value in choices:
        labels = raw[value]
        if not isinstance(labels, Mapping) or not all(
                isinstance(labels.get(k), str) and labels[k].strip() for k in ("fr", "en")):
            raise CategoryDataError(f"{where}: choice_labels[{value!r}] needs fr and en")
        out.append((value, labels["fr"].strip(), labels["en"].strip()))
    return tuple(out)


def _field(raw: Mapping[str, Any], where: str, *, strict: bool = False) -> FieldSpec:
    """One field of a category; ``strict`` (the file) also demands choice labels."""
    name, ftype = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CategoryDataError(f"{where}: bad field name {name!r}")
    if ftype not in FIELD_TYPES:
        raise CategoryDataError(f"{where}.{name}: unknown type {ftype!r}")
    choices = tuple(raw.get("choices") or ())
    if ftype in ("enum", "tags") and not choices:
        raise CategoryDataError(f"{where}.{name}: {ftype} needs choices")
    labels = _choice_labels(raw.get("choice_labels"), choices, f"{where}.{name}",
                            required=strict and bool(choices))
    return FieldSpec(name=name, type=ftype, required=bool(raw.get("required", False)),
                     label_fr=str(raw.get("label_fr", "")), label_en=str(raw.get("label_en", "")),
                     choices=choices, max_length=int(raw.get("max_length", 500)),
                     min=raw.get("min"), max=raw.get("max"), choice_labels=labels,
                     imported=bool(raw.get("imported", False)))


def read_categories(path: Path) -> list[CategorySpec]:
    """Parse and check the categories file.

    Raises
    ------
    CategoryDataError
        The file is unreadable or a category breaks a rule the database would also
        refuse (slug, colour ``#rrggbb`` lower case, kind, unknown audience...).
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        audiences, access = set(doc["audiences"]), set(doc["accessibility"])
        raw_categories = doc["categories"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CategoryDataError(f"{path}: not a categories file ({exc})") from exc
    kinds = {k.value for k in CategoryKind}
    specs: list[CategorySpec] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_categories):
        slug = raw.get("slug")
        where = f"category {slug!r}"
        if not isinstance(slug, str) or not _SLUG.match(slug) or slug in seen:
            raise CategoryDataError(f"{where}: bad or repeated slug")
        seen.add(slug)
        if raw.get("kind") not in kinds:
            raise CategoryDataError(f"{where}: kind must be one of {sorted(kinds)}")
        if not _COLOUR.match(str(raw.get("colour", ""))):
            raise CategoryDataError(f"{where}: colour must be #rrggbb in lower case")
        for key in ("label_fr", "label_en", "icon"):
            if not str(raw.get(key, "")).strip():
                raise CategoryDataError(f"{where}: {key} is empty")
        bad = set(raw.get("audiences", ())) - audiences | set(raw.get("accessibility", ())) - access
        if bad:
            raise CategoryDataError(f"{where}: unknown audience/accessibility {sorted(bad)}")
        fields = tuple(_field(f, where, strict=True) for f in raw.get("fields", ()))
        reserved = {f.name for f in fields} & RESERVED_ATTRIBUTES
        if reserved:
            raise CategoryDataError(f"{where}: {sorted(reserved)} are attributes of every "
                                    "category (lists of slugs), not fields")
        if len({f.name for f in fields}) != len(fields):
            raise CategoryDataError(f"{where}: repeated field name")
        specs.append(CategorySpec(
            slug=slug, kind=raw["kind"], label_fr=raw["label_fr"], label_en=raw["label_en"],
            colour=raw["colour"], icon=raw["icon"], fields=fields,
            audiences=tuple(raw.get("audiences", ())),
            accessibility=tuple(raw.get("accessibility", ())),
            description_fr=raw.get("description_fr", ""),
            description_en=raw.get("description_en", ""), position=position))
    return specs


def load_categories(session: Session, specs: Sequence[CategorySpec]) -> int:
    """Upsert ``specs`` into ``category`` (idempotent); returns how many were written.

    Categories missing from the file are deactivated, not deleted: features refer to them.
    """
    for spec in specs:
        values = {
            "slug": spec.slug, "kind": CategoryKind(spec.kind), "label_fr": spec.label_fr,
            "label_en": spec.label_en, "description_fr": spec.description_fr,
            "description_en": spec.description_en, "colour": spec.colour, "icon": spec.icon,
            "fields": [f.as_json() for f in spec.fields], "audiences": list(spec.audiences),
            "accessibility": list(spec.accessibility), "position": spec.position,
            "active": True,
        }
        stmt = insert(Category).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Category.slug],
            set_={k: stmt.excluded[k] for k in values if k != "slug"})
        session.execute(stmt)
    slugs = [s.slug for s in specs]
    for cat in session.scalars(select(Category).where(Category.slug.not_in(slugs))):
        cat.active = False
    return len(specs)


def specs_from_db(session: Session) -> dict[str, CategorySpec]:
    """The active categories as specs, keyed by slug (what the API validates against)."""
    out: dict[str, CategorySpec] = {}
    for cat in session.scalars(select(Category).where(Category.active)
                               .order_by(Category.position, Category.slug)):
        fields = tuple(_field(f, f"category {cat.slug!r}") for f in cat.fields or ())
        out[cat.slug] = CategorySpec(
            slug=cat.slug, kind=str(cat.kind), label_fr=cat.label_fr, label_en=cat.label_en,
            colour=cat.colour, icon=cat.icon, fields=fields,
            audiences=tuple(cat.audiences or ()), accessibility=tuple(cat.accessibility or ()),
            description_fr=cat.description_fr, description_en=cat.description_en,
            position=cat.position)
    return out
