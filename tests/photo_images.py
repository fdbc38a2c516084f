"""Images the photo tests and the benchmark make: a camera's JPEG and hostile files.

The camera photo carries what a phone writes and we must never publish: GPS
coordinates (Marseille, far from any Paris pin, so their digits are recognisable), a
body serial number, maker and model, an embedded EXIF thumbnail that has its own EXIF
(GPS and another serial), XMP, an IPTC block (APP13), a JPEG comment and an ICC profile.
"""

from __future__ import annotations

import io
import struct
import zlib

import piexif
from PIL import Image, ImageCms

SERIAL = "CAMSERIAL-7Q2X9K"
THUMB_SERIAL = "THUMBSERIAL-55A1"
MAKER = "AcmeCamCorp"
THUMB_MAKER = "ThumbOnlyMaker"
XMP_SECRET = "xmp-secret-creator-Zorglub"
IPTC_SECRET = "iptc-secret-byline-Zorglub"
COMMENT_SECRET = "comment-secret-Zorglub"
# 43° 17' 47.4" N, 5° 22' 11.3" E (Marseille): as EXIF rationals.
GPS_IFD = {
    piexif.GPSIFD.GPSLatitudeRef: b"N",
    piexif.GPSIFD.GPSLatitude: ((43, 1), (17, 1), (4740, 100)),
    piexif.GPSIFD.GPSLongitudeRef: b"E",
    piexif.GPSIFD.GPSLongitude: ((5, 1), (22, 1), (1130, 100)),
}
SECRETS = (SERIAL, THUMB_SERIAL, MAKER, THUMB_MAKER, XMP_SECRET, IPTC_SECRET, COMMENT_SECRET)


def _picture(width: int, height: int) -> Image.Image:
    """A photo-like picture: a blue-green gradient, and a red top-left corner."""
    g = Image.linear_gradient("L").resize((width, height))
    img = Image.merge("RGB", (Image.new("L", (width, height), 30), g,
                              Image.new("L", (width, height), 160)))
    img.paste((255, 0, 0), (0, 0, width // 5, height // 5))
    return img


def _thumbnail_with_exif() -> bytes:
    thumb = _picture(160, 120)
    own = piexif.dump({"0th": {piexif.ImageIFD.Make: THUMB_MAKER.encode()},
                       "Exif": {piexif.ExifIFD.BodySerialNumber: THUMB_SERIAL.encode()},
                       "GPS": GPS_IFD})
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=70, exif=own)
    data = buf.getvalue()
    # A comment before the APP segments: piexif strips leading APPn from a thumbnail,
    # a camera does not; this keeps the thumbnail's own EXIF inside the photo's EXIF.
    return data[:2] + _segment(0xFE, b"thumb") + data[2:]


def camera_exif(orientation: int = 6) -> bytes:
    """EXIF as a phone writes it, with GPS, serial and an embedded thumbnail."""
    return piexif.dump({
        "0th": {piexif.ImageIFD.Make: MAKER.encode(), piexif.ImageIFD.Model: b"Model X",
                piexif.ImageIFD.Orientation: orientation},
        "Exif": {piexif.ExifIFD.BodySerialNumber: SERIAL.encode(),
                 piexif.ExifIFD.LensSerialNumber: SERIAL.encode()},
        "GPS": GPS_IFD,
        "1st": {piexif.ImageIFD.XResolution: (72, 1), piexif.ImageIFD.YResolution: (72, 1)},
        "thumbnail": _thumbnail_with_exif(),
    })


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _with_iptc(jpeg: bytes) -> bytes:
    """An APP13 (Photoshop IRB, IPTC by-line) right after SOI."""
    iptc = b"\x1c\x02\x50" + struct.pack(">H", len(IPTC_SECRET)) + IPTC_SECRET.encode()
    irb = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    return jpeg[:2] + _segment(0xED, b"Photoshop 3.0\x00" + irb) + jpeg[2:]


def camera_jpeg(width: int = 2400, height: int = 1800, *, orientation: int = 6,
                quality: int = 90) -> bytes:
    """A camera photo with every metadata block we must strip."""
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           f'02/22-rdf-syntax-ns#"><rdf:Description dc:creator="{XMP_SECRET}" xmlns:dc="http:'
           f'//purl.org/dc/elements/1.1/"/></rdf:RDF></x:xmpmeta>').encode()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    _picture(width, height).save(buf, "JPEG", quality=quality, exif=camera_exif(orientation),
                                 xmp=xmp, comment=COMMENT_SECRET.encode(), icc_profile=icc)
    return _with_iptc(buf.getvalue())


def png_with_alpha(width: int = 300, height: int = 200) -> bytes:
    img = _picture(width, height).convert("RGBA")
    img.putalpha(128)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def webp(width: int = 300, height: int = 200) -> bytes:
    buf = io.BytesIO()
    _picture(width, height).save(buf, "WEBP", quality=80)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pixel_flood_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 4096, 9)) + _chunk(b"IEND", b""))


def truncated_jpeg() -> bytes:
    data = camera_jpeg(800, 600, orientation=1)
    return data[: len(data) // 2]


def pdf_named_jpg() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")


def html_named_jpg() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def svg() -> bytes:
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>')


def gif_js_polyglot() -> bytes:
    """A GIF header that is also JavaScript (``GIF89a=...;alert(1)``)."""
    return b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=1;alert(document.domain);//" + b"\x00" * 20


def jpeg_zip_polyglot() -> bytes:
    """A valid JPEG followed by a ZIP archive: both programs open it."""
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.html", "<script>alert(1)</script>")
    return camera_jpeg(400, 300, orientation=1) + archive.getvalue()
