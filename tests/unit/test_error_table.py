"""The one error table: every domain error a request can meet is answered from it."""

from __future__ import annotations

import json

import pytest

import ingestion.errors as ingestion_errors
from geo.errors import DatabaseUnavailable, FeatureNotFound, VersionConflict
from moderation.errors import InvalidInput, NotFound
from webmap.ogc.params import BadParameter
from webmap.web import STATUS_CODES, problem_for


def _refusals() -> list[type[ingestion_errors.RequestRefused]]:
    return [c for c in vars(ingestion_errors).values() if isinstance(c, type)
            and issubclass(c, ingestion_errors.RequestRefused)]


@pytest.mark.parametrize("cls", _refusals(), ids=lambda c: c.__name__)
def test_the_submission_fast_path_and_the_table_agree(cls) -> None:
    """The fast path answers refusals itself (ingestion may not import webmap): the
    status it gives must be the table's."""
    assert cls in STATUS_CODES
    assert STATUS_CODES[cls].status == cls.status


@pytest.mark.parametrize(("exc", "status"), [
    (DatabaseUnavailable("postgresql://carte:secret@db/carte unreachable"), 503),
    (FeatureNotFound("no feature 7"), 404), (VersionConflict(7, 1, 2), 409),
    (BadParameter("at", "year out of range"), 400),
    (InvalidInput({"limit": "an integer from 1 to 1000"}), 400), (NotFound("no flag"), 404),
    (ingestion_errors.RateLimited("too many", retry_after=12), 429),
])
def test_each_domain_error_gets_its_status_and_a_problem_body(exc, status) -> None:
    response = problem_for(exc)
    body = json.loads(response.get_data())
    assert response.status_code == status == body["status"]
    assert response.mimetype == "application/problem+json"
    assert body["type"] == "about:blank" and body["title"]
    if status == 503:
        assert response.headers["Retry-After"] == "5"
        assert "secret" not in response.get_data(as_text=True)  # a 5xx says nothing logged
    if status == 429:
        assert response.headers["Retry-After"] == "12"


def test_an_unknown_error_is_a_500_without_detail() -> None:
    response = problem_for(RuntimeError("SELECT password FROM account"))
    assert response.status_code == 500
    assert "password" not in response.get_data(as_text=True)
