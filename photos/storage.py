"""Where photo bytes live: one small interface, a local-disk implementation.

Two stores, never mixed up: the **public** store holds only our re-encodings (what
``/photos/<key>`` may serve), the **quarantine** store holds files exactly as received
(kept for moderators' and auditors' sake, never served by any route). Both are a
:class:`Storage`; the default is :class:`LocalStorage` under ``VAR_DIR/photos/public``
and ``VAR_DIR/photos/quarantine``.

An S3-compatible object store implements the same four methods with ``boto3``
(``put_object`` is atomic per key on S3, MinIO and Garage; ``get_object``,
``delete_object``, ``head_object``): see docs/architecture.md "Photos". It is not
shipped: nothing here runs against an object store in the tests yet.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["KEY", "LocalStorage", "Storage", "stores"]

KEY = re.compile(r"^[0-9a-f]{64}(\.thumb)?\.(jpg|webp)$|^[0-9a-f]{64}\.orig$")
"""A key is a content hash with a known suffix: nothing a request can use to climb out
of the store's folder (no ``/``, no ``..``)."""


@runtime_checkable
class Storage(Protocol):
    """Bytes by key. ``put`` is atomic: a reader sees the whole object or none."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (replacing what was there, atomically)."""

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None``."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing happens if it is absent)."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""


def _checked(key: str) -> str:
    if not KEY.match(key):
        raise ValueError(f"not a photo key: {key[:80]!r}")
    return key


class LocalStorage:
    """A folder of files named by key.

    ``put`` writes a temporary file in the same folder, flushes it to disk, then renames
    it over the key (``os.replace`` is atomic on POSIX): a crash or a refused photo
    never leaves a half-written file under a public name.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file of ``key`` (for ``send_file``-style serving)."""
        return self.root / _checked(key)

    def put(self, key: str, data: bytes) -> None:
        """Write-to-temp-then-rename; the file is readable by the server only (0640)."""
        target = self.path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        """The file's bytes, or ``None``."""
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        """Remove the file, if there."""
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """Whether the file is there."""
        return self.path(key).is_file()


def stores(var_dir: Path | str) -> tuple[LocalStorage, LocalStorage]:
    """The public and the quarantine store under ``var_dir/photos/``."""
    base = Path(var_dir) / "photos"
    return LocalStorage(base / "public"), LocalStorage(base / "quarantine")
