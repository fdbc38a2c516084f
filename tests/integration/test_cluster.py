"""The embedded cluster through ``carte db``: create, crash, recover, stop."""

import json
import os
import shutil
import signal
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from geo.embedded import EmbeddedPostgres
from tests.conftest import make_cluster_dir
from webmap.cli import main


@pytest.fixture
def own_cluster():
    root = make_cluster_dir("carte-crash-")
    env = {"CARTE_VAR_DIR": str(root / "var"), "CARTE_DATABASE_URL": ""}
    yield CliRunner(env=env), EmbeddedPostgres(root / "var" / "pg")
    EmbeddedPostgres(root / "var" / "pg").down()
    shutil.rmtree(root, ignore_errors=True)


def carte(runner, *args):
    result = runner.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def connect(pg):
    return psycopg.connect(host=str(pg.socket_dir), user="carte", dbname="carte",
                           autocommit=True)


def listening_tcp_ports(pid: int) -> list[int]:
    """TCP ports the process with ``pid`` listens on, read from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A = LISTEN
                ports.append(int(parts[1].split(":")[1], 16))
    return ports


def test_up_is_idempotent_and_survives_sigkill(own_cluster):
    runner, pg = own_cluster
    first = carte(runner, "db", "up")
    assert first["running"] and first["database"] == "embedded"
    assert carte(runner, "db", "up")["pid"] == first["pid"]   # second up: nothing to do

    # Socket only: the postmaster listens on no TCP port, and the socket dir is private.
    assert listening_tcp_ports(first["pid"]) == []
    assert (pg.socket_dir / ".s.PGSQL.5432").exists()
    assert oct(pg.socket_dir.stat().st_mode & 0o777) == "0o700"

    with connect(pg) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('acknowledged before the crash')")
        assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")

    os.kill(first["pid"], signal.SIGKILL)
    time.sleep(0.2)
    assert (pg.data_dir / "postmaster.pid").exists()   # stale, as after a real crash
    assert pg.status().running is False

    again = carte(runner, "db", "up")
    assert again["running"] and again["pid"] != first["pid"]
    with connect(pg) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone()[0] == "acknowledged before the crash"

    assert carte(runner, "db", "down")["stopped"] is True
    status = runner.invoke(main, ["db", "status"])
    assert status.exit_code == 1
    assert json.loads(status.output)["running"] is False


def test_stale_pid_file_naming_a_live_foreign_process(own_cluster):
    """After a reboot the old PID may belong to someone else: up must still start."""
    runner, pg = own_cluster
    carte(runner, "db", "up")
    pid = pg.status().pid
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    lines = (pg.data_dir / "postmaster.pid").read_text().splitlines()
    lines[0] = str(os.getpid())   # a live process that is not a postmaster
    (pg.data_dir / "postmaster.pid").write_text("\n".join(lines) + "\n")
    assert pg.status().running is False
    assert carte(runner, "db", "up")["running"] is True
    with connect(pg) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


