"""Every public endpoint fuzzed from its own description, against the real server.

schemathesis reads ``/api/v1/openapi.json`` and ``/ogc/api`` from a live server (the
app on werkzeug, in a thread, on the session's database with categories and a few
published features) and sends each operation a bounded, reproducible set of generated
requests: a fixed number of examples per operation, a fixed seed, deterministic
generation. It fails on any 5xx and on any answer the document does not allow (a status
it does not list, a body that breaks its schema, a wrong content type). The whole run is
kept under about a minute; ``FUZZ_EXAMPLES=120`` (by hand) searches deeper: 120 per
operation found nothing more on 2026-12-07.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures

ST = Path(sys.executable).with_name("st")
SEED = "20261207"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))  # per operation; more by hand
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        """Thousands of generated requests: no access log."""


@pytest.fixture
def fuzz_server(ingest_app, engine) -> Iterator[str]:
    """The app with a few published features, served on a free port."""
    from sqlalchemy import text

    with engine.begin() as conn:
        for i, (lon, lat) in enumerate([(2.3522, 48.8566), (2.3795, 48.8590),
                                        (2.2945, 48.8584)]):
            conn.execute(text(
                "INSERT INTO feature (category, title, description, geom, status, attributes)"
                " VALUES ('jardin-partage', :t, 'd', ST_SetSRID(ST_MakePoint(:lon, :lat),"
                " 4326), 'published', '{}'::jsonb)"), {"t": f"Jardin {i}", "lon": lon,
                                                     "lat": lat})
    ingest_app.config["INGEST_RATE_LIMIT"] = "100000/60"
    server = make_server("127.0.0.1", 0, ingest_app, threaded=True,
                         request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _run(schema_url: str, base_url: str, tmp_path: Path, examples: int) -> tuple[int, str]:
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [str(ST), "run", schema_url, "--url", base_url, "--checks", CHECKS,
         "--max-examples", str(examples), "--seed", SEED, "--generation-deterministic",
         "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-color",
         "--request-timeout", "10", "--max-failures", "20", "--warnings", "off",
         "--report", "ndjson", "--report-ndjson-path", str(report)],
        capture_output=True, text=True, timeout=240, check=False,
        cwd=tmp_path)  # its caches go there, not into the checkout
    return proc.returncode, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_the_public_api_answers_every_generated_request_as_its_document_says(
        fuzz_server, tmp_path):
    code, out = _run(f"{fuzz_server}/api/v1/openapi.json", fuzz_server, tmp_path, EXAMPLES)
    assert code == 0, out


def test_the_ogc_api_answers_every_generated_request_as_its_document_says(
        fuzz_server, tmp_path):
    code, out = _run(f"{fuzz_server}/ogc/api", fuzz_server + "/ogc", tmp_path, EXAMPLES)
    assert code == 0, out


def test_the_document_lists_every_api_v1_operation(ingest_app):
    doc = ingest_app.test_client().get("/api/v1/openapi.json").get_json()
    described = {(path, method.upper()) for path, ops in doc["paths"].items()
                 for method in ops if method in ("get", "post", "put", "patch", "delete")}
    routes = set()
    for rule in ingest_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>",
                                                                         f"{{{arg}}}")
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - described == set(), json.dumps(sorted(routes - described))
