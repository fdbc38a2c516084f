"""Photo processing: what a resident's file becomes, and every hostile file refused.

Pure: bytes in, bytes out, no database. The public derivatives must carry none of the
metadata a phone writes (GPS, serial numbers, embedded thumbnail, XMP, IPTC, comment,
ICC), be turned upright, and be named by their content.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from photos.errors import (
    NotAnImage,
    Polyglot,
    TooLarge,
    TooManyPixels,
    Truncated,
    UnsupportedFormat,
)
from photos.processing import Limits, process, sniff
from photos.storage import LocalStorage
from tests import photo_images as im


@pytest.fixture(scope="module")
def camera() -> bytes:
    return im.camera_jpeg()


def test_the_camera_file_does_carry_what_we_must_strip(camera):
    # The test image is as bad as a phone's: otherwise the checks below prove nothing.
    exif = Image.open(io.BytesIO(camera)).getexif()
    assert exif.get_ifd(0x8825)  # GPS
    assert im.SERIAL.encode() in camera and im.THUMB_SERIAL.encode() in camera
    assert camera.find(b"\xff\xd8\xff", 3) > 0  # the embedded thumbnail
    for secret in im.SECRETS:
        assert secret.encode() in camera, secret


def test_derivatives_carry_no_metadata_at_all(camera):
    out = process(camera)
    for d in (out.display, out.thumb):
        img = Image.open(io.BytesIO(d.data))
        assert dict(img.getexif()) == {}
        assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment",
                    "photoshop", "adobe"} & set(img.info)
        assert img.applist == [("APP0", img.applist[0][1])] if img.applist else True
        for secret in im.SECRETS:
            assert secret.encode() not in d.data, secret
        for marker in (b"Exif\x00\x00", b"http://ns.adobe.com", b"8BIM", b"Photoshop",
                       b"ICC_PROFILE"):
            assert marker not in d.data, marker
        assert d.data.find(b"\xff\xd8", 2) == -1  # no second image inside


def test_the_photo_is_turned_upright_and_sized(camera):
    out = process(camera)  # 2400 × 1800, orientation 6: a portrait photo
    assert (out.display.width, out.display.height) == (1200, 1600)
    assert (out.thumb.width, out.thumb.height) == (300, 400)
    img = Image.open(io.BytesIO(out.display.data)).convert("RGB")
    # The red corner was top-left as stored; orientation 6 shows it top-right.
    assert img.getpixel((img.width - 20, 20))[0] > 200
    assert img.getpixel((20, 20))[0] < 150
    assert out.display.media_type == "image/jpeg"


def test_a_12_megapixel_photo_is_decoded_at_a_reduced_scale_and_still_right():
    # 4000 × 3000: the JPEG is decoded at 1/2 (DCT scaling), then resized and turned.
    out = process(im.camera_jpeg(4000, 3000))
    assert (out.display.width, out.display.height) == (1200, 1600)
    img = Image.open(io.BytesIO(out.display.data)).convert("RGB")
    assert img.getpixel((img.width - 20, 20))[0] > 200 and img.getpixel((20, 20))[0] < 150
    assert dict(img.getexif()) == {}


def test_keys_are_the_content_hash(camera):
    out = process(camera)
    digest = hashlib.sha256(out.display.data).hexdigest()
    assert out.display.key == f"{digest}.jpg"
    assert out.thumb.key == f"{digest}.thumb.jpg"
    assert out.original_sha256 == hashlib.sha256(camera).hexdigest()
    assert process(camera).display.key == out.display.key  # the same file, the same key


def test_a_small_photo_is_not_enlarged():
    out = process(im.camera_jpeg(640, 480, orientation=1))
    assert (out.display.width, out.display.height) == (640, 480)


def test_transparency_is_kept_as_webp_and_webp_is_read():
    out = process(im.png_with_alpha())
    assert out.display.media_type == "image/webp" and out.display.key.endswith(".webp")
    assert Image.open(io.BytesIO(out.display.data)).mode == "RGBA"
    assert process(im.webp()).display.media_type == "image/jpeg"


@pytest.mark.parametrize(("data", "error", "code"), [
    (im.pixel_flood_png(), TooManyPixels, "too_many_pixels"),
    (im.pixel_flood_png(8000, 6000), TooManyPixels, "too_many_pixels"),  # our limit, not Pillow's
    (im.truncated_jpeg(), Truncated, "truncated"),
    (im.pdf_named_jpg(), NotAnImage, "not_an_image"),
    (im.html_named_jpg(), NotAnImage, "not_an_image"),
    (im.svg(), UnsupportedFormat, "unsupported_format"),
    (im.gif_js_polyglot(), UnsupportedFormat, "unsupported_format"),
    (im.jpeg_zip_polyglot(), Polyglot, "polyglot"),
    (im.camera_jpeg(300, 200, orientation=1) + b"<script>alert(1)</script>", Polyglot,
     "polyglot"),
    (b"", NotAnImage, "not_an_image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 50, Truncated, "truncated"),
], ids=["flood-30000", "flood-48mp", "truncated", "pdf", "html", "svg", "gif-js",
        "jpeg-zip", "jpeg-script", "empty", "jpeg-header-only"])
def test_hostile_files_are_refused_with_their_reason(data, error, code):
    with pytest.raises(error) as caught:
        process(data)
    assert caught.value.code == code


def test_png_and_webp_have_a_lower_pixel_cap_than_jpeg():
    # No DCT scaling for them: decoded at full size, so 24 MP (about 160 MB) at most.
    with pytest.raises(TooManyPixels) as caught:
        process(im.pixel_flood_png(5000, 5000))
    assert caught.value.params["max"] == 24_000_000


def test_size_and_format_limits_come_before_decoding():
    with pytest.raises(TooLarge) as caught:
        process(im.camera_jpeg(800, 600), Limits(max_bytes=1000))
    assert caught.value.params["max"] == 1000
    with pytest.raises(UnsupportedFormat):
        process(im.webp(), Limits(formats=frozenset({"jpeg"})))
    assert sniff(im.webp()) == "webp"
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    with pytest.raises(UnsupportedFormat):
        sniff(heic)


def test_local_storage_writes_whole_files_under_safe_names(tmp_path):
    store = LocalStorage(tmp_path / "public")
    key = "a" * 64 + ".jpg"
    store.put(key, b"one")
    store.put(key, b"two")  # replaced atomically
    assert store.get(key) == b"two" and store.exists(key)
    assert [p.name for p in (tmp_path / "public").iterdir()] == [key]  # no temp file left
    store.delete(key)
    assert store.get(key) is None and not store.exists(key)
    for bad in ("../secret_key", "a" * 64 + ".jpg/../x", "x.jpg", "a" * 64 + ".svg"):
        with pytest.raises(ValueError):
            store.put(bad, b"x")
