"""A real HTTP server for clients such as GDAL, in its own process.

GDAL, called through pyogrio, keeps Python's GIL while it waits for HTTP answers, so
a server in a thread of the test process would never answer: the server runs in a
child process (``python -m tests.opendata_server DATABASE_URL VAR_DIR``) that prints
its port.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(database_url: str, var_dir: Path) -> Iterator[str]:
    """Serve the app on a free loopback port; yields the base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.opendata_server", database_url, str(var_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("port "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def main(database_url: str, var_dir: str) -> None:
    from tests.wsgi_server import make_test_server
    from webmap import create_app

    app = create_app({"DATABASE_URL": database_url, "VAR_DIR": var_dir,
                      "SECRET_KEY": "test-secret-key"})
    server = make_test_server(app)
    print("port", server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:3])
