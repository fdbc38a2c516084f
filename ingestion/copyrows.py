"""COPY into ``import_row``: the text encoding, hex EWKB, and the writer thread.

PostgreSQL's COPY is the fastest way in; the rows are encoded here (row by row for
the scalar path, by pyarrow kernels for the column path) and written from a second
thread so that PostgreSQL works on one batch while Python prepares the next.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

COPY_COLUMNS = ("run_id", "row_number", "ref", "raw", "outcome", "changed", "errors",
                "category", "title", "description", "starts_at", "ends_at", "attributes",
                "geom", "area_ids", "raw_offset", "raw_length")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: Any) -> str:
    """One value in PostgreSQL's COPY text format (faster than adapting row by row)."""
    if value is None:
        return "\\N"
    cls = type(value)
    if cls is str:
        return value.translate(_COPY_ESCAPES) if not value.isalnum() else value
    if cls is bytes:
        return "\\\\x" + value.hex()
    if cls is bool:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    return str(value).translate(_COPY_ESCAPES)


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    return "".join("\t".join(map(_copy_field, r)) + "\n" for r in rows)


def _ewkb_hex(lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Hex EWKB of points (SRID 4326) as a (n, 50) uint8 array of ASCII hex digits.

    PostGIS reads hex EWKB without parsing text numbers; built with numpy, no per-row
    Python: the 25 bytes of each point are fixed but for its two doubles.
    """
    n = len(lons)
    rec = np.zeros(n, dtype=[("head", "u1", 9), ("x", "<f8"), ("y", "<f8")])
    rec["head"] = np.frombuffer(bytes.fromhex("0101000020e6100000"), dtype=np.uint8)
    rec["x"], rec["y"] = lons, lats
    raw = rec.view(np.uint8).reshape(n, 25)
    digits = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    out = np.empty((n, 50), dtype=np.uint8)
    out[:, 0::2], out[:, 1::2] = digits[raw >> 4], digits[raw & 15]
    return out


def _ewkb_one(lon: float, lat: float) -> str:
    return _ewkb_hex(np.array([lon]), np.array([lat])).tobytes().decode()


class _Writer:
    """COPY batches on the session's connection from a second thread.

    PostgreSQL parses, checks and stores batch N (on the other core) while this
    process validates batch N+1; the thread mostly waits on the socket, GIL released.
    ``join`` before anything else uses the connection.
    """

    def __init__(self, session: Session) -> None:
        self.conn = session.connection().connection.driver_connection
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self, chunks: list[bytes | str]) -> None:
        try:
            with self.conn.cursor() as cur, cur.copy(
                    f"COPY import_row ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                for data in chunks:
                    for start in range(0, len(data), 1 << 22):
                        copy.write(data[start:start + (1 << 22)])
        except BaseException as exc:  # re-raised in the caller's thread by join()
            self.error = exc

    def start(self, chunks: list[bytes | str]) -> None:
        self.join()
        chunks = [c for c in chunks if c]
        if chunks:
            self.thread = threading.Thread(target=self._run, args=(chunks,), daemon=True)
            self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error



def _escape(arr: Any) -> Any:
    """COPY text escapes of a string array; most columns need none (checked by memchr)."""
    import pyarrow.compute as pc

    data = arr.buffers()[2] if len(arr) else None
    if data is None:
        return arr
    raw = data.to_pybytes()
    if not any(c in raw for c in (b"\\", b"\t", b"\n", b"\r")):
        return arr
    for old, new in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        arr = pc.replace_substring(arr, old, new)
    return arr


def _hex_binary(arr: Any) -> Any:
    """Each value of a binary array as COPY text's bytea (backslash-x and hex), vectorised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.cast(pa.large_binary())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    first, last = int(offsets[0]), int(offsets[-1])
    hexed = data.to_pybytes()[first:last].hex().encode() if data is not None else b""
    hex_arr = pa.StringArray.from_buffers(
        len(arr), pa.py_buffer(((offsets - first) * 2).astype(np.int32)), pa.py_buffer(hexed))
    return pc.binary_join_element_wise(pa.scalar("\\\\x"), hex_arr, "")


def _copy_columns(columns: list[Any]) -> bytes:
    """COPY text of rows given as columns (arrays or scalars) already in COPY format."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [c if isinstance(c, pa.Scalar) else c.cast(pa.string()) for c in columns]
    joined = pc.binary_join_element_wise(
        pc.binary_join_element_wise(*columns, "\t"), pa.scalar("\n"), "")
    offs = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    return joined.buffers()[2].to_pybytes()[int(offs[0]):int(offs[len(joined)])]

