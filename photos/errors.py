"""Errors raised by photos/: why a photo is refused, free of HTTP.

PhotoError                 (code)
├── PhotoRefused           the file itself is refused (the resident may send another)
│   ├── NotAnImage         not_an_image: a PDF, HTML, text... whatever its name says
│   ├── UnsupportedFormat  unsupported_format: an image, but not JPEG, PNG or WebP (SVG, GIF...)
│   ├── Polyglot           polyglot: an image that is also an archive or a script
│   ├── Truncated          truncated: the image data ends early or is corrupt
│   ├── TooLarge           too_large: more bytes than PHOTO_MAX_BYTES
│   └── TooManyPixels      too_many_pixels: width × height above PHOTO_MAX_PIXELS
├── TooManyPhotos          too_many_photos: more than PHOTO_MAX_PER_ITEM on one item
├── UnknownPhoto           unknown_photo: a ``photo_ids`` entry that is not the sender's
└── BadPhotoField          bad_field: licence, author or alt not acceptable

Each carries a ``code``: the messages (``ingestion.messages``) and the API answers use
the code, never the class name, and the web layer maps :class:`PhotoError` to 422.
"""

from __future__ import annotations

__all__ = [
    "BadPhotoField",
    "NotAnImage",
    "PhotoError",
    "PhotoRefused",
    "Polyglot",
    "TooLarge",
    "TooManyPhotos",
    "TooManyPixels",
    "Truncated",
    "UnknownPhoto",
    "UnsupportedFormat",
]


class PhotoError(Exception):
    """A photo cannot be accepted; ``code`` names why, ``detail`` says it in English."""

    code = "photo"

    def __init__(self, detail: str = "", **params: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        self.params = params


class PhotoRefused(PhotoError):
    """The received file is refused as an image."""


class NotAnImage(PhotoRefused):
    """Not an image at all (PDF, HTML, text...)."""

    code = "not_an_image"


class UnsupportedFormat(PhotoRefused):
    """An image, in a format we do not decode."""

    code = "unsupported_format"


class Polyglot(PhotoRefused):
    """An image that is also an archive or a script."""

    code = "polyglot"


class Truncated(PhotoRefused):
    """The image stream ends early or is corrupt."""

    code = "truncated"


class TooLarge(PhotoRefused):
    """More bytes than the limit."""

    code = "too_large"


class TooManyPixels(PhotoRefused):
    """More pixels declared than the limit (a decompression bomb)."""

    code = "too_many_pixels"


class TooManyPhotos(PhotoError):
    """More photos than an item may have."""

    code = "too_many_photos"


class UnknownPhoto(PhotoError):
    """An uploaded photo id that is not the sender's (or is used already)."""

    code = "unknown_photo"


class BadPhotoField(PhotoError):
    """A licence, author or alt text that cannot be accepted."""

    code = "bad_field"
