"""Photos benchmark (issue 19): one 12-megapixel JPEG processed, then uploads under load.

1. **Processing**: a 4000 × 3000 JPEG as a phone writes it (EXIF with orientation 6,
   GPS, serial, an embedded thumbnail; photo-like texture) goes through
   :func:`photos.processing.process` (checks, decode, rotate, display and thumbnail
   re-encodes) in a child process pinned to one core; the median of several runs and
   the child's peak resident memory (``ru_maxrss``), beside its resident memory before
   the first run (Python, Pillow and the file loaded). Target: < 0.5 s, < 200 MB.
2. **Uploads vs submissions**: the real app under gunicorn (``carte serve``'s workers),
   a throwaway PostGIS; one thread sends JSON submissions back to back and times each,
   first alone, then while 20 clients upload that JPEG to ``POST /api/v1/photos`` in a
   loop. Target: JSON p99 < 200 ms during the uploads.

Run: ``.venv/bin/python bench/bench_photos.py [--runs 7] [--seconds 20]``. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def photo_12mp() -> bytes:
    """A 4000 × 3000 camera JPEG with photo-like texture and a phone's EXIF."""
    from PIL import Image, ImageFilter

    from tests import photo_images as im

    base = im._picture(4000, 3000)
    noise = Image.effect_noise((4000, 3000), 50).filter(ImageFilter.GaussianBlur(0.7))
    texture = Image.merge("RGB", (noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                  noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    img = Image.blend(base, texture, 0.4)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=im.camera_exif(6))
    return buf.getvalue()


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_process(path: str, runs: int) -> None:
    """Runs in the child: pinned to one core, times ``process`` and reports memory."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    from photos.processing import process

    data = Path(path).read_bytes()
    # The peak resident size is inherited through fork and exec (ru_maxrss would report
    # the parent's, which made the image): reset it, then read the kernel's VmHWM.
    Path("/proc/self/clear_refs").write_text("5")
    before = _vm_hwm_kib()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = process(data)
        times.append(time.perf_counter() - t)
    peak = _vm_hwm_kib()
    print(json.dumps({"times": times, "rss_before_kib": before, "rss_peak_kib": peak,
                      "display": [out.display.width, out.display.height],
                      "display_bytes": len(out.display.data),
                      "thumb_bytes": len(out.thumb.data)}))


def bench_processing(data: bytes, runs: int, tmp: Path) -> dict:
    path = tmp / "photo-12mp.jpg"
    path.write_bytes(data)
    out = subprocess.run([sys.executable, __file__, "--child", str(path), str(runs)],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    times = got["times"]
    return {"bench": "photo_processing_12mp", "input_bytes": len(data), "runs": runs,
            "median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "peak_rss_mib": round(got["rss_peak_kib"] / 1024, 1),
            "rss_before_mib": round(got["rss_before_kib"] / 1024, 1),
            "display": got["display"], "display_bytes": got["display_bytes"],
            "thumb_bytes": got["thumb_bytes"]}


# --- the server part ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve() -> None:
    from webmap import create_app
    from webmap.serve import default_workers, run_gunicorn

    url, var, port = os.environ["BENCH_URL"], os.environ["BENCH_VAR"], \
        int(os.environ["BENCH_PORT"])

    def factory():
        return create_app({"DATABASE_URL": url, "VAR_DIR": Path(var), "SECRET_KEY": "bench",
                           "INGEST_RATE_LIMIT": "1000000/60",
                           "PHOTO_UPLOAD_RATE_LIMIT": "1000000/60",
                           "INGEST_DOUBLE_SUBMIT_S": 0})
    run_gunicorn(factory, host="127.0.0.1", port=port, workers=default_workers())


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"licence\"\r\n\r\n"
            f"CC0-1.0\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; "
            f"filename=\"IMG_0001.JPG\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() \
        + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _submission(i: int) -> bytes:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) + timedelta(days=3)
    return json.dumps({
        "lon": 2.3795 + (i % 100) * 1e-4, "lat": 48.8590, "title": f"Disco Soupe {i}",
        "description": "On épluche ensemble.", "category": "disco-soupe",
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=3)).isoformat(),
        "attributes": {}}).encode()


def _time_json(port: int, stop: threading.Event, out: list[float], codes: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    while not stop.is_set():
        i += 1
        t = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/submissions", _submission(i),
                         {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
        except OSError:  # counted as a failure (code 0), never hidden
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            codes.append(0)
            stop.wait(0.5)
            continue
        out.append(time.perf_counter() - t)
        codes.append(response.status)


def _upload(port: int, data: bytes, stop: threading.Event, out: list[float],
            codes: list[int]) -> None:
    """One client uploading in a loop, as the map's form does: a 503 is retried after
    its Retry-After (a refused connection too, after 2 s)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while not stop.is_set():
        body, ctype = _multipart(data)
        t = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/photos", body, {"Content-Type": ctype})
            response = conn.getresponse()
            response.read()
        except OSError:  # the server closed while the body was still going out
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            codes.append(0)
            stop.wait(5)
            continue
        out.append(time.perf_counter() - t)
        codes.append(response.status)
        if response.status == 503:
            stop.wait(float(response.getheader("Retry-After") or 2))
            conn.close()  # idle longer than gunicorn's keep-alive: a browser reconnects
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _phase(port: int, data: bytes, seconds: float, uploaders: int) -> dict:
    stop = threading.Event()
    json_times: list[float] = []
    json_codes: list[int] = []
    up_times: list[float] = []
    up_codes: list[int] = []
    threads = [threading.Thread(target=_upload, args=(port, data, stop, up_times, up_codes))
               for _ in range(uploaders)]
    threads.append(threading.Thread(target=_time_json,
                                    args=(port, stop, json_times, json_codes)))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return {"uploaders": uploaders, "seconds": seconds, "json_requests": len(json_times),
            "json_p50_ms": round(_pct(json_times, 0.5) * 1000, 1),
            "json_p99_ms": round(_pct(json_times, 0.99) * 1000, 1),
            "json_max_ms": round(max(json_times) * 1000, 1) if json_times else None,
            "json_non_201": sum(c not in (201, 0) for c in json_codes),
            "json_connection_errors": sum(c == 0 for c in json_codes),
            "uploads_201": sum(c == 201 for c in up_codes),
            "uploads_503": sum(c == 503 for c in up_codes),
            "uploads_other": sum(c not in (201, 503, 0) for c in up_codes),
            "uploads_connection_errors": sum(c == 0 for c in up_codes),
            "upload_p50_s": round(_pct(up_times, 0.5), 2) if up_times else None,
            "upload_p99_s": round(_pct(up_times, 0.99), 2) if up_times else None,
            "loadavg_1m": round(os.getloadavg()[0], 2)}


def bench_server(data: bytes, seconds: float) -> list[dict]:
    from bench.ingest_common import cluster

    results = []
    with cluster() as (url, root):
        port = _free_port()
        env = {**os.environ, "BENCH_URL": url, "BENCH_VAR": str(root / "var"),
               "BENCH_PORT": str(port)}
        proc = subprocess.Popen([sys.executable, __file__, "--serve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            _phase(port, data, 3, 0)  # warm-up: pools, caches
            for uploaders in (0, 20):
                results.append({"bench": "json_submissions_while_uploading",
                                **_phase(port, data, seconds, uploaders)})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    import tempfile

    data = photo_12mp()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(bench_processing(data, args.runs, Path(tmp))), flush=True)
    if not args.skip_server:
        for line in bench_server(data, args.seconds):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_process(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve()
    else:
        main()
