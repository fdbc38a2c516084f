"""The pure rules of missions: slots as minutes of the week, skills, questions, answers."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from community.errors import InvalidCommunityInput
from community.profiles import clean_skills, clean_slots, multirange_literal, week_ranges
from community.signups import clean_answers, questions_of
from webmap.missions_views import profile_from_form


def test_slots_become_merged_minutes_of_the_week():
    slots = [{"day": "mon", "from": "09:00", "to": "12:00"},
             {"day": "mon", "from": "11:00", "to": "13:00"},  # overlaps: merged
             {"day": "tue", "from": "00:00", "to": "24:00"}]
    assert week_ranges(slots) == [(540, 780), (1440, 2880)]
    assert multirange_literal(week_ranges(slots)) == "{[540,780),[1440,2880)}"


def test_a_slot_past_midnight_runs_into_the_next_day_and_sunday_wraps():
    assert week_ranges([{"day": "fri", "from": "22:00", "to": "02:00"}]) == [
        (4 * 1440 + 1320, 5 * 1440 + 120)]
    assert week_ranges([{"day": "sun", "from": "23:00", "to": "01:00"}]) == [
        (0, 60), (6 * 1440 + 1380, 7 * 1440)]


def test_slots_are_checked_and_sorted():
    assert clean_slots([{"day": "sat", "from": "10:00", "to": "12:00"},
                        {"day": "mon", "from": "18:00", "to": "20:00"},
                        {"day": "sat", "from": "10:00", "to": "12:00"}]) == [
        {"day": "mon", "from": "18:00", "to": "20:00"},
        {"day": "sat", "from": "10:00", "to": "12:00"}]
    for bad, where in (([{"day": "lundi", "from": "09:00", "to": "10:00"}], "availability/0/day"),
                       ([{"day": "mon", "from": "24:00", "to": "10:00"}], "availability/0/from"),
                       ([{"day": "mon", "from": "09:00", "to": "9h"}], "availability/0/to"),
                       (["mon 9-10"], "availability/0"), ("mon", "availability")):
        with pytest.raises(InvalidCommunityInput) as exc:
            clean_slots(bad)
        assert list(exc.value.errors) == [where]
    with pytest.raises(InvalidCommunityInput):
        clean_slots([{"day": "mon", "from": "09:00", "to": "10:00"}] * 29)


def test_skills_are_tags():
    assert clean_skills(" Cuisine,  premiers   SECOURS, cuisine,, ") == [
        "cuisine", "premiers secours"]
    assert clean_skills(["Vélo"]) == ["vélo"]
    with pytest.raises(InvalidCommunityInput):
        clean_skills(["x" * 41])
    with pytest.raises(InvalidCommunityInput):
        clean_skills([f"s{i}" for i in range(21)])


def test_questions_are_the_items_own_lines_and_each_needs_an_answer():
    attrs = {"questions": "Avez-vous un vélo ?\n\n  Taille de t-shirt ?  \n" + "x\n" * 10}
    questions = questions_of(attrs)
    assert questions[:2] == ["Avez-vous un vélo ?", "Taille de t-shirt ?"]
    assert len(questions) == 5
    assert questions_of({}) == [] and questions_of({"questions": 3}) == []
    two = questions[:2]
    assert clean_answers(two, ["Oui", " M "]) == {"Avez-vous un vélo ?": "Oui",
                                                  "Taille de t-shirt ?": "M"}
    assert clean_answers(two, {"0": "Non", "1": "L"})["Taille de t-shirt ?"] == "L"
    with pytest.raises(InvalidCommunityInput) as exc:
        clean_answers(two, ["Oui"])
    assert list(exc.value.errors) == ["answers/1"]
    assert clean_answers([], None) == {}


def test_the_profile_form_turns_ticks_and_typed_times_into_slots():
    form = MultiDict({"sat_morning": "1", "wed_extra": "19:30-21:00, 07:00–08:00",
                      "skills": "jardinage", "area": "12"})
    fields = profile_from_form(form)
    assert fields["availability"] == [{"day": "wed", "from": "19:30", "to": "21:00"},
                                      {"day": "wed", "from": "07:00", "to": "08:00"},
                                      {"day": "sat", "from": "08:00", "to": "12:00"}]
    assert fields["area_id"] == 12
    with pytest.raises(InvalidCommunityInput):
        profile_from_form(MultiDict({"mon_extra": "le soir"}))
