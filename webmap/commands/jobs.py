"""``carte jobs``: the background jobs (:mod:`geo.jobs`) seen from a terminal.

``carte jobs list`` prints the latest jobs, one JSON object a line; ``carte jobs wait
ID`` follows one until it is done or failed, drawing a progress bar on stderr when
stderr is a terminal (one line redrawn after a carriage return:
``job 7 [###...]  50%  50,000/100,000 publishing``),
then prints the job as one JSON object on stdout (exit status 1 when it failed, 2 on
``--timeout``). Scripts read stdout only and never see the bar.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from .options import echo_json

__all__ = ["bar_line", "follow", "jobs"]

WIDTH = 30


def bar_line(status: dict[str, Any]) -> str:
    """One progress line for a job's state (no carriage return, no newline)."""
    done, total = int(status.get("done") or 0), status.get("total")
    message = status.get("message") or status.get("status") or ""
    if total:
        share = min(1.0, done / total)
        filled = round(share * WIDTH)
        return (f"job {status['id']} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                f"{share:4.0%}  {done:,}/{total:,} {message}").rstrip()
    return f"job {status['id']} {status['status']} {done:,} {message}".rstrip()


def _public(status: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in status.items()}


def follow(read: Callable[[], dict[str, Any] | None], *, show: bool, poll: float = 0.5,
           timeout: float | None = None, sleep: Callable[[float], None] = time.sleep
           ) -> dict[str, Any] | None:
    """Poll ``read()`` until the job is done or failed; the last state.

    With ``show``, each change is drawn over the previous line on stderr, and the line
    is ended at the end. ``None`` when ``timeout`` seconds passed first (or no job).
    """
    start, last, drawn = time.monotonic(), None, False
    status = read()
    while status is not None:
        line = bar_line(status)
        if show and line != last:
            click.echo("\r" + line.ljust(len(last or "")), nl=False, err=True)
            last, drawn = line, True
        if status["status"] in ("done", "failed"):
            break
        if timeout is not None and time.monotonic() - start > timeout:
            status = None
            break
        sleep(poll)
        status = read()
    if show and drawn:
        click.echo("", err=True)
    return status


def wait_for(job_id: int, *, progress: bool | None, poll: float = 0.5,
             timeout: float | None = None) -> None:
    """Follow a job from the CLI and print its final state (shared by other commands)."""
    from sqlalchemy.orm import Session

    from geo.db import get_engine
    from geo.jobs import job_status

    engine = get_engine()
    show = sys.stderr.isatty() if progress is None else progress

    def read() -> dict[str, Any] | None:
        with Session(engine) as s:
            return job_status(s, job_id)

    if read() is None:
        raise click.ClickException(f"no job {job_id}")
    status = follow(read, show=show, poll=poll, timeout=timeout)
    if status is None:
        echo_json({"job": job_id, "status": "waiting", "timeout": timeout})
        sys.exit(2)
    echo_json(_public(status))
    if status["status"] == "failed":
        sys.exit(1)


@click.group("jobs")
def jobs() -> None:
    """Background jobs run by ``carte worker``: list them, wait for one."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "done", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def jobs_list(status: str | None, limit: int) -> None:
    """The latest jobs, newest first (one JSON object a line)."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo.db import get_engine
    from geo.jobs import job_status

    with Session(get_engine()) as s:
        ids = s.scalars(text("SELECT id FROM job WHERE (CAST(:s AS text) IS NULL "
                             "OR status = :s) ORDER BY id DESC LIMIT :n"),
                        {"s": status, "n": limit}).all()
        for job_id in ids:
            echo_json(_public(job_status(s, job_id) or {}))


@jobs.command("wait")
@click.argument("job_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--timeout", type=click.FloatRange(0), default=None,
              help="Give up after this many seconds (exit status 2).")
@click.option("--poll", type=click.FloatRange(0.05, 60), default=0.5, show_default=True)
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when it is a terminal).")
def jobs_wait(job_id: int, timeout: float | None, poll: float,
              progress: bool | None) -> None:
    """Follow job JOB_ID until it is done; its result as JSON (exit 1 if it failed)."""
    wait_for(job_id, progress=progress, poll=poll, timeout=timeout)
