"""werkzeug's development server, made to close what a dropped connection leaves open.

When a browser abandons a request mid-answer (a navigation, an aborted ``fetch``), the
server's ``execute`` stops on the broken pipe and never calls the response's
``close()``, so a file answered by ``send_file`` waits for the garbage collector and
warns ``ResourceWarning: unclosed file`` in whichever test runs at that moment. A WSGI
server must call ``close()`` whatever happens (PEP 3333); gunicorn, which serves the
product, does. Here the response iterable is kept in the request's environ and closed by
the handler's ``connection_dropped`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

_KEY = "tests.response_iterable"


class _ClosingHandler(WSGIRequestHandler):
    def connection_dropped(self, error: BaseException, environ: dict | None = None) -> None:
        iterable = (environ or {}).pop(_KEY, None)
        close = getattr(iterable, "close", None)
        if close is not None:
            close()


def _keeping_iterable(app: Callable) -> Callable:
    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        iterable = app(environ, start_response)
        environ[_KEY] = iterable
        return iterable
    return wrapped


def make_test_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """A threaded werkzeug server for ``app`` that closes dropped responses."""
    return make_server(host, port, _keeping_iterable(app), threaded=True,
                       request_handler=_ClosingHandler)
