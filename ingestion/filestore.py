"""The run and its file as received, stored before any row is read; failures marked.

Nothing is lost: the file is committed apart from the rows, so a failed import still
leaves its file and a ``failed`` run with its error.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

PART_SIZE = 16 * 1024 * 1024  # bytes per import_file_part row


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine


def _create_run(engine: Engine, *, source: str, file_name: str, data: bytes,
                crs: str | None, category: str | None, options: dict[str, Any]) -> int:
    """Create the run (committed at once: the rows' trigger checks it exists)."""
    with engine.begin() as conn:
        run_id = conn.execute(text(
            "INSERT INTO import_run (source, file_name, file_sha256, file_size, crs, category, "
            "options) VALUES (:source, :name, :sha, :size, :crs, :category, "
            "CAST(:options AS jsonb)) RETURNING id"),
            {"source": source, "name": file_name[:1000], "sha": hashlib.sha256(data).digest(),
             "size": len(data), "crs": crs, "category": category,
             "options": json.dumps(options, default=str)}).scalar_one()
    return int(run_id)


class _FileStore:
    """Store the file as received, in parts, on a connection and a thread of its own.

    The upload (a 1M-row CSV is ~46 MB) overlaps the parsing; :meth:`join` waits for its
    commit, and the import joins it before it ends, successfully or not: a failed
    import still leaves its file. Binary parameters: no hex round trip for the bytes.
    """

    def __init__(self, engine: Engine, run_id: int, data: bytes) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(engine, run_id, data),
                                       daemon=True)
        self.thread.start()

    def _run(self, engine: Engine, run_id: int, data: bytes) -> None:
        try:
            raw = engine.raw_connection()
            try:
                conn = raw.driver_connection
                with conn.cursor() as cur:
                    for part, start in enumerate(range(0, max(len(data), 1), PART_SIZE)):
                        cur.execute("INSERT INTO import_file_part (run_id, part, data) "
                                    "VALUES (%s, %s, %s)",
                                    (run_id, part, data[start:start + PART_SIZE]), binary=True)
                raw.commit()
            finally:
                raw.close()
        except BaseException as exc:  # re-raised by join()
            self.error = exc

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _fail_run(engine: Engine, run_id: int, error: BaseException) -> None:
    """Mark the run failed with its error, in a transaction of its own."""
    message = f"{type(error).__name__}: {error}"[:2000] or type(error).__name__
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(
                "UPDATE import_run SET status = 'failed', finished_at = now(), reason = :e "
                "WHERE id = :r AND status = 'running'"), {"e": message, "r": run_id})
    except Exception:  # noqa: S110 - the original error matters more than this one
        pass

