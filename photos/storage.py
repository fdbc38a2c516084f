"""Where photo bytes live: one small interface, a local-disk implementation.

Two stores, never mixed up: the **public** store holds only our re-encodings (what
``/photos/<key>`` may serve), the **quarantine** store holds files exactly as received
(kept for moderators' and auditors' sake, never served by any route). Both are a
:class:`Storage`; the default is :class:`LocalStorage` under ``VAR_DIR/photos/public``
and ``VAR_DIR/photos/quarantine``.

:class:`S3Storage` implements the same four methods on an S3-compatible object store
with ``boto3`` (``put_object`` is atomic per key on S3, MinIO and Garage: a reader sees
the old object or the new one, never a part), chosen by ``PHOTO_S3_BUCKET``; the tests
run it against moto's S3 server over HTTP. Credentials come from boto3's usual places
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance role).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["KEY", "LocalStorage", "S3Storage", "Storage", "stores"]

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


class S3Storage:
    """Objects of one bucket under a prefix (``public/``, ``quarantine/``).

    The quarantine prefix must not be readable by the public (keep the bucket private
    and serve ``public/`` through the app or a CDN with its own origin access).
    """

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None) -> None:
        if client is None:
            import boto3  # only when an object store is configured

            client = boto3.client("s3", endpoint_url=endpoint_url or None,
                                  region_name=region or None)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return self.prefix + _checked(key)

    def put(self, key: str, data: bytes) -> None:
        """One ``PutObject`` (atomic per key), with the content type of the suffix."""
        kind = "image/webp" if key.endswith(".webp") else \
            "image/jpeg" if key.endswith(".jpg") else "application/octet-stream"
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                               ContentType=kind)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or ``None``."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body

    def delete(self, key: str) -> None:
        """``DeleteObject`` (S3 answers the same whether it existed or not)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def exists(self, key: str) -> bool:
        """``HeadObject``."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def stores(where: Path | str | Mapping[str, Any]) -> tuple[Storage, Storage]:
    """The public and the quarantine store.

    ``where`` is a folder (``<folder>/photos/public`` and ``…/quarantine`` on the local
    disk) or the app's config: with ``PHOTO_S3_BUCKET`` set, the bucket's ``public/``
    and ``quarantine/`` prefixes (``PHOTO_S3_ENDPOINT`` for MinIO, Garage, moto...),
    else the local disk under ``VAR_DIR``.
    """
    if isinstance(where, Mapping):
        bucket = where.get("PHOTO_S3_BUCKET")
        if bucket:
            endpoint = where.get("PHOTO_S3_ENDPOINT") or None
            public = S3Storage(bucket, "public/", endpoint_url=endpoint)
            return public, S3Storage(bucket, "quarantine/", client=public.client)
        where = where.get("VAR_DIR") or "var"
    base = Path(where) / "photos"
    return LocalStorage(base / "public"), LocalStorage(base / "quarantine")
