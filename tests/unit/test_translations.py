"""Every text the product shows is in a gettext catalogue, complete in every language.

A city that wants a third language adds one ``.po`` per domain and translates it; that
only works if no module keeps its own ``{"fr": ..., "en": ...}`` table of strings and
if every catalogue is complete (an untranslated or fuzzy entry would show French, or
English, in the middle of a Spanish page or mail). Three domains:

* ``messages`` (``webmap/translations``): English msgids, the map and residents' pages;
* ``moderation`` (``moderation/translations``): French msgids, the moderation pages;
* ``community`` (``community/translations``): French msgids, the residents' mails sent
  by the worker (read without Flask by :mod:`community.i18n`).
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("community", "geo", "ingestion", "mail", "moderation", "opendata", "photos",
            "tiles", "webmap")

# The tables still waiting for their move into a catalogue, with their owner this wave.
# Remove a line when its module is moved; never add one: put the strings in a catalogue.
NOT_MOVED_YET = {
    "moderation/community_messages.py",  # residents engineer (wave 5)
    "ingestion/api.py",                 # month names of the tracking page (_MONTHS)
}

# domain -> (folder, source language, keywords, [(extraction method, glob)])
DOMAINS = {
    "messages": ("webmap", "en",
                 {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
                  "lazy_gettext": None},
                 [("python", "webmap/**/*.py"),
                  ("jinja2.ext:babel_extract", "webmap/templates/**/*.html")]),
    "moderation": ("moderation", "fr",
                   {"t": None, "tn": (1, 2), "tp": ((1, "c"), 2)},
                   [("python", "moderation/*.py"),
                    ("jinja2.ext:babel_extract", "moderation/templates/moderation/*.html")]),
    "community": ("community", "fr", {"N_": None}, [("python", "community/*.py")]),
}
LANGUAGES = ("fr", "en")  # webmap.views.i18n.LOCALES: what a resident can choose


def _has_text(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.strip()
               for n in ast.walk(node))


def string_tables(source: str, name: str = "<string>") -> list[int]:
    """Lines of dict literals keyed ``"fr"`` and ``"en"`` whose values hold written text.

    ``{"fr": c.label_fr, "en": c.label_en}`` (data read from elsewhere, e.g. a
    category's labels from ``data/categories.json``) is not a table of strings.
    """
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Dict):
            by_key = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                      if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if "fr" in by_key and "en" in by_key and (
                    _has_text(by_key["fr"]) or _has_text(by_key["en"])):
                found.append(node.lineno)
    return found


def test_the_detector_finds_a_table_and_leaves_data_alone():
    assert string_tables('X = {"fr": {"title": "Titre"}, "en": {"title": "Title"}}') == [1]
    assert string_tables('X = {"fr": ("Ouvrir", "un habitant"), "en": ("Open", "a res")}')
    assert string_tables('def f(c):\n    return {"fr": c.label_fr, "en": c.label_en}') == []
    assert string_tables('LANGS = {"fr": 0, "en": 1}') == []


def test_no_module_keeps_its_own_french_and_english_table_of_strings():
    offenders = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "migrations" in path.parts or rel in NOT_MOVED_YET:
                continue
            lines = string_tables(path.read_text(encoding="utf-8"), rel)
            if lines:
                offenders[rel] = lines
    assert offenders == {}, (
        "put these strings in the package's gettext catalogue (see community/i18n.py, "
        "moderation/i18n.py, webmap/views/i18n.py), not in a {'fr': ..., 'en': ...} table")


def _catalogues(folder: str, domain: str) -> dict[str, Path]:
    return {p.parents[1].name: p
            for p in sorted((ROOT / folder / "translations").glob(f"*/LC_MESSAGES/{domain}.po"))}


def _read_po(path: Path):
    with path.open("rb") as fh:
        return read_po(fh, abort_invalid=True)


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else \
        [message.string]


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_supported_language_has_a_complete_catalogue(domain):
    folder, source, _keywords, _sources = DOMAINS[domain]
    catalogues = _catalogues(folder, domain)
    assert set(catalogues) | {source} >= set(LANGUAGES), (domain, sorted(catalogues))
    for lang, path in catalogues.items():
        catalogue = _read_po(path)
        assert not catalogue.fuzzy, f"{path}: the header is marked fuzzy"
        fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
        untranslated = [m.id for m in catalogue if m.id and not all(_strings(m))]
        assert fuzzy == [], (lang, domain, "fuzzy entries are not compiled: review them")
        assert untranslated == [], (lang, domain)


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_catalogue_is_compiled_as_written(domain):
    """The committed ``.mo`` is the ``.po`` compiled (a fresh clone reads the ``.mo``)."""
    folder, _source, _keywords, _sources = DOMAINS[domain]
    for lang, path in _catalogues(folder, domain).items():
        compiled = path.with_suffix(".mo")
        assert compiled.exists(), f"pybabel compile -D {domain} -d {folder}/translations"
        with compiled.open("rb") as fh:
            mo = read_mo(fh)

        def table(catalogue):
            return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)):
                    tuple(_strings(m)) for m in catalogue if m.id}

        assert table(_read_po(path)) == table(mo), (
            lang, f"recompile: pybabel compile -D {domain} -d {folder}/translations")


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_string_of_the_code_is_in_every_catalogue(domain):
    folder, _source, keywords, sources = DOMAINS[domain]
    found: dict[tuple[str | None, str], str] = {}
    for method, pattern in sources:
        for path in sorted(ROOT.glob(pattern)):
            if path.relative_to(ROOT).as_posix() in NOT_MOVED_YET:
                continue
            for line, message, _comments, context in extract_from_file(
                    method, str(path), keywords=keywords):
                msgid = message if isinstance(message, str) else message[0]
                found[(context, msgid)] = f"{path.relative_to(ROOT)}:{line}"
    assert found
    for lang, path in _catalogues(folder, domain).items():
        catalogue = _read_po(path)
        missing = {where: msgid for (context, msgid), where in found.items()
                   if (entry := catalogue.get(msgid, context=context)) is None
                   or not all(_strings(entry))}
        assert missing == {}, (lang, domain)


def _fields(text: str) -> set[str]:
    """The ``{name}`` placeholders of a ``str.format`` template."""
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text)
            if name is not None}


@pytest.mark.parametrize("domain", DOMAINS)
def test_translations_keep_the_placeholders_of_their_source(domain):
    """A translation that loses or renames ``{who}`` would fail in the mail worker."""
    folder, _source, _keywords, _sources = DOMAINS[domain]
    for lang, path in _catalogues(folder, domain).items():
        for m in _read_po(path):
            if not m.id or "python-brace-format" not in m.flags:
                continue
            ids = [m.id] if isinstance(m.id, str) else list(m.id)
            for text in _strings(m):
                assert _fields(text) == _fields(ids[-1]), (lang, m.id, text)
        errors = [(m.id, err) for m, errs in _read_po(path).check() for err in errs]
        assert errors == [], (lang, domain)  # python-format (%(n)s) placeholders too


def test_a_new_language_is_a_new_catalogue(tmp_path, monkeypatch):
    """A Spanish ``community.mo`` beside the others is enough for mails in Spanish."""
    from babel.messages.catalog import Catalog

    import community.i18n as i18n
    from community.residents import ANONYMOUS

    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog = Catalog(locale="es", domain="community", fuzzy=False)
    catalog.add("un·e habitant·e", "un·a vecino·a")
    with (folder / "community.mo").open("wb") as fh:
        write_mo(fh, catalog)
    for lang, path in _catalogues("community", "community").items():
        (tmp_path / lang / "LC_MESSAGES").mkdir(parents=True, exist_ok=True)
        (tmp_path / lang / "LC_MESSAGES" / "community.mo").write_bytes(
            path.with_suffix(".mo").read_bytes())
    monkeypatch.setattr(i18n, "LOCALEDIR", tmp_path)
    i18n.languages.cache_clear()
    i18n._translations.cache_clear()
    try:
        assert i18n.languages() == ("fr", "en", "es")
        assert ANONYMOUS["es"] == "un·a vecino·a"
        assert ANONYMOUS["en"] == "a resident"
        assert ANONYMOUS["de"] == "un·e habitant·e"  # no catalogue: the source, French
        assert i18n.language("de") == "fr"
    finally:
        monkeypatch.undo()
        i18n.languages.cache_clear()
        i18n._translations.cache_clear()
    assert i18n.languages() == ("fr", "en")
