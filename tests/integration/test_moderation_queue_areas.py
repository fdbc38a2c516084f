"""The queue's area filter: every level of the city grouped under its parent.

Paris has two levels: each arrondissement is an ``<optgroup>`` whose first choice is the
arrondissement as a whole, then its quartiers. A city of three levels (sector, district,
block) nests the blocks under their district, indented, inside the sector's group. The
words of the levels are the city's own (city.json), in the page's language.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
import re
from types import SimpleNamespace

from moderation.queue import AreaGroup, AreaOption, area_groups
from tests.integration.test_three_levels import city_db, city_env  # noqa: F401
from tests.moderation_fixtures import mdb, mod_app, moderator, pending  # noqa: F401

NBSP4 = "\u00a0" * 4
WORDS = {"secteur": "secteur", "district": "district", "ilot": "îlot"}


def _row(code, name, kind, depth, parent, has_children):
    return SimpleNamespace(code=code, name=name, kind=kind, depth=depth, parent=parent,
                           has_children=has_children)


def _groups(rows):
    return area_groups(rows, WORDS.__getitem__, lambda level: f"{level} en entier")


def test_three_levels_nest_under_their_first_level_area():
    rows = [
        _row("S1", "Ouest", "secteur", 1, None, True),
        _row("S1D1", "Rive droite", "district", 2, "S1", True),
        _row("S1D1I1", "Îlot 1", "ilot", 3, "S1D1", False),
        _row("S1D1I2", "Îlot 2", "ilot", 3, "S1D1", False),
        _row("S1D2", "Rive gauche", "district", 2, "S1", False),
        _row("S2", "Est", "secteur", 1, None, False),
    ]
    assert _groups(rows) == [
        AreaGroup("Ouest", (
            AreaOption("S1", "Ouest (secteur en entier)"),
            AreaOption("S1D1", "Rive droite (district)"),
            AreaOption("S1D1I1", f"{NBSP4}Îlot 1 (îlot)"),
            AreaOption("S1D1I2", f"{NBSP4}Îlot 2 (îlot)"),
            AreaOption("S1D2", "Rive gauche (district)"),
        )),
        AreaGroup(None, (AreaOption("S2", "Est"),)),  # nothing under it: a lone choice
    ]


def test_a_city_of_one_level_is_a_flat_list():
    rows = [_row("D1", "Nord", "secteur", 1, None, False),
            _row("D2", "Sud", "secteur", 1, None, False)]
    assert [g.label for g in _groups(rows)] == [None, None]
    assert [o.text for g in _groups(rows) for o in g.options] == ["Nord", "Sud"]


def _select(page: str) -> str:
    return re.search(r'<select id="f-area".*?</select>', page, re.S).group(0)


def test_paris_arrondissements_group_their_quartiers_in_both_languages(moderator, mdb):
    sid = pending(mdb, title="Rosiers")  # in the 4e, quartier Saint-Gervais
    select = _select(moderator.get("/moderation/?lang=fr").get_data(as_text=True))
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    assert len(groups) == 20  # every arrondissement, in order, each with its quartiers
    assert groups[0][0] == "1er arrondissement" and groups[3][0] == "4e arrondissement"
    fourth = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', groups[3][1])
    assert fourth[0] == ("75104", "4e arrondissement (arrondissement en entier)")
    assert len(fourth) == 5  # the 4e and its four quartiers
    assert all(html.unescape(text).endswith(" (quartier)") for _, text in fourth[1:])
    assert "Saint-Gervais (quartier)" in [html.unescape(text) for _, text in fourth]
    assert sum(len(re.findall("<option ", body)) for _, body in groups) == 100  # 20 + 80
    english = _select(moderator.get("/moderation/?lang=en").get_data(as_text=True))
    assert "4e arrondissement (whole arrondissement)" in english
    assert "Saint-Gervais (quarter)" in html.unescape(english)
    # a quartier chosen is kept selected, and finds the submission
    quartier = next(code for code, text in fourth if "Saint-Gervais" in text)
    page = moderator.get(f"/moderation/?area={quartier}").get_data(as_text=True)
    assert f'<option value="{quartier}" selected>' in page
    assert f'name="items" value="{sid}:' in page


def test_a_city_of_three_levels_nests_blocks_under_districts_under_sectors(city_db):
    """The recursive query on a real three-level city, then the groups the page draws."""
    from sqlalchemy.orm import Session

    from moderation.queue import area_choices

    _, eng = city_db
    with Session(eng) as session:
        rows = area_choices(session)
    groups = _groups(rows)
    assert [g.label for g in groups] == [r.name for r in rows if r.depth == 1]
    for group in groups:
        codes = [o.code for o in group.options]
        assert len(codes) == 7  # the sector, its two districts, their four blocks
        depth = {r.code: r.depth for r in rows}
        assert [depth[c] for c in codes] == [1, 2, 3, 3, 2, 3, 3]  # each under its parent
        parent = {r.code: r.parent for r in rows}
        assert all(parent[c] == (codes[1] if i in (2, 3) else codes[4])
                   for i, c in enumerate(codes) if i in (2, 3, 5, 6))
        assert group.options[0].text.endswith("(secteur en entier)")
        assert [o.text.startswith(NBSP4) for o in group.options] == \
            [False, False, True, True, False, True, True]
