"""The continuous catch-up of submissions a crash left ``received``.

A submission's body is committed before it is validated; if the database (or the
process) dies between the two commits, the row stays ``received``: kept, but neither
pending nor invalid, so no moderator sees it. ``carte serve`` validates such rows when
it starts, and every serving process also runs this loop: every
``INGEST_CATCH_UP_S`` seconds it validates the rows older than
``INGEST_CATCH_UP_AGE_S`` (a request still running is younger and is left alone).
Rows are taken with ``FOR UPDATE SKIP LOCKED``, so several processes never validate the
same row; a row that cannot be validated is kept invalid with its reason
(:func:`ingestion.intake.revalidate`), so the loop never stalls; while the database is
down a pass fails quietly and the next one, once it is back, does the work.

The thread starts at a process's first request (any request, the submission fast
path's included) (after gunicorn's fork, never in the
master: a thread and a connection pool must not cross a fork).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask

__all__ = ["catch_up_once", "init_app"]

log = logging.getLogger(__name__)

HORIZON_S = 86_400.0
"""A pass reads the last day's rows only (an index range, not the whole history);
``carte serve`` catches up older ones when it starts."""


def catch_up_once(app: Flask) -> int | None:
    """One pass: how many rows left ``received`` were validated (``None``: postponed).

    A pass that fails (the database is down or restarting) is logged and postponed to
    the next one; a row that cannot be validated never fails a pass.
    """
    from ingestion.api import revalidate_received

    try:
        return revalidate_received(app,
                                   older_than_s=float(app.config["INGEST_CATCH_UP_AGE_S"]),
                                   horizon_s=HORIZON_S)
    except Exception as exc:
        log.info("catch-up of received submissions postponed: %s", type(exc).__name__)
        return None


def _loop(app: Flask, stop: threading.Event) -> None:
    interval = float(app.config["INGEST_CATCH_UP_S"])
    while not stop.wait(interval):
        catch_up_once(app)


def init_app(app: Flask) -> None:
    """Start the loop at the process's first request (``INGEST_CATCH_UP_S`` 0: never).

    Test apps start it only when ``INGEST_CATCH_UP_S`` was set explicitly.
    """
    app.config.setdefault("INGEST_CATCH_UP_AGE_S", 60.0)
    explicit = "INGEST_CATCH_UP_S" in app.config
    app.config.setdefault("INGEST_CATCH_UP_S", 30.0)

    def start() -> None:
        if app.extensions.get("catch_up") is not None:
            return
        stop = threading.Event()
        app.extensions["catch_up"] = stop
        if float(app.config["INGEST_CATCH_UP_S"]) <= 0 or (app.testing and not explicit):
            return
        threading.Thread(target=_loop, args=(app, stop), name="catch-up",
                         daemon=True).start()

    app.wsgi_app = _FirstCall(app.wsgi_app, start)  # type: ignore[method-assign]


class _FirstCall:
    """A WSGI wrapper that runs ``hook`` once, at the first request.

    Otherwise transparent: attributes are the wrapped app's (``app.wsgi_app.app``).
    """

    def __init__(self, inner: Any, hook: Any) -> None:
        self._inner, self._hook, self._done = inner, hook, False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not self._done:
            self._done = True
            self._hook()
        return self._inner(environ, start_response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
