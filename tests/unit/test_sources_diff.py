"""The pure middle of a source sync: what changed, what left, and a moderator's edits."""

from datetime import UTC, datetime

from ingestion.sync import Current, Known, diff, merge

H1, H2 = b"1" * 32, b"2" * 32


def known(state: str = "active", status: str = "published", h: bytes = H1) -> Known:
    return Known(feature_id=7, base_hash=h, state=state, status=status)


def test_diff_sorts_every_row_into_one_bucket():
    current = [Current("new", "valid", H1), Current("same", "unchanged", None),
               Current("same-bytes-differ", "valid", H1), Current("edited", "valid", H2),
               Current("bad", "invalid", None), Current("queued-before", "unchanged", None),
               Current("back", "unchanged", None), Current("off", "valid", H2)]
    k = {"same": known(), "same-bytes-differ": known(), "edited": known(),
         "back": known("retired", "unpublished"), "off": known(status="unpublished"),
         "gone": known(), "gone-hidden": known(status="hidden"),
         "retired-long-ago": known("retired", "unpublished")}
    d = diff(current, k, settled=90)
    assert d.new == ["new"] and d.changed == ["edited"] and d.back == ["back"]
    assert d.gone == ["gone"] and d.gone_off_map == ["gone-hidden"]
    assert d.kept_off == ["off"] and (d.refused, d.waiting) == (1, 1)
    assert d.unchanged == 90 + 2  # settled, "same", "same-bytes-differ"
    assert d.on_map == 90 + 4 and d.retire_share() == 1 / 94


def test_an_empty_read_would_retire_everything_on_the_map():
    d = diff([], {"a": known(), "b": known(), "c": known(status="unpublished")})
    assert sorted(d.gone) == ["a", "b"] and d.retire_share() == 1.0


def test_merge_keeps_the_moderators_field_and_takes_the_sources_others():
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    base = {"category": "bibliotheque", "title": "Bibliothèque", "description": "été",
            "starts_at": None, "ends_at": None, "lon": 2.35, "lat": 48.85,
            "attributes": {"phone": "01", "hours": "9-18", "wifi": True}}
    ours = {**base, "title": "Médiathèque", "attributes": {**base["attributes"],
                                                             "phone": "02"}}
    theirs = {**base, "title": "Bibliothèque 2", "description": "hiver", "starts_at": at,
              "lon": 2.36, "attributes": {"phone": "01", "hours": "10-19"}}
    changes, conflicts = merge(base, ours, theirs)
    assert conflicts == ["title"]
    assert changes == {"description": "hiver", "starts_at": at, "lon": 2.36, "lat": 48.85,
                       "attributes": {"phone": "02", "hours": "10-19"}}


def test_merge_without_a_base_changes_nothing_and_reports_every_difference():
    ours = {"title": "A", "lon": 2.0, "lat": 48.0, "attributes": {}}
    theirs = {"title": "B", "lon": 2.0, "lat": 48.0, "attributes": {"x": 1}}
    changes, conflicts = merge(None, ours, theirs)
    assert changes == {} and conflicts == ["title", "attributes.x"]
