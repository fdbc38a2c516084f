"""The ``carte`` CLI (click's CliRunner) and ``/healthz`` (Flask's test client)."""

import json

from geo.migrate import head_revision
from webmap import create_app
from webmap.cli import main


def lines(result):
    return [json.loads(line) for line in result.output.strip().splitlines()]


def test_db_status_reports_versions_and_revision(runner):
    result = runner.invoke(main, ["db", "status"])
    assert result.exit_code == 0, result.output
    status = lines(result)[-1]
    assert status["reachable"] is True
    assert status["postgresql"].startswith("15.")
    assert status["postgis"].startswith("3.")
    assert status["revision"] == status["head"] == head_revision()


def test_migrate_is_idempotent(runner):
    result = runner.invoke(main, ["db", "migrate"])
    assert result.exit_code == 0, result.output
    assert lines(result)[-1] == {"migrated": True, "from": head_revision(),
                                 "to": head_revision()}


def test_areas_load_reports_counts(runner):
    result = runner.invoke(main, ["areas", "load"])
    assert result.exit_code == 0, result.output
    assert lines(result)[-1]["loaded"] == {"city": 1, "arrondissements": 20, "quartiers": 80}


def test_areas_load_refuses_a_broken_city_folder(runner, tmp_path):
    import shutil

    from geo.config import data_dir

    folder = tmp_path / "paris"
    shutil.copytree(data_dir() / "cities" / "paris", folder,
                    ignore=shutil.ignore_patterns("basemap", "*.zip", "*.gz"))
    (folder / "arrondissements.geojson").write_text("not json")
    result = runner.invoke(main, ["areas", "load", "--city", str(folder)])
    assert result.exit_code == 1
    # The field of city.json and the file are named, so the operator knows what to fix.
    assert "areas.levels[0].file" in result.output
    assert "arrondissements.geojson" in result.output
    assert "Traceback" not in result.output


def test_db_up_with_an_external_database_starts_nothing(runner):
    result = runner.invoke(main, ["db", "up"])
    assert result.exit_code == 0
    assert lines(result)[-1]["database"] == "external"


def test_healthz_reports_database_and_postgis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["postgresql"].startswith("15.")
    assert body["database"]["postgis"].startswith("3.")
    assert body["schema"]["revision"] == head_revision()
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_problem_when_the_database_is_down(tmp_path):
    app = create_app({"DATABASE_URL": f"postgresql+psycopg://carte@/carte?host={tmp_path}",
                      "VAR_DIR": tmp_path, "SECRET_KEY": "x", "TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert str(tmp_path) not in response.get_data(as_text=True)


def test_unknown_api_path_is_a_json_problem(client):
    response = client.get("/api/v1/nothing-here", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_factory_reads_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CARTE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CARTE_DATABASE_URL", "postgresql://u@h/db")
    app = create_app()
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://u@h/db"
    assert app.config["VAR_DIR"] == tmp_path
    # A generated secret is shared by every worker through var/secret_key (0600).
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024


def test_security_headers_on_every_answer(client):
    response = client.get("/healthz")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
