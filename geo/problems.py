"""RFC 9457 problem details: the one builder of every error body the product answers.

Framework-free (a JSON text and its media type), so that the WSGI fast paths, the
Flask views of every package and the CLI build the same body. ``type`` stays
``about:blank`` unless a problem has its own documented type: then ``title`` is the
status phrase, and clients read ``status``, ``detail`` and the extension members.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["PROBLEM_JSON", "problem_body"]

PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, title: str, *, detail: str | None = None,
                 type_: str = "about:blank", **extra: Any) -> str:
    """The JSON text of a problem: ``type``, ``title``, ``status``, ``detail``, extras.

    Extension members whose value is ``None`` are left out.

    >>> problem_body(404, "Not Found", detail="no such feature")
    '{"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such feature"}'
    """
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps(body, ensure_ascii=False)
