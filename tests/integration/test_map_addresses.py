"""Address search over the real BAN file for Paris: what people type finds the place."""

from __future__ import annotations

import pytest

from geo.config import data_dir
from geo.geocode import fold, load_index


@pytest.fixture(scope="module")
def index():
    return load_index(data_dir() / "cities" / "paris" / "adresses-75.csv.gz")


def test_the_whole_file_is_indexed(index):
    assert len(index) == 158_048


def test_a_numbered_address_gives_that_door(index):
    hit = index.search("12 rue de rivoli", locality="Paris")[0]
    assert hit.label == "12 Rue de Rivoli, 75004 Paris"
    assert (hit.lon, hit.lat) == (2.35995, 48.855602)


def test_bis_is_understood(index):
    hit = index.search("131 bis rue de la roquette", locality="Paris")[0]
    assert hit.label == "131 bis Rue de la Roquette, 75011 Paris"
    assert (hit.lon, hit.lat) == (2.383346, 48.858558)


def test_accents_case_and_unfinished_words_still_match(index):
    labels = [h.label for h in index.search("PLACE DE LA REP", locality="Paris")]
    assert "Place de la République, 75011 Paris" in labels
    assert fold("Rue de l'Église") == "rue de l eglise"


def test_a_postcode_narrows_a_street_to_its_arrondissement(index):
    assert [h.label for h in index.search("rivoli 75001", locality="Paris")] == [
        "Rue de Rivoli, 75001 Paris"]


def test_nothing_for_unknown_streets_or_one_letter(index):
    assert index.search("rue qui nexiste pas du tout", locality="Paris") == []
    assert index.search("r", locality="Paris") == []
    assert index.search("999 rue de rivoli", locality="Paris") == []


def test_a_search_never_waits_for_the_index_to_be_built(tmp_path):
    import shutil
    import time

    from geo.geocode import ready_index

    copy = tmp_path / "adresses.csv.gz"
    shutil.copy(data_dir() / "cities" / "paris" / "adresses-75.csv.gz", copy)
    assert ready_index(copy) is None  # not built yet: the caller answers without it
    deadline = time.monotonic() + 60
    while (built := ready_index(copy)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert built is not None and built.search("12 rue de rivoli")
