"""The walk planner: budget respected, 2-opt never lengthens, nearest places first."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webmap.walk import (
    Stop,
    great_circle_metres,
    path_metres,
    plan_walk,
    two_opt,
    walking_metres,
)

START = (2.3522, 48.8566)  # Hôtel de Ville

coords = st.tuples(st.floats(2.25, 2.42), st.floats(48.82, 48.90))


def test_great_circle_matches_a_known_distance():
    # Notre-Dame to the Eiffel Tower is about 4.1 km as the crow flies.
    d = great_circle_metres((2.3499, 48.8530), (2.2945, 48.8584))
    assert 4_000 < d < 4_200


def test_walking_distance_applies_the_detour_factor():
    a, b = (2.35, 48.85), (2.36, 48.85)
    assert walking_metres(a, b, detour=1.3) == pytest.approx(1.3 * great_circle_metres(a, b))


def test_no_candidates_gives_an_empty_walk():
    walk = plan_walk(START, [], budget_minutes=60)
    assert walk.stops == [] and walk.distance_m == 0 and walk.minutes == 0


def test_the_budget_is_never_exceeded_and_far_places_are_left_out():
    near = [Stop(str(i), 2.3522 + 0.001 * i, 48.8566) for i in range(1, 4)]
    far = Stop("far", 2.45, 48.88)  # ~7 km away: two hours on foot
    walk = plan_walk(START, [*near, far], budget_minutes=45, speed_kmh=4.5, detour=1.3)
    assert [s.id for s in walk.stops] == ["1", "2", "3"]
    assert walk.minutes <= 45
    # 3 stops of 10 min dwell plus ~0.3 km * 1.3 walked at 75 m/min.
    assert walk.minutes == pytest.approx(30 + walk.distance_m / 75)


def test_a_budget_shorter_than_one_visit_gives_no_stop():
    walk = plan_walk(START, [Stop("a", 2.3523, 48.8566)], budget_minutes=5)
    assert walk.stops == []


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        plan_walk(START, [], budget_minutes=0)
    with pytest.raises(ValueError):
        plan_walk(START, [], budget_minutes=10, detour=0.5)


def test_two_opt_untangles_a_crossing_path():
    # Visiting 1, 3, 2, 4 along a line crosses back and forth; 2-opt straightens it.
    stops = [Stop(str(i), 2.35 + 0.002 * i, 48.85) for i in (1, 3, 2, 4)]
    better = two_opt((2.35, 48.85), stops)
    assert [s.id for s in better] == ["1", "2", "3", "4"]


@settings(max_examples=60, deadline=None)
@given(st.lists(coords, min_size=0, max_size=9))
def test_two_opt_never_lengthens_and_keeps_every_stop(points):
    stops = [Stop(str(i), lon, lat) for i, (lon, lat) in enumerate(points)]
    better = two_opt(START, stops)
    assert sorted(s.id for s in better) == sorted(s.id for s in stops)
    assert path_metres(START, better) <= path_metres(START, stops) + 1e-6


def test_nearest_neighbour_then_two_opt_is_close_to_the_optimum():
    rng = random.Random(7)
    ratios = []
    for _ in range(30):
        stops = [Stop(str(i), rng.uniform(2.30, 2.40), rng.uniform(48.83, 48.88), 0.0)
                 for i in range(6)]
        got = plan_walk(START, stops, budget_minutes=10_000).distance_m
        best = min(path_metres(START, p) for p in itertools.permutations(stops))
        ratios.append(got / best)
    assert max(ratios) < 1.10
    assert sum(ratios) / len(ratios) < 1.02


@settings(max_examples=60, deadline=None)
@given(st.lists(coords, max_size=15), st.floats(5, 240))
def test_plan_respects_the_budget_for_any_input(points, budget):
    stops = [Stop(str(i), lon, lat) for i, (lon, lat) in enumerate(points)]
    walk = plan_walk(START, stops, budget_minutes=budget)
    assert walk.minutes <= budget + 1e-6
    assert len(walk.legs_m) == len(walk.stops) <= 12
    assert walk.distance_m == pytest.approx(path_metres(START, walk.stops))
