"""Application settings: one typed object, read from ``CARTE_*`` variables at start-up.

Nothing is read at import time. ``create_app(config)`` overrides any of these with the
mapping it is given (upper-case keys, as Flask's config).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.config import var_dir
from geo.db import database_url

__all__ = ["Settings", "load_secret_key"]


@dataclass(frozen=True)
class Settings:
    """What the web application needs to know about its environment."""

    DATABASE_URL: str
    VAR_DIR: Path
    SECRET_KEY: str
    MAX_CONTENT_LENGTH: int = 64 * 1024  # bytes; bigger bodies get a 413

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``CARTE_*`` variables, with the defaults DESIGN.md gives."""
        env = os.environ if environ is None else environ
        vdir = var_dir(env)
        return cls(
            DATABASE_URL=database_url(env),
            VAR_DIR=vdir,
            SECRET_KEY=env.get("CARTE_SECRET_KEY") or load_secret_key(vdir),
        )

    def as_config(self) -> dict[str, Any]:
        """The settings as Flask config keys."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def load_secret_key(directory: Path) -> str:
    """A random key kept in ``directory/secret_key`` (mode 0600).

    Every gunicorn worker must sign sessions with the same key, so a generated key is
    stored rather than made per process; ``CARTE_SECRET_KEY`` overrides it.
    """
    path = directory / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
