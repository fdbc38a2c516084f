"""Tracking links that a message can carry, long after the submission was sent.

The resident's own tracking link is random and only its hash is stored
(``tracking_token_hash``), so nothing can write it into a later e-mail (a moderator
hid one of their photos, say). A *mailed* link names the item and is signed with the
server's secret instead: ``m`` + ``s`` (submission) or ``c`` (correction) + the id +
``-`` + 24 characters of HMAC-SHA-256. It opens the same tracking page with the same
powers as the original link (see the status, withdraw while pending), and only the
resident's own mailbox ever receives it. It fits the tracking route's token pattern
(``[A-Za-z0-9_-]{16,64}``), and a random token that happened to look like one simply
fails the signature check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Literal

__all__ = ["Kind", "mailed_token", "read_mailed_token"]

Kind = Literal["submission", "correction"]
_LETTER = {"submission": "s", "correction": "c"}
_KIND = {v: k for k, v in _LETTER.items()}
_MAILED = re.compile(r"^m([sc])([1-9][0-9]{0,17})-([A-Za-z0-9_-]{24})$")


def _mac(secret: str | bytes, letter: str, item_id: int) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"tracking-mail\0{letter}{item_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def mailed_token(secret: str | bytes, kind: Kind, item_id: int) -> str:
    """The signed token of a submission's or correction's tracking page, for a message."""
    if not secret:
        raise ValueError("a secret key is needed to sign a tracking link")
    letter = _LETTER[kind]
    return f"m{letter}{int(item_id)}-{_mac(secret, letter, int(item_id))}"


def read_mailed_token(secret: str | bytes | None, token: str) -> tuple[Kind, int] | None:
    """``(kind, id)`` of a mailed token signed with ``secret``; ``None`` for anything else."""
    found = _MAILED.match(token)
    if not secret or found is None:
        return None
    letter, item_id = found.group(1), int(found.group(2))
    if not hmac.compare_digest(found.group(3), _mac(secret, letter, item_id)):
        return None
    return _KIND[letter], item_id  # type: ignore[return-value]
