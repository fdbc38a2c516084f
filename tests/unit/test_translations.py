"""Every text the product shows is in a gettext catalogue, complete in every language.

A city that wants a third language adds one ``.po`` per domain and translates it; that
only works if no module or template keeps words in French and English side by side (a
``{"fr": ..., "en": ...}`` table, ``(French, English)`` pairs, ``"…" if lang == "en"
else "…"``) and if every catalogue is complete (an untranslated or fuzzy entry would show French, or
English, in the middle of a Spanish page or mail). Three domains:

* ``messages`` (``webmap/translations``): English msgids, the map and residents' pages;
* ``moderation`` (``moderation/translations``): French msgids, the moderation pages;
* ``community`` (``community/translations``): French msgids, the residents' mails sent
  by the worker (read without Flask by :mod:`community.i18n`).
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import jinja2
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from jinja2 import nodes as jinja_nodes

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("community", "geo", "ingestion", "mail", "moderation", "opendata", "photos",
            "tiles", "webmap")

# Words still written in two languages in code or templates, each with why. Remove a
# line when its words move; a new line needs a reason a catalogue cannot serve.
_VALIDATION = ("validation messages stay tables: the submission fast path has no Flask "
               "context and the map's script receives the same table")
NOT_MOVED_YET = {
    "ingestion/messages.py": _VALIDATION,
    "ingestion/photo_messages.py": _VALIDATION,
    "ingestion/duplicate_messages.py": _VALIDATION,
    "ingestion/api.py": "month names of the tracking page (_MONTHS); resident forms "
                        "engineer's functions this wave",
    "webmap/calendar_views.py": "the calendar's name (X-WR-CALNAME), chosen before any "
                                "template; webmap's messages catalogue, not moved yet",
    "webmap/feeds.py": "the feed's title; webmap's messages catalogue, not moved yet",
}

# domain -> (folder, source language, keywords, [(extraction method, glob)])
DOMAINS = {
    "messages": ("webmap", "en",
                 {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
                  "lazy_gettext": None},
                 [("python", "webmap/**/*.py"),
                  ("jinja2.ext:babel_extract", "webmap/templates/**/*.html"),
                  # rendered by the webmap app with its catalogue (submit, done, track)
                  ("jinja2.ext:babel_extract", "ingestion/templates/**/*.html")]),
    "moderation": ("moderation", "fr",
                   {"t": None, "tn": (1, 2), "tp": ((1, "c"), 2), "N_": None,
                    "NP_": ((1, "c"), 2)},
                   [("python", "moderation/*.py"),
                    ("jinja2.ext:babel_extract", "moderation/templates/moderation/*.html")]),
    "community": ("community", "fr", {"N_": None}, [("python", "community/*.py")]),
}
LANGUAGES = ("fr", "en")  # webmap.views.i18n.LOCALES: what a resident can choose


LANGUAGE_CODES = frozenset(LANGUAGES)
_LETTER = re.compile(r"[^\W\d_]")


def _is_words(value: object) -> bool:
    """Written text: a string with a letter that is not a language code."""
    return (isinstance(value, str) and value.strip() not in LANGUAGE_CODES
            and _LETTER.search(value) is not None)


def _has_text(node: ast.AST | list[ast.AST]) -> bool:
    return any(isinstance(n, ast.Constant) and _is_words(n.value)
               for item in (node if isinstance(node, list) else [node])
               for n in ast.walk(item))


def _on_language(test: ast.AST) -> bool:
    """``test`` compares something with a language code (``lang == "en"``)."""
    return isinstance(test, ast.Compare) and any(
        isinstance(n, ast.Constant) and n.value in LANGUAGE_CODES for n in ast.walk(test))


def _language_keyed(node: ast.Dict) -> bool:
    by_key = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
              if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return "fr" in by_key and "en" in by_key and (
        _has_text(by_key["fr"]) or _has_text(by_key["en"]))


def _text_pairs(node: ast.Dict) -> int:
    return sum(1 for v in node.values
               if isinstance(v, ast.Tuple) and len(v.elts) == 2
               and all(isinstance(e, ast.Constant) and _is_words(e.value) for e in v.elts))


def string_tables(source: str, name: str = "<string>") -> list[int]:
    """Lines of a module holding words in French and English side by side.

    * a dict literal keyed ``"fr"`` and ``"en"`` whose values hold written text;
    * in a module that picks by language (it compares with ``"en"`` or ``"fr"``), a
      dict of ``(French, English)`` pairs: ``{"approve": ("Approuvé", "Approved")}``;
    * a choice on the language between two texts, as an expression
      (``"Oui" if lang == "fr" else "Yes"``) or an ``if``/``else`` statement.

    ``{"fr": c.label_fr, "en": c.label_en}`` or ``c.label_en if lang == "en" else
    c.label_fr`` (data read from elsewhere, e.g. a category's labels from
    ``data/categories.json``) is not a table of strings, nor a choice of a language
    code (``"en" if lang == "fr" else "fr"``).
    """
    tree = ast.parse(source, name)
    picks_by_language = any(_on_language(n) for n in ast.walk(tree))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            if _language_keyed(node) or (picks_by_language and _text_pairs(node) >= 2):
                found.append(node.lineno)
        elif (isinstance(node, ast.IfExp | ast.If) and _on_language(node.test)
              and _has_text(node.body) and _has_text(node.orelse)):
            found.append(node.lineno)
    return sorted(found)


def _template_text(found: list[jinja_nodes.Node]) -> bool:
    kinds = (jinja_nodes.Const, jinja_nodes.TemplateData)
    for node in found:
        for leaf in [node, *node.find_all(kinds)]:
            if not isinstance(leaf, kinds):
                continue
            value = leaf.value if isinstance(leaf, jinja_nodes.Const) else leaf.data
            if isinstance(value, str) and _is_words(re.sub(r"&\w+;|<[^>]*>", " ", value)):
                return True
    return False


def template_choices(source: str) -> list[int]:
    """Lines of a Jinja template that choose between two texts by language.

    ``{{ "Citizen map" if lang == "en" else "Carte citoyenne" }}`` and ``{% if lang ==
    "en" %}Hello{% else %}Bonjour{% endif %}`` are; choosing data (``{{ c.label_en if
    lang == 'en' else c.label_fr }}``), punctuation (``{% if lang == 'en' %}“{% else
    %}«&nbsp;{% endif %}``) or a language code is not.
    """
    found = []
    tree = jinja2.Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do"]).parse(source)
    for node in tree.find_all((jinja_nodes.CondExpr, jinja_nodes.If)):
        if not any(isinstance(c, jinja_nodes.Const) and c.value in LANGUAGE_CODES
                   for c in node.test.find_all(jinja_nodes.Const)):
            continue
        if isinstance(node, jinja_nodes.CondExpr):
            one, other = [node.expr1], [node.expr2] if node.expr2 is not None else []
        else:
            one, other = node.body, [*node.elif_, *node.else_]
        if _template_text(one) and _template_text(other):
            found.append(node.lineno)
    return sorted(set(found))


def test_the_detector_finds_a_table_and_leaves_data_alone():
    assert string_tables('X = {"fr": {"title": "Titre"}, "en": {"title": "Title"}}') == [1]
    assert string_tables('X = {"fr": ("Ouvrir", "un habitant"), "en": ("Open", "a res")}')
    assert string_tables('def f(c):\n    return {"fr": c.label_fr, "en": c.label_en}') == []
    assert string_tables('LANGS = {"fr": 0, "en": 1}') == []
    pairs = ('W = {"approve": ("Approuvé", "Approved"), "refuse": ("Refusé", "Refused")}\n'
             'def word(code, lang):\n    return W[code][1 if lang == "en" else 0]\n')
    assert string_tables(pairs) == [1]
    # the same shape in a module that never picks a language: (label, media type), ...
    assert string_tables('F = {"csv": ("CSV (UTF-8)", "text/csv"), '
                         '"gpkg": ("GeoPackage", "application/geopackage")}') == []
    assert string_tables('def f(lang):\n    return "Oui" if lang == "fr" else "Yes"') == [2]
    assert string_tables('def f(lang, v):\n    return ("yes" if v else "no") '
                         'if lang == "en" else ("oui" if v else "non")') == [2]
    assert string_tables('def f(lang, n):\n    if lang == "en":\n        s = f"photo no. {n}"'
                         '\n    else:\n        s = f"photo n° {n}"\n    return s') == [2]
    assert string_tables('def f(c, lang):\n    return c.label_en if lang == "en" '
                         'else c.label_fr') == []
    assert string_tables('def f(lang):\n    return "en" if lang == "fr" else "fr"') == []
    assert string_tables('def f(lang):\n    return 1 if lang == "en" else 0') == []


def test_the_template_detector_finds_a_choice_of_words_and_leaves_data_alone():
    assert template_choices('{{ "Citizen map" if lang == "en" else "Carte citoyenne" }}') \
        == [1]
    assert template_choices("\n{% if lang == 'en' %}Hello{% else %}Bonjour{% endif %}") == [2]
    assert template_choices("{{ c.label_en if lang == 'en' else c.label_fr }}") == []
    assert template_choices("{% if lang == 'en' %}“{{ n }}”{% else %}«&nbsp;{{ n }}&nbsp;»"
                            "{% endif %}") == []
    assert template_choices('{% set other = "en" if lang == "fr" else "fr" %}') == []
    assert template_choices('<option {% if me.lang == "fr" %}selected{% endif %}>') == []


def _sources() -> list[Path]:
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*"))
            if path.suffix in (".py", ".html") and "migrations" not in path.parts]


def test_no_module_keeps_its_own_french_and_english_table_of_strings():
    offenders = {}
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel in NOT_MOVED_YET:
            continue
        source = path.read_text(encoding="utf-8")
        lines = (string_tables(source, rel) if path.suffix == ".py"
                 else template_choices(source))
        if lines:
            offenders[rel] = lines
    assert offenders == {}, (
        "put these words in the package's gettext catalogue (see community/i18n.py, "
        "moderation/i18n.py, webmap/views/i18n.py), not in a {'fr': ..., 'en': ...} "
        "table, (French, English) pairs or a choice on the language")


def test_every_module_still_listed_keeps_words_to_move():
    """A line of ``NOT_MOVED_YET`` goes once its words are in a catalogue."""
    moved = []
    for rel in NOT_MOVED_YET:
        path = ROOT / rel
        source = path.read_text(encoding="utf-8")
        lines = (string_tables(source, rel) if path.suffix == ".py"
                 else template_choices(source))
        if not lines:
            moved.append(rel)
    assert moved == [], "remove these lines from NOT_MOVED_YET"


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


def test_words_of_codes_read_the_moderation_catalogue_without_a_request():
    """Mails and pure functions pass the language; the words come from the same ``.mo``."""
    from moderation.fields import _reserved_label
    from moderation.i18n import ACTION_WORDS, DAY_WORDS, STATUS_WORDS, word

    assert word(ACTION_WORDS, "unblock", "en") == "Block lifted"
    assert word(DAY_WORDS, "mon", "en") == "Monday"
    assert word(STATUS_WORDS, "admin", "fr") == "administrateur"
    assert word(STATUS_WORDS, "admin", "de") == "administrateur"  # no catalogue: French
    assert word(STATUS_WORDS, "no-such-code", "en") == "no-such-code"
    # the same French words, translated otherwise where they name a field every
    # category may carry (a correction says "Accessibility (absent)")
    assert _reserved_label("accessibility_lacks", "en") == "Accessibility (known absent)"
