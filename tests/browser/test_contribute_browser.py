"""A resident contributes one item of every category from the map's form, in French and
English, each field through its own input; wrong values are explained next to their field.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.config import data_dir
from ingestion.categories import read_categories
from moderation.accounts import create_user
from tests.browser.conftest import screenshot
from tests.ingestion_fixtures import categories_loaded  # noqa: F401 - a fixture

PHONE = {"width": 375, "height": 740}
HOTEL_DE_VILLE = "#map=16/48.85700/2.35400"
PASSWORD = "correct horse battery staple"
PARIS = ZoneInfo("Europe/Paris")
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def contrib(app, categories_loaded, clean_db):  # noqa: F811 - the fixture above
    app.config["INGEST_RATE_LIMIT"] = "1000/60"
    with Session(clean_db) as s, s.begin():
        create_user(s, "mod-contrib@example.org", "moderator", PASSWORD)
    return clean_db


def open_form(page) -> None:
    page.locator("#btn-pin:visible, #fab-pin:visible").first.click()
    expect(page.locator("#pin-form")).to_be_visible()
    page.locator("#pin-centre").click()  # the pin at the centre of the map


def fill_category(page, cat, lang: str, n: int) -> tuple[str, dict]:
    """Fill every field of ``cat`` through its own input; the title and expected attributes."""
    page.locator("#f-category").select_option(cat.slug)
    title = f"{cat.label_en if lang == 'en' else cat.label_fr} n°{n} ({lang})"
    page.locator("#f-title").fill(title)
    page.locator("#f-description").fill(f"Tout est dit: {cat.slug}")
    expected: dict = {}
    for f in cat.fields:
        if f.imported:  # filled by the city's open data only, never asked of a resident
            expect(page.locator(f"#attr-{f.name}")).to_have_count(0)
            continue
        box = page.locator(f"#attr-{f.name}")
        if f.type == "text":
            value = f"{f.name} de {cat.slug}"[:f.max_length]  # the input's maxlength
            box.fill(value)
        elif f.type == "boolean":
            box.check()
            value = True
        elif f.type == "enum":
            value = f.choices[-1]
            box.select_option(label=f.label_of(value, lang))  # shown by its label
        elif f.type in ("integer", "number"):
            value = int(f.min or 0) + 1 if f.type == "integer" else 1.5
            box.fill(str(value))
        elif f.type == "url":
            value = f"https://example.org/{cat.slug}"
            box.fill(value)
        else:  # availability: a slot, copied to the next day, a third added then removed
            rows = box.locator("[data-slot]")
            if rows.count() == 0:
                box.locator("[data-slot-add]").click()
            first = rows.first
            first.locator("[data-slot-day]").select_option("sat")
            first.locator("[data-slot-time=from]").fill("10:00")
            first.locator("[data-slot-time=to]").fill("12:30")
            first.locator("[data-slot-copy]").click()
            box.locator("[data-slot-add]").click()
            expect(rows).to_have_count(3)
            rows.nth(2).locator("[data-slot-remove]").click()
            expect(rows).to_have_count(2)
            value = [{"day": "sat", "from": "10:00", "to": "12:30"},
                     {"day": "sun", "from": "10:00", "to": "12:30"}]
        expected[f.name] = value
    if cat.audiences:
        page.locator(f"#attr-audiences input[value={cat.audiences[-1]}]").check()
        expected["audiences"] = [cat.audiences[-1]]
    if cat.accessibility:
        page.locator(f"#access-{cat.accessibility[0]}").select_option("yes")
        expected["accessibility"] = [cat.accessibility[0]]
        if len(cat.accessibility) > 1:
            page.locator(f"#access-{cat.accessibility[1]}").select_option("no")
            expected["accessibility_lacks"] = [cat.accessibility[1]]
    if cat.kind == "event":
        day = (datetime.now(PARIS) + timedelta(days=4)).date()
        page.locator("#f-starts").fill(f"{day}T18:30")
        page.locator("#f-ends").fill(f"{day}T22:00")
    page.locator("#f-email").fill("resident@example.org")
    page.locator("#f-charter").check()
    return title, expected


@pytest.mark.parametrize(("lang", "viewport"), [("fr", PHONE), ("en", None)])
def test_every_category_is_submitted_from_the_map_with_every_field(
        page_factory, live_server, contrib, lang, viewport):
    specs = read_categories(data_dir() / "categories.json")
    page, rec = page_factory(**(viewport or {}), locale="fr-FR" if lang == "fr" else "en-GB")
    page.goto(live_server + f"/?lang={lang}" + HOTEL_DE_VILLE)
    sent = []
    for n, cat in enumerate(specs):
        open_form(page)
        title, expected = fill_category(page, cat, lang, n)
        if cat.slug == "mission-benevole":
            page.locator("#attr-availability").scroll_into_view_if_needed()
            screenshot(page, f"contribute-slots-{lang}")
        page.locator("#pin-form button[type=submit]").click()
        expect(page.locator("#pin-tracking")).to_be_visible()
        sent.append((cat, title, expected))
    screenshot(page, f"contribute-all-{lang}")
    with contrib.connect() as conn:
        rows = {r.title: r for r in conn.execute(text(
            "SELECT id, status::text, category, title, attributes, starts_at, ends_at "
            "FROM submission"))}
    assert len(rows) == len(specs)
    for cat, title, expected in sent:
        row = rows[title]
        assert row.status == "pending" and row.category == cat.slug
        assert row.attributes == expected, cat.slug
        if cat.kind == "event":  # typed as the city's wall clock
            assert row.starts_at.astimezone(PARIS).strftime("%H:%M") == "18:30"
    # a moderator sees each with its values
    mod, _ = page_factory()
    mod.goto(live_server + "/auth/login")
    mod.locator("#email").fill("mod-contrib@example.org")
    mod.locator("#password").fill(PASSWORD)
    mod.locator("form button[type=submit]").click()
    for cat, title, expected in sent:
        mod.goto(live_server + f"/moderation/submissions/{rows[title].id}")
        body = mod.locator("body")
        expect(body).to_contain_text(title)
        for name, value in expected.items():
            if isinstance(value, str) and not value.startswith("http"):
                if cat.field(name) and cat.field(name).type == "enum":
                    continue  # shown by its label, in the moderator's language
                expect(body).to_contain_text(value)
    assert rec.page_errors == [] and rec.dialogs == []


MESSAGES = {
    "fr": {"title": "Titre : obligatoire",
           "attr-area_m2": re.compile(r"Surface \(m²\) : entre 0 et 1\s000\s000"),
           "attr-website": "Site web : une adresse web commençant par https://",
           "attr-hours": "Horaires (jours et heures) : créneau 1 : la fin doit suivre le début",
           "email": "Courriel : adresse non valable (exemple : nom@exemple.fr)",
           "charter": "Charte : acceptez la charte des contributeurs"},
    "en": {"title": "Title: required",
           "attr-area_m2": re.compile(r"Area \(m²\): between 0 and 1,000,000"),
           "attr-website": "Website: a web address starting with https://",
           "attr-hours": "Opening times (days and hours): slot 1: the end must come after "
                         "the start",
           "email": "Email: not a valid address (e.g. name@example.org)",
           "charter": "Charter: accept the contributor charter"},
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_each_kind_of_field_filled_wrongly_is_explained_next_to_it(
        page_factory, live_server, contrib, lang):
    page, rec = page_factory(**PHONE, locale="fr-FR")
    page.goto(live_server + f"/?lang={lang}" + HOTEL_DE_VILLE)
    open_form(page)
    page.locator("#f-category").select_option("jardin-partage")
    page.locator("#f-title").fill("\u200b\u2060 ")  # invisible: counts as empty
    page.locator("#attr-area_m2").fill("-5")
    page.locator("#attr-website").fill("jardin.example.org")
    page.locator("#attr-hours [data-slot-add]").click()
    slot = page.locator("#attr-hours [data-slot]").first
    slot.locator("[data-slot-time=from]").fill("14:00")
    slot.locator("[data-slot-time=to]").fill("09:00")
    page.locator("#f-email").fill("nope")
    page.locator("#pin-form button[type=submit]").click()
    for field, message in MESSAGES[lang].items():
        expect(page.locator(f"#err-{field} .line")).to_have_count(1)
        expect(page.locator(f"#err-{field}")).to_have_text(message)
    expect(page.locator("#f-title")).to_be_focused()  # the first faulty field
    screenshot(page, f"contribute-errors-{lang}")
    # an event ending before it starts, and a capacity under its minimum
    page.locator("#f-category").select_option("disco-soupe")
    page.locator("#f-title").fill("Soupe")
    day = (datetime.now(PARIS) + timedelta(days=4)).date()
    page.locator("#f-starts").fill(f"{day}T18:30")
    page.locator("#f-ends").fill(f"{day}T17:00")
    page.locator("#attr-capacity").fill("0")
    page.locator("#f-email").fill("")
    page.locator("#f-charter").check()
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#err-ends_at")).to_have_text(
        "Fin : avant le début" if lang == "fr" else "End: before the start")
    expect(page.locator("#err-attr-capacity")).to_have_text(
        "Nombre de places : entre 1 et 10\u202f000" if lang == "fr"
        else "Capacity: between 1 and 10,000")
    expect(page.locator("#f-ends")).to_be_focused()
    with contrib.connect() as conn:  # the browser sent nothing
        assert conn.execute(text("SELECT count(*) FROM submission")).scalar_one() == 0
    assert rec.page_errors == []


def test_a_rate_limit_is_said_at_the_top_and_what_was_typed_is_kept(
        page_factory, live_server, contrib, app):
    app.config["INGEST_RATE_LIMIT"] = "1/600"
    page, _ = page_factory(**PHONE)
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    open_form(page)
    page.locator("#f-category").select_option("fontaine")
    page.locator("#f-title").fill("Fontaine Wallace")
    page.locator("#f-charter").check()
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#pin-tracking")).to_be_visible()
    open_form(page)
    page.locator("#f-category").select_option("fontaine")
    page.locator("#f-title").fill("Fontaine Albien")
    page.locator("#attr-model").fill("Wallace")
    page.locator("#f-charter").check()
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#pin-top")).to_contain_text(re.compile(r"réessayez dans \d+ minutes?"))
    expect(page.locator("#pin-top")).to_be_focused()
    expect(page.locator("#f-title")).to_have_value("Fontaine Albien")
    expect(page.locator("#attr-model")).to_have_value("Wallace")
    assert page.locator("#pin-form .error:not(#pin-top) .line").count() == 0


def _publish_garden(engine, title="Jardin Saint-Merri", lon=2.3540, lat=48.8570):
    from geo.publish import FeatureDraft, publish_feature

    with Session(engine) as s, s.begin():
        return publish_feature(s, FeatureDraft(
            category="jardin-partage", title=title, lon=lon, lat=lat,
            description="Un jardin au pied de l'église.",
            attributes={"garden_type": "shared"}), max_zoom=2).id


def _login(page, live_server):
    page.goto(live_server + "/auth/login")
    page.locator("#email").fill("mod-contrib@example.org")
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()


def test_a_pin_next_to_the_same_place_is_warned_and_the_residents_answer_kept(
        page_factory, live_server, contrib):
    garden = _publish_garden(contrib)
    page, rec = page_factory(**PHONE)
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    open_form(page)  # the pin at the map's centre: 0 m from the garden
    page.locator("#f-category").select_option("jardin-partage")
    page.locator("#f-title").fill("Jardin Saint Merri")
    dupes = page.locator("#pin-dupes")
    expect(dupes).to_be_visible()
    expect(dupes.locator(f"[data-dupe='{garden}']")).to_contain_text("Jardin Saint-Merri — à 0 m")
    page.locator("#f-charter").check()
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#err-dupes")).to_contain_text("cochez « différent »")
    page.locator("#f-different").check()
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#pin-tracking")).to_be_visible()
    with contrib.connect() as conn:
        reasons = conn.execute(text("SELECT spam_reasons FROM submission")).scalar_one()
    assert {"rule": "confirmed_different", "score": 0.0,
            "reason": f"the resident confirmed it is different from #{garden}"} in reasons
    assert rec.page_errors == []


def test_a_change_and_a_closure_proposed_then_approved_and_refused(
        page_factory, live_server, contrib, app):
    app.config["CHANGES_SETTLE_SECONDS"] = 0
    garden = _publish_garden(contrib)
    permalink = live_server + f"/#map=17/48.85700/2.35400&f={garden}"
    page, rec = page_factory(**PHONE)
    page.goto(permalink)
    expect(page.locator("#detail-title")).to_have_text("Jardin Saint-Merri")
    page.get_by_role("button", name="Proposer une correction").click()
    expect(page.locator("#c-description")).to_have_value("Un jardin au pied de l'église.")
    page.locator("#c-description").fill("Bacs comestibles au pied de l'église.")
    page.locator("#c-garden_type").select_option(label="Jardin pédagogique")
    page.locator("#c-website").fill("pas une adresse")
    page.locator("#correct-form button[type=submit]").click()
    expect(page.locator("#c-err-website")).to_have_text(
        "Site web : une adresse web commençant par https://")
    page.locator("#c-website").fill("https://example.org/jardin")
    page.locator("#c-comment").fill("Ce sont des bacs, et l'école y jardine.")
    page.locator("#correct-form button[type=submit]").click()
    expect(page.locator("#correct-thanks")).to_contain_text("Merci")
    change_track = page.locator("#correct-tracking").get_attribute("href")
    # the public place is untouched until a moderator decides
    page.reload()
    expect(page.locator("#detail-description")).to_have_text("Un jardin au pied de l'église.")
    page.get_by_role("button", name="Signaler une fermeture").click()
    page.locator("#c-comment").fill("Fermé depuis septembre.")
    page.locator("#correct-form button[type=submit]").click()
    expect(page.locator("#correct-thanks")).to_be_visible()
    closed_track = page.locator("#correct-tracking").get_attribute("href")
    screenshot(page, "correction-sent")

    mod, _ = page_factory()
    _login(mod, live_server)
    mod.goto(live_server + "/moderation/corrections")
    items = mod.locator("section.item")
    expect(items).to_have_count(2)
    first = items.nth(0)
    expect(first.locator("table.diff")).to_contain_text("Bacs comestibles au pied de l'église.")
    expect(first.locator("table.diff")).to_contain_text("https://example.org/jardin")
    expect(items.nth(1)).to_contain_text("Signalé fermé par un habitant")
    first.get_by_role("button", name="Approuver la correction").click()
    expect(mod.locator("section.item")).to_have_count(1)
    mod.locator("section.item input[name=reason]").fill("Toujours ouvert, vérifié sur place.")
    mod.locator("section.item").get_by_role("button", name="Refuser").click()
    expect(mod.locator("section.item")).to_have_count(0)

    # the map, the open data and the tracking pages show the result
    viewer, _ = page_factory()
    viewer.goto(permalink)
    expect(viewer.locator("#detail-description")).to_have_text(
        "Bacs comestibles au pied de l'église.")
    expect(viewer.locator("#detail-attributes")).to_contain_text("Jardin pédagogique")
    ogc = viewer.request.get(live_server + f"/ogc/collections/features/items/{garden}?f=json")
    assert ogc.json()["properties"]["description"] == "Bacs comestibles au pied de l'église."
    feed = viewer.request.get(live_server + "/api/v1/changes").json()["changes"]
    assert any(c.get("feature_id", c.get("id")) == garden and c.get("version") == 2
               for c in feed) or "Bacs comestibles" in str(feed)
    viewer.goto(live_server + change_track)
    expect(viewer.locator("#status")).to_have_text("Publiée")
    expect(viewer.locator("#on-map")).to_be_visible()
    viewer.goto(live_server + closed_track)
    expect(viewer.locator("#status")).to_have_text("Refusée")
    expect(viewer.locator("#reason")).to_have_text("Toujours ouvert, vérifié sur place.")
    expect(viewer.locator("#history li")).to_have_count(3)
    screenshot(viewer, "correction-tracking")
    assert rec.page_errors == []


def test_a_flag_has_a_short_list_of_reasons_and_a_second_one_says_it_was_received(
        page_factory, live_server, contrib):
    garden = _publish_garden(contrib)
    permalink = live_server + f"/#map=17/48.85700/2.35400&f={garden}"
    page, rec = page_factory(**PHONE)
    page.goto(permalink)
    page.locator("#flag-box summary").click()
    page.locator("#flag-form button[type=submit]").click()  # neither a reason nor text
    expect(page.locator("#flag-status")).not_to_be_empty()
    page.get_by_label("Mauvais emplacement").check()
    page.locator("#flag-reason").fill("Il est de l'autre côté de la rue")
    page.locator("#flag-form button[type=submit]").click()
    expect(page.locator("#flag-done")).to_have_text("Merci : un modérateur va examiner ce lieu.")
    with contrib.connect() as conn:
        reason = conn.execute(text("SELECT reason FROM flag")).scalar_one()
    assert reason == "Mauvais emplacement — Il est de l'autre côté de la rue"
    again, _ = page_factory(**PHONE)  # the same connection, another visit
    again.goto(permalink)
    again.locator("#flag-box summary").click()
    again.get_by_label("Ce lieu n'existe plus").check()
    again.locator("#flag-form button[type=submit]").click()
    expect(again.locator("#flag-done")).to_contain_text("Vous aviez déjà signalé ce lieu")
    with contrib.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flag")).scalar_one() == 1
    assert rec.page_errors == []


def test_a_pin_dropped_offline_waits_on_the_device_and_is_sent_once_when_back(
        page_factory, live_server, contrib):
    page, rec = page_factory(**PHONE, service_workers="allow")
    page.goto(live_server + "/" + HOTEL_DE_VILLE)
    manifest = page.request.get(live_server + "/manifest.webmanifest")
    assert manifest.ok and manifest.json()["start_url"] == "/"
    assert page.request.get(live_server + "/sw.js").headers["content-type"].startswith(
        "text/javascript")
    page.wait_for_function(
        "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    # the shell is kept once the worker has it (the page tells it what it was built from)
    page.wait_for_function(
        "async () => !!(await caches.match('/', {ignoreVary: true})) && "
        "!!(await caches.match('/static/map/app.js', {ignoreVary: true}))")
    open_form(page)
    page.locator("#f-category").select_option("fontaine")
    page.locator("#f-title").fill("Fontaine hors ligne")
    page.locator("#f-charter").check()
    page.context.set_offline(True)
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#pin-thanks")).to_contain_text("Pas de réseau")
    expect(page.locator("#pin-outbox")).to_have_text("1 point(s) en attente d'envoi")
    with contrib.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM submission")).scalar_one() == 0
    page.context.set_offline(False)
    expect(page.locator("#pin-tracking")).to_be_visible(timeout=10_000)
    expect(page.locator("#pin-outbox")).to_be_hidden()
    page.reload()  # nothing is sent again
    page.wait_for_timeout(500)
    with contrib.connect() as conn:
        rows = conn.execute(text("SELECT title, idempotency_key IS NOT NULL FROM submission")).all()
    assert rows == [("Fontaine hors ligne", True)]
    assert rec.page_errors == []
