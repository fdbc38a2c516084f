"""From received bytes to two safe re-encodings: pure (bytes in, bytes out).

The order is the safety argument, each step refusing before the next costs anything:

1. **bytes**: more than ``max_bytes`` is refused before anything reads the content;
2. **magic bytes**: the format is what the first bytes say, never the file's name or
   the client's content type; only JPEG, PNG and WebP are opened (SVG, GIF, HEIC, PDF,
   HTML... are refused by name); a file that is also a ZIP archive, or that carries
   markup a browser could run, is refused as a polyglot;
3. **declared pixels**: Pillow's lazy ``open`` reads the header only; width × height
   above ``max_pixels`` is refused before one pixel is decoded (Pillow's own
   decompression-bomb error is the backstop above twice its limit);
4. **decode**: a JPEG is decoded at the smallest DCT scale still larger than the display
   size (``draft``: a 12-megapixel photo decodes as 3 megapixels; 0.13–0.15 s and a
   57 MB peak instead of 0.24–0.32 s and 102 MB, measured); a truncated or corrupt
   stream is refused;
5. **rotate** by the EXIF orientation (what ``ImageOps.exif_transpose`` does, applied
   after the resize so that only the small image is turned);
6. **colours**: an embedded ICC profile converts the pixels to sRGB, then is dropped;
7. **re-encode** a display size and a thumbnail from fresh images with an empty
   ``info``: no EXIF (GPS, serial numbers, embedded thumbnails), XMP, IPTC, comment or
   ICC block can follow, since none is ever handed to the encoder. JPEG, or WebP when
   the image has transparency.

Keys are content-addressed: ``<sha256 of the display bytes>.<ext>`` and
``<same>.thumb.<ext>``, so a key names its bytes forever (served ``immutable``).
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageCms

from .errors import NotAnImage, Polyglot, TooLarge, TooManyPixels, Truncated, UnsupportedFormat

__all__ = ["ACCEPTED", "Derivative", "Limits", "Processed", "limits_from_config",
           "parse_formats", "process", "sniff"]

ACCEPTED = ("jpeg", "png", "webp")
"""Formats we decode (``PHOTO_FORMATS`` may narrow them). HEIC is not among them (no
HEVC decoder in the upload path): an iPhone's browser gives a page a JPEG of a photo
picked from the library whatever the file input's ``accept`` says (WebKit on iOS), and
macOS Safari converts a HEIC file to the first type of ``accept`` it can write when
``accept`` does not allow HEIC, so the pickers list ``image/jpeg`` first and never
``image/*`` (with which macOS Safari sends the HEIC as it is). A HEIC that still arrives
(the Files app, another system) is refused as ``unsupported_format`` with what to do."""

_PIL_NAME = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_MEDIA = {"jpeg": "image/jpeg", "webp": "image/webp"}
_EXT = {"jpeg": "jpg", "webp": "webp"}
# What a file that is not an image we accept looks like: (prefix, name, is an image).
_SIGNATURES: tuple[tuple[bytes, str, bool], ...] = (
    (b"GIF87a", "GIF", True), (b"GIF89a", "GIF", True), (b"BM", "BMP", True),
    (b"II*\x00", "TIFF", True), (b"MM\x00*", "TIFF", True), (b"\x00\x00\x01\x00", "ICO", True),
    (b"%PDF", "PDF", False), (b"PK\x03\x04", "ZIP", False), (b"\x7fELF", "ELF", False),
    (b"MZ", "EXE", False),
)
# Long enough not to occur by chance in compressed image data (a 4-byte marker such as
# "<svg" would, in about one 4 MB photo in 150; these, in less than one in 10,000).
_MARKUP = (b"<script", b"<html", b"<?php", b"<iframe", b"javascript:")
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class Limits:
    """What a photo may be; the web app builds it from the ``PHOTO_*`` settings."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_pixels_full_decode: int = 24_000_000
    """PNG and WebP decode at full size (no DCT scaling as for JPEG): their own, lower cap
    keeps one photo under 200 MB (a 40 MP PNG peaked at 247 MB, a 12 MP JPEG at 105)."""
    formats: frozenset[str] = field(default_factory=lambda: frozenset(ACCEPTED))
    display_px: int = 1600
    thumb_px: int = 400
    quality: int = 82


@dataclass(frozen=True)
class Derivative:
    """One public re-encoding: its key, bytes, size and content type."""

    key: str
    data: bytes
    width: int
    height: int
    media_type: str


@dataclass(frozen=True)
class Processed:
    """What :func:`process` made of one received file."""

    original_sha256: str
    source_format: str
    display: Derivative
    thumb: Derivative


def _looks_like_markup(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "svg"
    if text.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<?xml",
                        b"<")):
        return "html"
    return None


def sniff(data: bytes) -> str:
    """The format the first bytes say: ``jpeg``, ``png`` or ``webp``.

    Raises
    ------
    UnsupportedFormat
        An image of another format (SVG, GIF, HEIC/AVIF, BMP, TIFF, ICO).
    NotAnImage
        Anything else (PDF, HTML, text, archives, programs...).
    """
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim",
                                              b"hevc", b"avif", b"avis"):
        raise UnsupportedFormat("HEIC/AVIF is not accepted: send JPEG, PNG or WebP",
                                format="HEIC")
    for prefix, name, image in _SIGNATURES:
        if data.startswith(prefix):
            if image:
                raise UnsupportedFormat(f"{name} is not accepted: send JPEG, PNG or WebP",
                                        format=name)
            raise NotAnImage(f"this file is a {name}, not an image", format=name)
    markup = _looks_like_markup(data[:1024])
    if markup == "svg":
        raise UnsupportedFormat("SVG is not accepted: send JPEG, PNG or WebP", format="SVG")
    if markup == "html":
        raise NotAnImage("this file is a web page or text, not an image", format="HTML")
    raise NotAnImage("this file is not an image", format="unknown")


def _refuse_polyglot(data: bytes) -> None:
    """An image that is also something else a program could open is refused.

    Our re-encoding would drop the rest anyway; refusing says so to whoever sent it
    (a file made to be two things at once is not a resident's holiday picture).
    """
    if zipfile.is_zipfile(io.BytesIO(data)):
        raise Polyglot("this image is also a ZIP archive", also="ZIP")
    low = data.lower()
    for marker in _MARKUP:
        if marker in low:
            raise Polyglot("this image also carries markup or a script", also="script")


def _open(data: bytes, fmt: str, limits: Limits) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data), formats=[_PIL_NAME[fmt]])
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"more than {limits.max_pixels} pixels",
                            max=limits.max_pixels) from exc
    except Image.DecompressionBombWarning as exc:  # when warnings are errors (tests)
        raise TooManyPixels(f"more than {limits.max_pixels} pixels",
                            max=limits.max_pixels) from exc
    except Exception as exc:
        raise Truncated(f"the {_PIL_NAME[fmt]} header cannot be read") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        raise Truncated("the image declares no pixels")
    cap = limits.max_pixels if fmt == "jpeg" else min(limits.max_pixels,
                                                      limits.max_pixels_full_decode)
    if width * height > cap:
        raise TooManyPixels(f"{width} × {height} pixels; at most {cap}",
                            width=width, height=height, max=cap)
    return img


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_ORIENTATION, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    mode = "RGBA" if img.mode == "RGBA" else "RGB"
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode=mode)
            if converted is not None:
                return converted
        except (OSError, ValueError, ImageCms.PyCMSError):
            pass  # an unusable profile: the plain conversion below
    return img if img.mode == mode else img.convert(mode)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P"
                                                and "transparency" in img.info)


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    # A fresh image holding only pixels: nothing of the source's info can reach the file.
    clean = Image.new(img.mode, img.size)
    clean.paste(img)
    buf = io.BytesIO()
    if fmt == "jpeg":
        clean.save(buf, "JPEG", quality=quality, progressive=True, optimize=False)
    else:
        clean.save(buf, "WEBP", quality=quality, method=4)
    return buf.getvalue()


def process(data: bytes, limits: Limits | None = None) -> Processed:
    """Check, decode, rotate and re-encode one received file.

    Raises
    ------
    PhotoRefused
        A subclass naming why (too large, not an image, unsupported format, polyglot,
        too many pixels, truncated); nothing is produced.
    """
    limits = limits or Limits()
    if len(data) > limits.max_bytes:
        raise TooLarge(f"{len(data)} bytes; at most {limits.max_bytes}",
                       size=len(data), max=limits.max_bytes)
    if not data:
        raise NotAnImage("the file is empty", format="empty")
    fmt = sniff(data)
    if fmt not in limits.formats:
        raise UnsupportedFormat(f"{fmt.upper()} is not accepted here", format=fmt.upper())
    _refuse_polyglot(data)
    img = _open(data, fmt, limits)
    orientation = _orientation(img)
    icc = img.info.get("icc_profile")
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)  # an animation: its first frame only
        # Long side to display_px; for a JPEG, thumbnail() first asks the decoder for
        # the smallest DCT scale above that size (draft), then resizes.
        box = (limits.display_px, limits.display_px)  # square: rotation-independent
        scale = limits.display_px / max(img.size)
        if fmt == "jpeg" and scale < 0.5:
            # Decode at the smallest DCT scale (1/2, 1/4, 1/8) still at least the display
            # size; thumbnail()'s own draft asks for twice the box and never scales a
            # 12 MP photo down.
            img.draft("RGB" if img.mode == "RGB" else None,
                      (math.ceil(img.width * scale), math.ceil(img.height * scale)))
        if img.mode in ("I;16", "I;16B", "I", "F"):
            img.load()
            img = img.convert("RGB")
        img.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=2.0)
        img.load()  # a small image is not resized: its decoding happens here
    except (TooManyPixels, Truncated):
        raise
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"more than {limits.max_pixels} pixels",
                            max=limits.max_pixels) from exc
    except Exception as exc:
        raise Truncated("the image data is truncated or corrupt") from exc
    if orientation in _TRANSPOSE:
        img = img.transpose(_TRANSPOSE[orientation])
    alpha = _has_alpha(img)
    if alpha and img.mode != "RGBA":
        img = img.convert("RGBA")
    img = _to_srgb(img, icc)
    out_fmt = "webp" if alpha else "jpeg"
    display_bytes = _encode(img, out_fmt, limits.quality)
    thumb = img.copy()
    thumb.thumbnail((limits.thumb_px, limits.thumb_px), Image.Resampling.LANCZOS)
    thumb_bytes = _encode(thumb, out_fmt, limits.quality)
    digest = hashlib.sha256(display_bytes).hexdigest()
    ext = _EXT[out_fmt]
    return Processed(
        original_sha256=hashlib.sha256(data).hexdigest(), source_format=fmt,
        display=Derivative(f"{digest}.{ext}", display_bytes, img.width, img.height,
                           _MEDIA[out_fmt]),
        thumb=Derivative(f"{digest}.thumb.{ext}", thumb_bytes, thumb.width, thumb.height,
                         _MEDIA[out_fmt]))


def limits_from_config(config: Mapping[str, Any]) -> Limits:
    """:class:`Limits` from the ``PHOTO_*`` settings (Flask config keys); defaults kept."""
    base = Limits()
    return Limits(max_bytes=int(config.get("PHOTO_MAX_BYTES", base.max_bytes)),
                  max_pixels=int(config.get("PHOTO_MAX_PIXELS", base.max_pixels)),
                  formats=parse_formats(config.get("PHOTO_FORMATS") or ",".join(ACCEPTED)),
                  display_px=int(config.get("PHOTO_DISPLAY_PX", base.display_px)),
                  thumb_px=int(config.get("PHOTO_THUMB_PX", base.thumb_px)))


def parse_formats(names: Iterable[str] | str) -> frozenset[str]:
    """``"jpeg,png,webp"`` (or a list) as the set :class:`Limits` takes; unknown refused."""
    items = names.split(",") if isinstance(names, str) else list(names)
    chosen = {n.strip().lower().replace("jpg", "jpeg") for n in items if n.strip()}
    unknown = chosen - set(ACCEPTED)
    if unknown or not chosen:
        raise ValueError(f"formats must be among {', '.join(ACCEPTED)}")
    return frozenset(chosen)
