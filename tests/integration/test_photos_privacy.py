"""Issue 19, item 6: no public byte carries what the resident's camera wrote.

A resident sends a phone photo that carries GPS coordinates (Marseille), a camera body
serial number, an embedded EXIF thumbnail with its own EXIF (another serial, GPS), XMP,
IPTC, a comment and an ICC profile, once in a multipart submission and once through the
upload step, under a file name that names them. A moderator approves. Then every public
answer is read: the derivatives the public feature links to, ``/api/v1/features``, the
OGC API item, the change feed and the GeoJSON and CSV exports. None holds the GPS
position (as decimal degrees or as EXIF rationals), a serial, the maker, the XMP, IPTC
or comment text, the file name, the original's hash, or a second JPEG image inside an
image; Pillow finds no EXIF in any derivative. The originals stay in quarantine, which
no route serves.
"""

from __future__ import annotations

import io
import json
import struct

from PIL import Image
from sqlalchemy import text

from opendata.exports import run_export
from tests import photo_images as im
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import good_submission
from tests.integration.test_photos_api import _approve

FILE_NAME = "Maison-de-Camille-Dupont.jpg"
# Marseille in decimal degrees, as any tool would print the photo's GPS position.
GPS_TEXT = ("43.2965", "43.296", "5.3698", "5.369", "43°17", "5°22")
GPS_RATIONALS = [struct.pack(order + "LL", n, 100) for order in (">", "<")
                 for n in (4740, 1130)]


def _private_strings(original_sha: str) -> list[bytes]:
    return [s.encode() for s in (*im.SECRETS, FILE_NAME, "Maison-de-Camille", original_sha,
                                 *GPS_TEXT)]


def _assert_clean_image(data: bytes, what: str) -> None:
    img = Image.open(io.BytesIO(data))
    assert dict(img.getexif()) == {}, what
    assert img.getexif().get_ifd(0x8825) == {}, what
    assert "exif" not in img.info and "icc_profile" not in img.info, what
    assert b"Exif\x00\x00" not in data, what
    assert data.find(b"\xff\xd8\xff", 2) == -1, f"{what}: a JPEG inside the image"
    for rational in GPS_RATIONALS:
        assert rational not in data, f"{what}: an EXIF GPS rational"


def test_no_public_byte_holds_the_camera_metadata(api, ingest_app, engine, tmp_path):
    ingest_app.config["CHANGES_SETTLE_SECONDS"] = 0
    camera = im.camera_jpeg()
    assert all(s.encode() in camera for s in im.SECRETS)  # the source does carry them
    up = api.post("/api/v1/photos", data={"photo": (io.BytesIO(camera), FILE_NAME)},
                  content_type="multipart/form-data")
    assert up.status_code == 201
    answer = api.post("/api/v1/submissions", data={
        "submission": (io.BytesIO(json.dumps(good_submission(
            photo_ids=[up.get_json()["id"]])).encode()), "s.json", "application/json"),
        "photos": [(io.BytesIO(camera), FILE_NAME)]}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    feature_id = _approve(engine, answer.get_json()["id"])
    with engine.connect() as conn:
        original_sha = conn.execute(text("SELECT DISTINCT original_sha256 FROM photo"
                                         )).scalar_one()
    private = _private_strings(original_sha)

    # What the public feature links to: our re-encodings, each checked byte by byte.
    item = api.get(f"/ogc/collections/features/items/{feature_id}?f=json")
    photos = item.get_json()["properties"]["photos"]
    assert len(photos) == 2
    for photo in photos:
        for url in (photo["url"], photo["thumbnail_url"]):
            served = api.get(url)
            assert served.status_code == 200, url
            _assert_clean_image(served.data, url)
            for secret in private:
                assert secret not in served.data, (url, secret)

    # Every public answer and file that describes the feature.
    run_export(engine, tmp_path, formats=["geojson", "csv"], per_category=False)
    changes = api.get("/api/v1/changes?since=1970-01-01T00:00:00Z")
    assert changes.status_code == 200 and str(feature_id).encode() in changes.data
    public = {
        "api": api.get("/api/v1/features?limit=100").data,
        "ogc item": item.data,
        "changes": changes.data,
        "geojson export": (tmp_path / "features.geojson").read_bytes(),
        "csv export": (tmp_path / "features.csv").read_bytes(),
    }
    assert b"/photos/" in public["api"] and b"/photos/" in public["geojson export"]
    for name, data in public.items():
        for secret in private:
            assert secret not in data, (name, secret)

    # The originals are kept, as received, where no route reaches them.
    quarantine = ingest_app.config["VAR_DIR"] / "photos" / "quarantine"
    assert (quarantine / f"{original_sha}.orig").read_bytes() == camera
    assert api.get(f"/photos/{original_sha}.orig").status_code == 404
    served_dir = ingest_app.config["VAR_DIR"] / "photos" / "public"
    for path in served_dir.iterdir():
        _assert_clean_image(path.read_bytes(), path.name)
