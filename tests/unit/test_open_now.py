"""Open now? The rules the panel, the list and Ma balade share, on the city's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from geo.opening import open_during, open_state, openings
from ingestion.hours import parse_hours

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 12, 7, tzinfo=PARIS)  # a Monday


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hh, minutes=mm)


LIBRARY = parse_hours("mardi, jeudi 16h00 - 18h30 ; mercredi, samedi 10h-13h et 14h-18h")
TOILETS_LATE = parse_hours("6 h - 1 h")
ALWAYS = parse_hours("24 h / 24")


def test_open_now_until_its_closing_time():
    state = open_state(LIBRARY, at(1, 17))
    assert state.is_open and state.until == at(1, 18, 30)


def test_closed_now_opens_later_today_or_another_day():
    assert open_state(LIBRARY, at(1, 9)) == (False, None, at(1, 16))
    # Wednesday lunch break: opens again at 14:00 the same day.
    assert open_state(LIBRARY, at(2, 13, 30)).opens == at(2, 14)
    # Saturday evening: next opening Tuesday 16:00 (Sunday and Monday closed).
    assert open_state(LIBRARY, at(5, 19)).opens == at(8, 16)


def test_an_opening_past_midnight_is_one_opening():
    state = open_state(TOILETS_LATE, at(0, 23))
    assert state.is_open and state.until == at(1, 1)
    # Sunday 23:30: open until Monday 01:00 (the week wraps).
    assert open_state(TOILETS_LATE, at(6, 23, 30)).until == at(7, 1)
    assert open_state(TOILETS_LATE, at(1, 0, 30)).is_open
    assert open_state(TOILETS_LATE, at(1, 3)) == (False, None, at(1, 6))


def test_round_the_clock_never_closes_and_no_slot_never_opens():
    assert open_state(ALWAYS, at(3, 4)) == (True, None, None)
    assert open_state([], at(3, 4)) == (False, None, None)


def test_the_end_of_a_slot_is_closed():
    assert not open_state(LIBRARY, at(1, 18, 30)).is_open
    assert open_state(LIBRARY, at(1, 18, 29)).is_open


def test_open_during_a_walk_window():
    assert open_during(LIBRARY, at(1, 15), at(1, 16, 30))  # opens during the walk
    assert not open_during(LIBRARY, at(1, 18, 30), at(1, 20))
    assert open_during(TOILETS_LATE, at(6, 23), at(7, 0, 30))
    assert not open_during([], at(0, 0), at(6, 0))


def test_hours_of_the_citys_own_cool_places_columns():
    from ingestion.hours import day_columns_hours

    pool = day_columns_hours({"horaires_lundi": "06h30 - 07h45 / 11h45 - 19h45",
                              "horaires_mardi": "-", "horaires_samedi": "09h00 - 18h45"})
    assert open_state(pool, at(0, 7)).until == at(0, 7, 45)
    assert open_state(pool, at(0, 9)).opens == at(0, 11, 45)
    assert open_state(pool, at(1, 9)).opens == at(5, 9)


slots = st.lists(st.builds(
    lambda d, a, n: {"day": ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d],
                     "from": f"{a // 60:02d}:{a % 60:02d}",
                     "to": f"{min(1440, a + n) // 60:02d}:{min(1440, a + n) % 60:02d}"},
    st.integers(0, 6), st.integers(0, 1439), st.integers(1, 600)), max_size=6)


@settings(max_examples=150, deadline=None)
@given(slots, st.integers(0, 7 * 1440 - 1))
def test_open_means_inside_a_slot_and_the_next_change_is_consistent(week, minute):
    now = MONDAY + timedelta(minutes=minute)
    state = open_state(week, now)
    inside = any(
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(s["day"]) * 1440
        + int(s["from"][:2]) * 60 + int(s["from"][3:]) <= minute
        < ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(s["day"]) * 1440
        + int(s["to"][:2]) * 60 + int(s["to"][3:]) for s in week)
    wrapped = any(b > 7 * 1440 and minute < b - 7 * 1440 for _, b in openings(week))
    assert state.is_open == (inside or wrapped)
    if state.is_open and state.until is not None:
        assert state.until > now and not open_state(week, state.until).is_open
    if not state.is_open and state.opens is not None:
        assert state.opens > now and open_state(week, state.opens).is_open
