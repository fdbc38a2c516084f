"""The embedded PostgreSQL + PostGIS cluster, for machines with no database configured.

``EmbeddedPostgres(root).up()`` creates a cluster under ``root/data`` with ``initdb``,
starts it listening on a Unix socket in ``root/sock`` only (``listen_addresses = ''``: no
TCP port at all), creates the database and the PostGIS extension. Every step is
idempotent, so ``up()`` is also how the cluster is recovered after a crash:

* a stale ``postmaster.pid`` (the server was SIGKILLed, or the machine rebooted) is
  removed when the process it names is not a postmaster of this data directory;
* backends orphaned by a SIGKILLed postmaster still hold its shared memory and make a
  new postmaster refuse to start; they are found by their working directory (a backend
  always runs in its data directory) and stopped;
* ``initdb`` runs in a scratch directory renamed into place, so a half-made cluster is
  never mistaken for a whole one.

PostgreSQL refuses to run as root. When we are root the server runs as Debian's
unprivileged ``postgres`` user, which is given the cluster directory. Access control is
the file system: the socket directory is mode 0700, so only its owner (and root) can
connect, and local connections use ``trust``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ClusterError, MissingSystemPackage

__all__ = ["ClusterStatus", "EmbeddedPostgres", "find_bindir"]

POSTGIS_PACKAGE = "postgresql-15-postgis-3"
SERVER_PACKAGE = "postgresql-15"
SOCKET_NAME = ".s.PGSQL.5432"
# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107

# Settings written at every start; why each one is here matters more than its value.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "''",  # Unix socket only: nothing listens on TCP
    "unix_socket_permissions": "0700",
    # On 2 cores a parallel worker costs 4-10x a small bbox query (docs/benchmarks.md).
    "max_parallel_workers_per_gather": "0",
    "shared_buffers": "'256MB'",
    "work_mem": "'32MB'",
    "maintenance_work_mem": "'256MB'",
    "max_connections": "100",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


@dataclass(frozen=True)
class ClusterStatus:
    """What ``carte db status`` reports."""

    running: bool
    initialised: bool
    pid: int | None
    data_dir: Path
    socket_dir: Path
    url: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "running": self.running,
            "initialised": self.initialised,
            "pid": self.pid,
            "data_dir": str(self.data_dir),
            "socket_dir": str(self.socket_dir),
            "url": self.url,
        }


def find_bindir() -> Path:
    """The directory of PostgreSQL's server programs (``initdb``, ``pg_ctl``).

    ``CARTE_PG_BINDIR`` wins; then Debian's ``/usr/lib/postgresql/15/bin``, then the
    newest other version there, then ``PATH``.
    """
    candidates: list[str] = []
    if os.environ.get("CARTE_PG_BINDIR"):
        candidates.append(os.environ["CARTE_PG_BINDIR"])
    candidates.append("/usr/lib/postgresql/15/bin")
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).parent))
    for c in candidates:
        if (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise MissingSystemPackage(SERVER_PACKAGE, "The PostgreSQL server (initdb, pg_ctl)")


def _postgis_installed(bindir: Path) -> bool:
    """Whether the PostGIS extension files exist for the server in ``bindir``."""
    try:
        out = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out = f"/usr/share/postgresql/{bindir.parent.name}"
    return (Path(out) / "extension" / "postgis.control").is_file()


class EmbeddedPostgres:
    """A PostgreSQL cluster owned by this project, under one directory.

    Parameters
    ----------
    root
        Directory holding ``data/`` (the cluster), ``sock/`` (the socket) and
        ``postgres.log``. Created when missing.
    dbname, user
        The database created in the cluster and its superuser.
    settings
        Extra server settings (``name -> value`` in postgresql.conf syntax), e.g.
        ``{"fsync": "off"}`` for a throwaway test cluster.
    """

    def __init__(self, root: Path | str, *, dbname: str = "carte", user: str = "carte",
                 settings: dict[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        self.dbname = dbname
        self.user = user
        self.settings = {**SERVER_SETTINGS, **(settings or {})}
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "postgres.log"

    # -- public API ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's database, through the Unix socket."""
        return f"postgresql+psycopg://{self.user}@/{self.dbname}?host={self.socket_dir}"

    def up(self) -> ClusterStatus:
        """Create, recover and start the cluster, then make sure the database exists."""
        bindir = find_bindir()
        if not _postgis_installed(bindir):
            raise MissingSystemPackage(POSTGIS_PACKAGE, "PostGIS")
        self._check_socket_path()
        self._prepare_root()
        if not self.initialised:
            self._initdb(bindir)
        self._write_settings()
        if not self._running_pid():
            self._clear_crash_leftovers()
            self._start(bindir)
        self._ensure_database()
        return self.status()

    def down(self, *, timeout: float = 30.0) -> bool:
        """Stop the server (fast shutdown). Returns whether it was running."""
        pid = self._running_pid()
        if pid is None:
            return False
        bindir = find_bindir()
        result = self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                            "-w", "-t", str(int(timeout)), "stop"], check=False)
        if result.returncode != 0 and self._running_pid():
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown; crash recovery on next up
            self._wait_gone(pid, timeout)
        return True

    def crash(self) -> int:
        """Kill the server and every backend with SIGKILL; returns how many died.

        What a power cut or the OOM killer does: no checkpoint, no goodbye to clients;
        :meth:`up` recovers. For crash tests.
        """
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and self._is_ours(int(p))]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            self._wait_gone(pid, 10.0)
        return len(pids)

    def status(self) -> ClusterStatus:
        """Whether the cluster exists and a server is running on it."""
        pid = self._running_pid()
        return ClusterStatus(running=pid is not None, initialised=self.initialised, pid=pid,
                             data_dir=self.data_dir, socket_dir=self.socket_dir, url=self.url)

    @property
    def initialised(self) -> bool:
        """Whether ``initdb`` has completed in ``data_dir``."""
        return (self.data_dir / "PG_VERSION").is_file()

    # -- running as an unprivileged user ------------------------------------------------

    @property
    def _run_as(self) -> pwd.struct_passwd | None:
        """The account the server runs as, when we are root; ``None`` otherwise."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError as exc:
            raise MissingSystemPackage(SERVER_PACKAGE, "The 'postgres' system user") from exc

    def _run(self, cmd: list[str], *, check: bool = True,
             timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a server program, as ``postgres`` when we are root."""
        account = self._run_as
        kwargs: dict[str, object] = {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        if account is not None:
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            env["HOME"] = account.pw_dir
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root,
                                    env=env, timeout=timeout, check=False, **kwargs)
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"{Path(cmd[0]).name} did not finish in {timeout:.0f} s") from exc
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise ClusterError(f"{Path(cmd[0]).name} failed: {detail}\n(log: {self.log_file})")
        return result

    def _chown(self, path: Path) -> None:
        account = self._run_as
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid)

    # -- steps ------------------------------------------------------------------------

    def _check_socket_path(self) -> None:
        path = str(self.socket_dir / SOCKET_NAME)
        if len(path.encode()) > MAX_SOCKET_PATH:
            raise ClusterError(
                f"the socket path {path} is longer than the {MAX_SOCKET_PATH} bytes Unix "
                "allows; set CARTE_VAR_DIR to a shorter directory")

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.socket_dir.chmod(0o700)
        for path in (self.root, self.socket_dir):
            self._chown(path)
        if self._run_as is not None:
            # The server account must be able to reach its directory from /.
            probe = self._run(["test", "-w", str(self.root)], check=False)
            if probe.returncode != 0:
                raise ClusterError(
                    f"the 'postgres' user cannot reach {self.root}: a parent directory is "
                    "not searchable by other users (e.g. /root is 0700); set CARTE_VAR_DIR "
                    "to a directory under /srv, /var or /tmp")

    def _initdb(self, bindir: Path) -> None:
        scratch = self.root / "data.initdb"
        if scratch.exists():
            shutil.rmtree(scratch)
        if self.data_dir.exists():
            # No PG_VERSION: a leftover that is not a cluster. Keep it aside, never delete data.
            self.data_dir.rename(self.root / f"data.broken-{int(time.time())}")
        scratch.mkdir(mode=0o700)
        self._chown(scratch)
        self._run([str(bindir / "initdb"), "-D", str(scratch), "-U", self.user,
                   "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"])
        with (scratch / "postgresql.conf").open("a") as conf:
            conf.write("\n# Carte citoyenne: settings rewritten at every start\n"
                       "include_if_exists = 'carte.conf'\n")
        scratch.rename(self.data_dir)

    def _write_settings(self) -> None:
        lines = [f"{k} = {v}" for k, v in self.settings.items()]
        # The socket directory is absolute, so it is rewritten at each start: the project
        # directory may have moved since initdb.
        lines.append(f"unix_socket_directories = '{self.socket_dir}'")
        conf = self.data_dir / "carte.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._chown(conf)

    def _start(self, bindir: Path) -> None:
        if not self.log_file.exists():
            self.log_file.touch()
        self._chown(self.log_file)
        for attempt in range(3):
            result = self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir),
                                "-l", str(self.log_file), "-w", "-t", "60", "start"],
                               check=False)
            if result.returncode == 0:
                return
            # Orphaned backends of a killed postmaster may still be exiting.
            self._clear_crash_leftovers()
            time.sleep(0.5 * (attempt + 1))
        raise ClusterError(f"PostgreSQL did not start: {self._log_tail()}")

    def _ensure_database(self) -> None:
        import psycopg

        try:
            with psycopg.connect(host=str(self.socket_dir), user=self.user, dbname="postgres",
                                 autocommit=True, connect_timeout=10) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                      (self.dbname,)).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{self.dbname}"')
            with psycopg.connect(host=str(self.socket_dir), user=self.user, dbname=self.dbname,
                                 autocommit=True, connect_timeout=10) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.errors.FeatureNotSupported as exc:
            raise MissingSystemPackage(POSTGIS_PACKAGE, "PostGIS") from exc
        except psycopg.Error as exc:
            raise ClusterError(f"cannot prepare database {self.dbname!r}: {exc}") from exc

    # -- process bookkeeping -------------------------------------------------------------

    def _pidfile_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, IndexError, ValueError):
            return None

    def _is_ours(self, pid: int) -> bool:
        """Whether ``pid`` is a live PostgreSQL process working in our data directory."""
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return False
        return comm.startswith(("postgres", "postmaster")) and \
            Path(cwd.removesuffix(" (deleted)")) == self.data_dir

    def _running_pid(self) -> int | None:
        pid = self._pidfile_pid()
        return pid if pid is not None and self._is_ours(pid) else None

    def _clear_crash_leftovers(self) -> None:
        """Remove what a crashed server leaves behind so that a new one can start."""
        orphans = [int(p) for p in os.listdir("/proc") if p.isdigit() and self._is_ours(int(p))]
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in orphans:
            self._wait_gone(pid, 10.0)
        for stale in (self.data_dir / "postmaster.pid",
                      self.socket_dir / f"{SOCKET_NAME}.lock",
                      self.socket_dir / SOCKET_NAME):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            # A zombie child of ours: reap it.
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    return
            time.sleep(0.05)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {self.log_file})"
