"""Deciding from the queue, and going on to the next item, over HTTP.

A moderator approves a queue row in one click or refuses it with a reason, without
opening it; the decision goes through the item's own route (same checks, audit, mail
to the resident, publication) and the moderator comes back to the queue at the same
filters, scrolled to the next row, told what was decided. On an item page, a decision
leads to the next waiting item of the same filters (oldest first), and "Suivant" /
"Précédent" links walk the queue without deciding.

The forms are read from the pages themselves (as a browser would post them), so a
field the templates forget fails here.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text

from tests.moderation_fixtures import (  # noqa: F401
    MOD,
    mdb,
    mod_app,
    moderator,
    pending,
    published,
    row,
    scalar,
)


class _Forms(HTMLParser):
    """Each form of a page by id: its action and the fields it would post.

    Fields belong to their enclosing form, or to the one their ``form`` attribute names
    (the queue rows' controls sit inside the bulk form but post with their own).
    """

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict] = {}
        self._open: str | None = None
        self._select: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._open = a.get("id") or f"form-{len(self.forms)}"
            # controls of the queue rows come before their form (form="…")
            self.forms.setdefault(self._open, {"fields": {}, "required": []})
            self.forms[self._open]["action"] = a.get("action")
        elif tag in ("input", "select", "textarea") and a.get("name"):
            owner = a.get("form") or self._open
            if owner is None:
                return
            form = self.forms.setdefault(owner, {"action": None, "fields": {}, "required": []})
            if "required" in a:
                form["required"].append(a["name"])
            if tag == "input" and a.get("type") not in ("checkbox", "submit"):
                form["fields"][a["name"]] = a.get("value", "")
            elif tag == "select":
                form["fields"][a["name"]] = ""
                self._select = (owner, a["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None
        elif tag == "select":
            self._select = None


def forms_of(page: str) -> dict[str, dict]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def flashes(page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", m))
            for m in re.findall(r'<p class="flash ok">(.*?)</p>', page, re.S)]


def outbox(engine) -> list[tuple[str, str]]:
    """Every queued mail (to, template), oldest first: the tests decide one at a time."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT to_addr, template FROM mail_outbox ORDER BY id"))]


def audit(engine, sid: int) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT e.action::text, u.email, e.reason FROM moderation_event e "
            "LEFT JOIN app_user u ON u.id = e.actor_id WHERE e.submission_id = :s "
            "ORDER BY e.id"), {"s": sid})]


def test_approve_from_the_queue_in_one_click(moderator, mdb):
    first = pending(mdb, title="Jardin des Rosiers", age_minutes=30)
    second = pending(mdb, title="Jardin du Marais", age_minutes=20)
    other = pending(mdb, title="Soupe du dimanche", category="soupe-test", age_minutes=25)
    queue = moderator.get("/moderation/?category=jardin-test").get_data(as_text=True)
    form = forms_of(queue)[f"qa-{first}"]
    assert form["action"] == f"/moderation/submissions/{first}/approve"
    # the queue's filter travels with the decision (prefixed: the edit form has its own
    # "category"); the other category's row is not on this page
    assert form["fields"]["then"] == "queue" and form["fields"]["f_category"] == "jardin-test"
    assert f'id="item-{other}"' not in queue and f'id="item-{second}"' in queue

    response = moderator.post(form["action"], data=form["fields"])
    assert response.status_code == 303
    assert response.location == f"/moderation/?category=jardin-test#item-{second}"
    sub = row(mdb, "SELECT status::text, feature_id FROM submission WHERE id = :i", i=first)
    assert sub.status == "approved"
    assert scalar(mdb, "SELECT status::text FROM feature WHERE id = :i",
                  i=sub.feature_id) == "published"
    assert audit(mdb, first) == [("approve", MOD, None)]
    assert outbox(mdb) == [("resident@example.net", "decision_approved")]
    back = moderator.get(response.location).get_data(as_text=True)
    assert flashes(back) == [f"n° {first} « Jardin des Rosiers » approuvé : publié sur la "
                             f"carte (point n° {sub.feature_id})."]
    assert f'id="item-{first}"' not in back and f'id="item-{second}"' in back

    # in English, the same notice in words of the moderator's language
    form = forms_of(moderator.get("/moderation/?category=jardin-test&lang=en")
                    .get_data(as_text=True))[f"qa-{second}"]
    response = moderator.post(form["action"], data=form["fields"])
    # the last row of the filter: back to the queue, no row left to scroll to
    assert response.location == "/moderation/?category=jardin-test"
    page = moderator.get(response.location).get_data(as_text=True)
    assert flashes(page)[0].startswith(f"Submission {second} “Jardin du Marais” approved: "
                                       "published on the map")
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=other) == \
        "pending"


def test_refuse_from_the_queue_asks_for_the_reason(moderator, mdb):
    sid = pending(mdb, title="Promo des soldes", age_minutes=30)
    later = pending(mdb, title="Jardin du Marais", age_minutes=20)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    form = forms_of(queue)[f"qr-{sid}"]
    assert form["action"] == f"/moderation/submissions/{sid}/refuse"
    assert form["required"] == ["reason"]  # the browser asks before posting
    # the refusal sits in a disclosure of the row: no script needed to open it
    assert re.search(rf'<details class="quick-refuse">\s*<summary>Refuser<span class="sr"> '
                     rf'n° {sid}</span></summary>', queue)

    # Without a reason (a browser that ignores "required"): nothing is decided, and the
    # answer names the field as the form shows it.
    response = moderator.post(form["action"], data=form["fields"])
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "Raison (charte)" in page and "choisissez une raison de la charte" in page
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == \
        "pending"
    assert audit(mdb, sid) == [] and outbox(mdb) == []

    response = moderator.post(form["action"], data={
        **form["fields"], "reason": "advertising", "message": "Pas de publicité ici."})
    assert response.status_code == 303
    assert response.location == f"/moderation/#item-{later}"
    sub = row(mdb, "SELECT status::text, reason FROM submission WHERE id = :i", i=sid)
    assert sub.status == "refused" and "Pas de publicité ici." in sub.reason
    assert audit(mdb, sid) == [("refuse", MOD, "advertising")]
    assert outbox(mdb) == [("resident@example.net", "decision_refused")]
    assert flashes(moderator.get(response.location).get_data(as_text=True)) == [
        f"n° {sid} « Promo des soldes » refusé : Publicité."]


def test_a_quick_decision_without_its_csrf_token_is_refused(moderator, mdb):
    sid = pending(mdb)
    form = forms_of(moderator.get("/moderation/").get_data(as_text=True))[f"qa-{sid}"]
    fields = {k: v for k, v in form["fields"].items() if k != "csrf_token"}
    assert moderator.post(form["action"], data=fields).status_code == 400
    refuse = forms_of(moderator.get("/moderation/").get_data(as_text=True))[f"qr-{sid}"]
    fields = {k: v for k, v in refuse["fields"].items() if k != "csrf_token"}
    assert moderator.post(refuse["action"], data={**fields, "reason": "advertising"}
                          ).status_code == 400
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == \
        "pending"
    assert audit(mdb, sid) == [] and outbox(mdb) == []


def test_the_queue_page_and_its_place_are_kept(moderator, mdb):
    """Deciding on the second page of the queue comes back to that page."""
    from moderation.queue import PAGE_SIZE

    ids = [pending(mdb, title=f"Jardin {n}", age_minutes=200 - n) for n in range(PAGE_SIZE + 3)]
    first_page = moderator.get("/moderation/").get_data(as_text=True)
    after = parse_qs(urlsplit(html.unescape(re.search(
        r'href="(/moderation/\?[^"]*after=[^"]*)" rel="next"', first_page).group(1))).query
                     )["after"][0]
    second_page = moderator.get("/moderation/", query_string={"after": after})
    form = forms_of(second_page.get_data(as_text=True))[f"qa-{ids[PAGE_SIZE]}"]
    assert form["fields"]["f_after"] == after
    response = moderator.post(form["action"], data=form["fields"])
    target = urlsplit(response.location)
    assert parse_qs(target.query) == {"after": [after]}
    assert target.fragment == f"item-{ids[PAGE_SIZE + 1]}"
    # a forged place decides nothing
    form = forms_of(moderator.get("/moderation/", query_string={"after": after})
                    .get_data(as_text=True))[f"qa-{ids[PAGE_SIZE + 1]}"]
    response = moderator.post(form["action"], data={**form["fields"], "f_after": "x|y"})
    assert response.status_code == 400
    assert "Position dans la file" in html.unescape(response.get_data(as_text=True))
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i",
                  i=ids[PAGE_SIZE + 1]) == "pending"


def test_the_item_page_leads_to_the_next_item_of_the_same_filters(moderator, mdb):
    a1 = pending(mdb, title="Jardin un", age_minutes=40)
    b = pending(mdb, title="Soupe", category="soupe-test", age_minutes=35)
    a2 = pending(mdb, title="Jardin deux", age_minutes=30)
    a3 = pending(mdb, title="Jardin trois", age_minutes=20)
    target = published(mdb, title="Jardin Saint-Merri", lon=2.3581, lat=48.8570)

    # The links walk the filtered queue, oldest first, without deciding.
    page = moderator.get(f"/moderation/submissions/{a2}?category=jardin-test")
    body = page.get_data(as_text=True)
    assert f'href="/moderation/submissions/{a3}?category=jardin-test" rel="next"' in body
    assert f'href="/moderation/submissions/{a1}?category=jardin-test" rel="prev"' in body
    assert f'href="/moderation/?category=jardin-test#item-{a2}"' in body
    assert 'id="shortcuts"' in body and "<kbd>j</kbd>" in body  # the visible help
    # below the decisions too (a phone reads the whole item before deciding)
    assert re.search(rf'<p class="skip-on"><a href="/moderation/submissions/{a3}\?category='
                     rf'jardin-test">Passer sans décider', body)
    unfiltered = moderator.get(f"/moderation/submissions/{a1}").get_data(as_text=True)
    assert f'href="/moderation/submissions/{b}" rel="next"' in unfiltered
    assert 'rel="prev"' not in unfiltered  # the oldest has none before it

    # Approve a2: on to a3, the next one of the filter (b is another category).
    form = next(f for f in forms_of(body).values()
                if f["action"] == f"/moderation/submissions/{a2}/approve")
    assert form["fields"]["then"] == "next"
    response = moderator.post(form["action"], data=form["fields"])
    assert response.status_code == 303
    assert response.location == f"/moderation/submissions/{a3}?category=jardin-test"
    assert audit(mdb, a2) == [("approve", MOD, None)]
    landed = moderator.get(response.location).get_data(as_text=True)
    assert flashes(landed)[:2] == [
        f"n° {a2} « Jardin deux » approuvé : publié sur la carte (point n° "
        f"{scalar(mdb, 'SELECT feature_id FROM submission WHERE id = :i', i=a2)}).",
        f"Suivante dans la file : n° {a3}."]

    # Refuse a3, the last of the filter: back to a1, skipped above it.
    form = next(f for f in forms_of(landed).values()
                if f["action"] == f"/moderation/submissions/{a3}/refuse")
    response = moderator.post(form["action"], data={**form["fields"], "reason": "duplicate"})
    assert response.location == f"/moderation/submissions/{a1}?category=jardin-test"
    assert audit(mdb, a3) == [("refuse", MOD, "duplicate")]

    # Merge a1 into a published place: nothing of the filter waits any more.
    landed = moderator.get(response.location).get_data(as_text=True)
    form = next(f for f in forms_of(landed).values()
                if f["action"] == f"/moderation/submissions/{a1}/merge"
                and f["fields"].get("into") == str(target))
    response = moderator.post(form["action"], data=form["fields"])
    assert response.location == "/moderation/?category=jardin-test"
    assert flashes(moderator.get(response.location).get_data(as_text=True)) == [
        f"n° {a1} « Jardin un » fusionné dans le point n° {target}.",
        "Rien en attente avec ces filtres."]
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=b) == "pending"
    assert [t for _, t in outbox(mdb)] == ["decision_approved", "decision_refused",
                                               "decision_merged"]


def test_an_edit_refused_by_the_rules_keeps_the_filters(moderator, mdb):
    sid = pending(mdb, title="Jardin un", age_minutes=40)
    page = moderator.get(f"/moderation/submissions/{sid}?category=jardin-test")
    form = forms_of(page.get_data(as_text=True))["edit-form"]
    assert form["fields"]["f_category"] == "jardin-test"
    response = moderator.post(form["action"], data={**form["fields"], "title": "",
                                                    "category": "jardin-test"})
    assert response.status_code == 400
    again = forms_of(response.get_data(as_text=True))["edit-form"]
    assert again["fields"]["f_category"] == "jardin-test" and again["fields"]["then"] == "next"


def test_a_forged_destination_decides_nothing(moderator, mdb):
    sid = pending(mdb)
    form = forms_of(moderator.get("/moderation/").get_data(as_text=True))[f"qa-{sid}"]
    response = moderator.post(form["action"], data={**form["fields"],
                                                    "then": "https://evil.example/"})
    assert response.status_code == 400
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == \
        "pending"


def conflict_text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", re.search(
        r'<p role="alert" class="conflict">(.*?)</p>', response.get_data(as_text=True),
        re.S).group(1)))


def test_a_risky_row_is_reviewed_before_approving(moderator, mdb):
    """A possible duplicate or a likely spam gets no one-click approval: the row links to
    its page instead, the server refuses a forged quick approval naming why, refusing
    stays one disclosure away, and the item page still approves it."""
    place = published(mdb, title="Jardin Saint-Merri", lon=2.3581, lat=48.8570)
    dup = pending(mdb, title="Jardin St-Merri", duplicate_of=place, age_minutes=50)
    spam = pending(mdb, title="Promo promo", spam=0.5, age_minutes=40)
    twin = pending(mdb, title="Jardin St-Merri bis", age_minutes=30)
    with mdb.begin() as conn:
        conn.execute(text("UPDATE submission SET possible_duplicate_submission_id = :d "
                          "WHERE id = :t"), {"d": dup, "t": twin})
    fine = pending(mdb, title="Jardin du Marais", spam=0.49, age_minutes=20)

    page = moderator.get("/moderation/?category=jardin-test").get_data(as_text=True)
    forms = forms_of(page)
    for sid in (dup, spam, twin):
        # no approve button nor form for the row; its page instead, with the filter kept
        assert f"qa-{sid}" not in forms and f'form="qa-{sid}"' not in page
        assert re.search(rf'<a href="/moderation/submissions/{sid}\?category=jardin-test" '
                         rf'class="review"[^>]*>Voir avant d&#39;approuver<span class="sr"> '
                         rf'n° {sid}</span></a>', page)
        assert forms[f"qr-{sid}"]["action"] == f"/moderation/submissions/{sid}/refuse"
    assert f"qa-{fine}" in forms and page.count('class="review"') == 3
    # one threshold: the rows marked as spam are exactly those reviewed for spam
    assert re.findall(r'<span class="spam high">([\d.]+)</span>', page) == ["0.50"]
    assert '<span class="spam low">0.49</span>' in page
    why = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert f"doublon possible du point n° {place}" in why
    assert "score de spam 0.50 (seuil 0.50)" in why
    assert f"doublon possible de la proposition n° {dup}" in why
    english = moderator.get("/moderation/?lang=en").get_data(as_text=True)
    assert english.count("Review before approving") == 3
    assert f"possible duplicate of item {place}" in english
    moderator.get("/moderation/?lang=fr")  # the language chosen is kept in the session

    # A forged quick approval (the row's refuse form posted to approve) decides nothing
    # and says why.
    for sid, reason in ((dup, f"doublon possible du point n° {place}"),
                        (spam, "score de spam 0.50 (seuil 0.50)"),
                        (twin, f"doublon possible de la proposition n° {dup}")):
        fields = forms[f"qr-{sid}"]["fields"]
        assert fields["then"] == "queue"
        response = moderator.post(f"/moderation/submissions/{sid}/approve", data=fields)
        assert response.status_code == 409
        message = conflict_text(response)
        assert message.startswith(f"n° {sid} n'est pas approuvé : ") and reason in message
        assert (f'href="/moderation/submissions/{sid}?category=jardin-test"'
                in response.get_data(as_text=True))
        assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == \
            "pending"
        assert audit(mdb, sid) == []
    assert outbox(mdb) == []
    fields = forms_of(english)[f"qr-{spam}"]["fields"]
    response = moderator.post(f"/moderation/submissions/{spam}/approve?lang=en", data=fields)
    assert response.status_code == 409
    assert conflict_text(response) == (
        f"Submission {spam} was not approved: spam score 0.50 (threshold 0.50). Open the "
        "submission to compare it before approving.")

    # Refusing stays one click away from the queue.
    response = moderator.post(forms[f"qr-{spam}"]["action"], data={
        **forms[f"qr-{spam}"]["fields"], "reason": "advertising"})
    assert response.status_code == 303
    assert audit(mdb, spam) == [("refuse", MOD, "advertising")]

    # The item page approves the duplicate after the moderator has seen it.
    body = moderator.get(f"/moderation/submissions/{dup}?category=jardin-test").get_data(
        as_text=True)
    form = next(f for f in forms_of(body).values()
                if f["action"] == f"/moderation/submissions/{dup}/approve")
    response = moderator.post(form["action"], data=form["fields"])
    assert response.status_code == 303
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=dup) == \
        "approved"
    assert audit(mdb, dup) == [("approve", MOD, None)]
    # The row below the threshold is still approved in one click.
    form = forms_of(moderator.get("/moderation/").get_data(as_text=True))[f"qa-{fine}"]
    assert moderator.post(form["action"], data=form["fields"]).status_code == 303
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=fine) == \
        "approved"
