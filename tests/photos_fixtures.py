"""Real photos for the photo tests: JPEGs made with Pillow carrying EXIF GPS, a camera
serial number and an embedded thumbnail, processed by :mod:`photos.processing` and
stored where the app reads them, then attached to a submission or a feature."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import text

from photos.processing import process
from photos.storage import stores

GPS = {1: "N", 2: (48.0, 51.0, 24.12), 3: "E", 4: (2.0, 21.0, 7.77)}
SERIAL = "SN-PHOTO-4711"


def camera_jpeg(colour: tuple[int, int, int] = (200, 60, 40), size: tuple[int, int] = (1200, 900),
                orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: GPS position, body serial number, maker, orientation
    (6: the sensor's landscape pixels are shown turned a quarter clockwise, upright)."""
    img = Image.new("RGB", size, colour)
    for x in range(0, size[0], 40):  # some structure, so the encoder has work to do
        img.paste((colour[0] // 2, 200, 90), (x, 0, x + 10, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "CarteCam"          # Make
    exif[0x0110] = "Model 7"           # Model
    exif[0x0112] = orientation         # Orientation
    exif.get_ifd(0x8769)[0xA431] = SERIAL  # BodySerialNumber
    exif.get_ifd(0x8825).update(GPS)   # GPSInfo
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def add_photo(engine, var_dir: Path, *, submission_id: int | None = None,
              feature_id: int | None = None, status: str = "ready",
              licence: str = "CC-BY-SA-4.0", author: str | None = "Camille",
              alt: str | None = None, position: int = 0,
              colour: tuple[int, int, int] = (200, 60, 40)) -> dict:
    """Process a camera JPEG, store its re-encodings, insert its row; returns its facts."""
    done = process(camera_jpeg(colour))
    public, _ = stores(var_dir)
    public.put(done.display.key, done.display.data)
    public.put(done.thumb.key, done.thumb.data)
    keys = status != "quarantined"
    with engine.begin() as conn:
        pid = conn.execute(text("""
            INSERT INTO photo (submission_id, feature_id, status, original_name,
                               original_sha256, media_type, width, height, display_key,
                               thumb_key, licence, author, alt, position)
            VALUES (:sid, :fid, :status, 'IMG_0001.JPG', :sha, 'image/jpeg', :w, :h, :dk,
                    :tk, :licence, :author, :alt, :pos) RETURNING id
        """), {"sid": submission_id, "fid": feature_id, "status": status,
               "sha": done.original_sha256, "w": done.display.width,
               "h": done.display.height, "dk": done.display.key if keys else None,
               "tk": done.thumb.key if keys else None, "licence": licence,
               "author": author, "alt": alt, "pos": position}).scalar_one()
    return {"id": pid, "url": f"/photos/{done.display.key}",
            "thumbnail_url": f"/photos/{done.thumb.key}", "width": done.display.width,
            "height": done.display.height, "display": done.display, "thumb": done.thumb}
