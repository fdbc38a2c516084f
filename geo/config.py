"""Where the database and the variable files are, read from the environment.

Only two variables matter to the core: ``CARTE_DATABASE_URL`` (unset: the embedded
cluster under ``$CARTE_VAR_DIR/pg``) and ``CARTE_VAR_DIR`` (default ``var/``). They are
read when a function is called, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["configured_database_url", "data_dir", "normalise_url", "var_dir"]


def var_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory for run-time files (database cluster, tiles, exports), absolute."""
    env = os.environ if environ is None else environ
    return Path(env.get("CARTE_VAR_DIR") or "var").resolve()


def configured_database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The external database URL, or ``None`` when the embedded cluster should be used."""
    env = os.environ if environ is None else environ
    url = (env.get("CARTE_DATABASE_URL") or "").strip()
    return normalise_url(url) if url else None


def normalise_url(url: str) -> str:
    """Make a libpq-style URL use SQLAlchemy's psycopg 3 driver.

    >>> normalise_url("postgresql://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The product's data directory: ``CARTE_DATA_DIR`` or ``data/`` of this checkout."""
    env = os.environ if environ is None else environ
    if env.get("CARTE_DATA_DIR"):
        return Path(env["CARTE_DATA_DIR"]).resolve()
    return Path(__file__).resolve().parents[1] / "data"
