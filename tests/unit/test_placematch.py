"""One place, one feature: the matching rules on the cases the Paris files hold."""

from __future__ import annotations

from ingestion.placematch import Place, best_match, fold_name, name_tokens, place_number
from ingestion.services import access_from_note

RABIER = Place("paris-bibliotheques", "751196201", "Bibliothèque Benjamin Rabier", "library",
               2.37908, 48.89280)
COURONNES = Place("paris-bibliotheques", "751206201", "Bibliothèque Couronnes", "library",
                  2.38500, 48.86900, renamable=True)
VALEYRE_POOL = Place("paris-ilots-fraicheur", "PI5", "Piscine Paul Valeyre", "pool",
                     2.34880, 48.87930)
HALL_11 = Place("paris-ilots-fraicheur", "MA11", "MAIRIE DU 11E", "townhall", 2.37942, 48.85851)
MVAC_9 = Place("paris-ilots-fraicheur", "MA1", "Maison de la Vie Associative et Citoyenne du 9e",
               "mvac", 2.33700, 48.87800)


def wifi(name, kind, lon, lat):
    return Place("paris-wifi", "PW", name, kind, lon, lat)


def test_names_fold_and_keep_only_what_tells_them_apart():
    assert fold_name("Bibliothèque Goutte d'Or") == "bibliotheque goutte d or"
    assert name_tokens("BIBLIOTHEQUE GOUTTE D OR") == {"goutte"}
    assert name_tokens("Médiathèque musicale de Paris (MMP)") == {"musicale", "mmp"}
    assert place_number("MAIRIE DU 11 EME") == place_number("MAIRIE DU 11E") == 11
    assert place_number("MAIRIE DU CENTRE") == place_number("MAIRIE PARIS CENTRE") == 0
    assert place_number("MAISON DE LA VIE ASSOCIATIVE ET CITOYENNE  9") == 9


def test_a_shared_name_word_nearby_matches():
    m = best_match(wifi("BIBLIOTHEQUE BENJAMIN RABIER", "library", 2.37915, 48.89285),
                   [RABIER, COURONNES])
    assert m is not None and m.place is RABIER and m.rule == "name" and m.metres < 20


def test_the_same_name_too_far_away_does_not():
    assert best_match(wifi("BIBLIOTHEQUE BENJAMIN RABIER", "library", 2.3700, 48.8928),
                      [RABIER]) is None  # ~670 m


def test_a_renamed_city_library_matches_by_position_only_very_close():
    near = wifi("BIBLIOTHEQUE NAGUIB MAHFOUZ", "library", 2.38510, 48.86912)
    m = best_match(near, [COURONNES])
    assert m is not None and m.rule == "position" and m.metres < 25
    assert best_match(wifi("BIBLIOTHEQUE NAGUIB MAHFOUZ", "library", 2.3856, 48.8694),
                      [COURONNES]) is None  # ~55 m: not the same door


def test_kinds_never_mix_even_in_one_building():
    assert best_match(wifi("BIBLIOTHEQUE VALEYRE", "library", 2.34880, 48.87930),
                      [VALEYRE_POOL]) is None


def test_town_halls_and_mvacs_match_by_their_arrondissement_not_their_annex():
    m = best_match(wifi("MAIRIE DU 11 EME", "townhall", 2.3780, 48.8576), [HALL_11])
    assert m is not None and m.rule == "number"
    assert best_match(wifi("MAIRIE DU 12 EME", "townhall", 2.3780, 48.8576), [HALL_11]) is None
    assert best_match(wifi("MAISON DE LA VIE ASSOCIATIVE ET CITOYENNE  9 ANNEXE", "mvac",
                           2.3370, 48.8786), [MVAC_9]) is None


def test_access_notes_become_step_free_only_when_unambiguous():
    assert access_from_note("Accès handicapés") == ["step_free_access"]
    assert access_from_note("bibliothèque entièrement accessible aux personnes à mobilité "
                            "réduite") == ["step_free_access"]
    assert access_from_note("Accès handicapés avec aide") == []
    assert access_from_note("Accès handicapés partiel") == []
    assert access_from_note("Accueil du public sourd") == []
    assert access_from_note("Fermeture le lundi") == []
    assert access_from_note(None) == []
