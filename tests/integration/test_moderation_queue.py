"""The queue page: oldest first, map, area, spam, duplicates, flags, filters, escaping."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

import re

from tests.moderation_fixtures import (  # noqa: F401
    csrf_of,
    mdb,
    mod_app,
    moderator,
    pending,
    published,
    scalar,
)


def ids_in(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'name="items" value="(\d+):\d+"', html)]


def test_queue_lists_pending_oldest_first_with_everything_a_moderator_needs(moderator, mdb):
    fid = published(mdb)
    young = pending(mdb, title="Jeune", age_minutes=1)
    old = pending(mdb, title="Vieux", age_minutes=60, duplicate_of=fid, spam=0.8)
    html = moderator.get("/moderation/").get_data(as_text=True)
    assert ids_in(html) == [old, young]
    assert "2 soumissions en attente" in html
    assert '<svg class="minimap"' in html and 'href="#area-75104"' in html  # 4e arr.
    assert '<path id="area-75104"' in html
    assert "4e arrondissement" in html and "<small>Saint-" in html  # arrondissement, quartier
    assert "0.80" in html and "many links" in html
    assert f"point n° {fid}" in html and " m" in html
    assert "Jardin" in html  # category label


def test_open_flags_are_on_the_queue_page(moderator, mod_app, mdb):
    fid = published(mdb)
    mod_app.test_client().post(f"/api/v1/features/{fid}/flags", json={"reason": "fermé"})
    html = moderator.get("/moderation/").get_data(as_text=True)
    assert "Signalements ouverts" in html and "fermé" in html
    assert f"/moderation/features/{fid}" in html


def test_filters_by_area_category_and_source(moderator, mdb):
    in_4e = pending(mdb, title="Quatrième")                       # 4e
    in_16e = pending(mdb, title="Seizième", lon=2.2700, lat=48.8600)  # 16e
    soupe = pending(mdb, title="Soupe", category="soupe-test", source="import-asso")
    assert ids_in(moderator.get("/moderation/?area=75116").get_data(as_text=True)) == [in_16e]
    assert ids_in(moderator.get("/moderation/?category=soupe-test").get_data(as_text=True)) \
        == [soupe]
    assert ids_in(moderator.get("/moderation/?source=import-asso").get_data(as_text=True)) \
        == [soupe]
    quartier = scalar(mdb, "SELECT q.code FROM submission s JOIN area q ON q.id = s.area_ids[2] "
                           "WHERE s.id = :i", i=in_4e)
    assert in_4e in ids_in(moderator.get(f"/moderation/?area={quartier}").get_data(as_text=True))
    html = moderator.get("/moderation/?area=75116").get_data(as_text=True)
    assert '<option value="75116" selected>' in html


def test_queue_pages_with_a_next_link(moderator, mdb):
    for i in range(55):
        pending(mdb, title=f"n{i}", age_minutes=100 - i)
    html = moderator.get("/moderation/").get_data(as_text=True)
    assert len(ids_in(html)) == 50
    link = re.search(r'href="(/moderation/\?[^"]+)" rel="next"', html).group(1)
    second = moderator.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert len(ids_in(second)) == 5
    assert not set(ids_in(html)) & set(ids_in(second))


def test_user_text_is_escaped_everywhere(moderator, mdb):
    sid = pending(mdb, title="<script>alert(1)</script>", description="<img src=x onerror=y>")
    for path in ("/moderation/", f"/moderation/submissions/{sid}"):
        html = moderator.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html


def test_queue_is_keyboard_usable_labelled_and_loads_nothing_from_elsewhere(moderator, mdb):
    pending(mdb)
    html = moderator.get("/moderation/").get_data(as_text=True)
    assert 'class="skip" href="#main"' in html
    for control in re.findall(r'<(?:select|input)[^>]*id="([^"]+)"', html):
        assert f'<label for="{control}"' in html, control
    assert "<script>" not in html and "onclick" not in html and "style=" not in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_detail_page_shows_nearby_merge_candidates_and_decision_forms(moderator, mdb):
    fid = published(mdb, lon=2.3581, lat=48.8571, title="Jardin des Rosiers")
    sid = pending(mdb)
    html = moderator.get(f"/moderation/submissions/{sid}").get_data(as_text=True)
    assert f"Fusionner dans n° {fid}" in html
    for action in ("approve", "refuse", "edit", "merge"):
        assert f'action="/moderation/submissions/{sid}/{action}"' in html
    assert html.count('name="csrf_token"') >= 5
    assert csrf_of(moderator, f"/moderation/submissions/{sid}")


def test_static_script_and_style_are_served_by_us(moderator):
    with moderator.get("/moderation/static/moderation.js") as js, \
            moderator.get("/moderation/static/moderation.css") as css:
        assert js.status_code == css.status_code == 200
        assert "pointerdown" in js.get_data(as_text=True)
