"""Type aliases and small value types shared by ingestion/ modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

__all__ = ["FieldError", "JSONValue", "Record"]

JSONValue = Any  # what json.loads returns: dict, list, str, int, float, bool or None


class FieldError(NamedTuple):
    """One refused field: where (a JSON pointer, RFC 6901), a stable code, and why."""

    pointer: str
    code: str
    detail: str
    # What a localised message needs besides the code (limits, the refused character):
    # the text a resident reads is chosen at the edge (ingestion.messages).
    params: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The error as stored in ``submission.errors`` and answered in problem+json."""
        out: dict[str, Any] = {"pointer": self.pointer, "code": self.code,
                               "detail": self.detail}
        if self.params:
            out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class Record:
    """A validated, normalised submission: ready to queue or to publish."""

    category: str
    title: str
    lon: float
    lat: float
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    email: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # Published items the resident was shown as possible duplicates and said theirs is
    # different from (the moderator sees it among the spam/content reasons).
    not_duplicate_of: tuple[int, ...] = ()
