"""Errors raised by the geo core.

GeoError
├── ClusterError          the embedded PostgreSQL cluster cannot be set up or started
│   └── MissingSystemPackage   a Debian package the cluster needs is not installed
├── DatabaseUnavailable   the configured database cannot be reached
├── MigrationError        the schema cannot be brought to the wanted revision
├── AreaDataError         a boundary file cannot be read or is not what we expect
├── CityConfigError       a city folder (data/cities/<slug>/) is missing or invalid
├── FeatureNotFound       no feature has this id
└── VersionConflict       someone else changed the feature since it was read
"""

from __future__ import annotations

__all__ = [
    "AreaDataError",
    "CityConfigError",
    "ClusterError",
    "DatabaseUnavailable",
    "FeatureNotFound",
    "GeoError",
    "MigrationError",
    "MissingSystemPackage",
    "VersionConflict",
]


class GeoError(Exception):
    """Base for geo/ errors."""


class ClusterError(GeoError, RuntimeError):
    """The embedded PostgreSQL cluster cannot be set up or started."""


class MissingSystemPackage(ClusterError):
    """A Debian package the embedded cluster needs is not installed."""

    def __init__(self, package: str, what: str) -> None:
        self.package = package
        super().__init__(f"{what} is not installed: install the Debian package {package} "
                         f"(as root: apt-get install {package})")


class DatabaseUnavailable(GeoError, ConnectionError):
    """The configured database cannot be reached (the password is never in the message)."""


class MigrationError(GeoError, RuntimeError):
    """The schema cannot be brought to the wanted revision."""


class AreaDataError(GeoError, ValueError):
    """A boundary file cannot be read or is not what we expect."""


class CityConfigError(GeoError, ValueError):
    """A city folder is missing or invalid; ``problems`` names each field that is wrong."""

    def __init__(self, slug: str, problems: list[tuple[str, str]]) -> None:
        self.slug, self.problems = slug, problems
        listed = "; ".join(f"{field}: {problem}" for field, problem in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"city {slug!r} is not valid: {listed}{more}; "
                         f"run `carte city check {slug}` for the full list")


class FeatureNotFound(GeoError, LookupError):
    """No feature has this id."""


class VersionConflict(GeoError):
    """Someone else changed the feature since it was read (optimistic versioning)."""

    def __init__(self, feature_id: int, expected: int, current: int) -> None:
        self.feature_id, self.expected, self.current = feature_id, expected, current
        super().__init__(f"feature {feature_id} is at version {current}, not {expected}: "
                         "it was changed by someone else; reload it and decide again")
