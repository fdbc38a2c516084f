"""Running the app under gunicorn from inside ``carte serve`` and ``carte demo``.

gthread workers: on this machine kind they answer about 1.3x the requests of sync
workers for small tiles (docs/benchmarks.md, the peers) and do not block on slow clients' closes.
Each worker builds its own app (and so its own database pool) after the fork.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

__all__ = ["default_workers", "run_gunicorn"]


def default_workers() -> int:
    """Two workers per core, at least two: one slow request never stalls the map."""
    return max(2, 2 * (os.cpu_count() or 1))


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # newer settings are skipped on older gunicorns
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


def run_gunicorn(factory: Callable[[], Flask], *, host: str, port: int, workers: int,
                 threads: int = 4) -> None:
    """Serve until SIGINT or SIGTERM; returns when gunicorn has stopped every worker."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "control_socket_disable": True,  # gunicorn >= 24 opens one in $HOME otherwise
    }
    arbiter_pid = os.getpid()
    code: object = 0
    try:
        _Gunicorn(factory, options).run()
    except SystemExit as exc:
        code = exc.code
        if os.getpid() == arbiter_pid and exc.code not in (0, None):
            raise
    finally:
        # Workers are forks of this process and leave through SystemExit too: they must
        # end here, not unwind into the caller (which would, say, stop the database).
        if os.getpid() != arbiter_pid:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 1)
