"""Errors raised by the tile pipeline.

TilesError
├── ArchiveError       a tile archive cannot be read or written
│   └── ArchiveMissing     the archive has not been built yet
├── BuildBusy          another build holds this tile directory
└── TileTooLarge       a rebuilt tile exceeds the size limit: a full build must thin its zoom
"""

from __future__ import annotations

__all__ = ["ArchiveError", "ArchiveMissing", "BuildBusy", "TileTooLarge", "TilesError"]


class TilesError(Exception):
    """Base for tiles/ errors."""


class ArchiveError(TilesError, OSError):
    """A tile archive cannot be read or written."""


class ArchiveMissing(ArchiveError, FileNotFoundError):
    """The archive has not been built yet."""


class BuildBusy(TilesError, RuntimeError):
    """Another build holds the tile directory's lock."""


class TileTooLarge(TilesError, RuntimeError):
    """An incrementally rebuilt tile exceeds the size limit."""
