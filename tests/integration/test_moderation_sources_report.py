"""The sources page says, in words and in both languages, how a sync placed addresses.

A sync of a source located by address reports (``ingestion.sync.SyncReport``) how many
rows it geocoded, how many changed rows kept their point because their address did not
change (``placements_kept``), how many it placed again because the address file or the
geocoder's rules changed since the last sync (``re_placed``), and which file placed
them (``address_file``). A moderator reads those on ``/moderation/sources``.
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
import json
import re
from collections import Counter

from sqlalchemy import text

from ingestion.sync import SyncReport
from tests.moderation_fixtures import mdb, mod_app, moderator  # noqa: F401

SHA = "3f2a9c0d41b7e8aa5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"


def _run(engine, report: SyncReport) -> int:
    with engine.begin() as conn:
        return conn.execute(text(
            "INSERT INTO source_sync_run (source, location, status, report, finished_at) "
            "VALUES (:s, :l, 'applied', CAST(:r AS jsonb), now()) RETURNING id"),
            {"s": report.source, "l": report.location,
             "r": json.dumps(report.as_dict())}).scalar_one()


def _text(client, path: str) -> str:
    body = client.get(path).get_data(as_text=True)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_re_placements_and_kept_placements_are_said_in_words(moderator, mdb):
    _run(mdb, SyncReport(
        source="partner-jardins", location="https://example.org/jardins.csv", read=120,
        changed=7, unchanged=100, geocoded=Counter(exact=40, street=2, none=1),
        placements_kept=5, re_placed=42,
        address_file={"file": "adresses-75.csv.gz", "sha256": SHA, "rules": 2}))
    _run(mdb, SyncReport(source="partner-plain", location="/data/plain.geojson", read=3,
                         unchanged=3))

    fr = _text(moderator, "/moderation/sources?lang=fr")
    assert "Placement par adresse" in fr
    assert ("géocodées cette fois : 40 exactes, 2 à la rue, 1 introuvables") in fr
    assert ("5 lignes modifiées à la même adresse : leur point est gardé, sans nouveau "
            "géocodage") in fr
    assert ("42 lignes replacées : nouveau fichier d'adresses ou nouvelles règles depuis "
            "la synchronisation précédente") in fr
    assert "Fichier d'adresses : adresses-75.csv.gz" in fr
    assert f"empreinte {SHA[:12]}…, règles v2" in fr
    assert SHA not in fr  # the fingerprint's head is enough to compare two runs

    en = _text(moderator, "/moderation/sources?lang=en")
    assert "Placed by address" in en
    assert "5 changed rows at the same address: their points kept, not geocoded again" in en
    assert ("42 rows placed again: a new address file or new rules since the last sync"
            in en)
    assert "Address file: adresses-75.csv.gz" in en
    assert f"fingerprint {SHA[:12]}…, rules v2" in en


def test_one_row_kept_or_placed_again_is_said_in_the_singular(moderator, mdb):
    _run(mdb, SyncReport(source="partner-jardins", location="x.csv", read=2,
                         geocoded=Counter(exact=1), placements_kept=1, re_placed=1))
    fr = _text(moderator, "/moderation/sources")
    assert "1 ligne modifiée à la même adresse : son point est gardé" in fr
    assert "1 ligne replacée : nouveau fichier" in fr
    en = _text(moderator, "/moderation/sources?lang=en")
    assert "1 changed row at the same address: its point kept" in en
    assert "1 row placed again: a new address file" in en
