"""Every setting of the product in one typed object, read from ``CARTE_*`` variables.

Each field of :class:`Settings` is one variable: ``CARTE_`` + the field's name (the
field's name is also the Flask config key, as README's configuration table says). They
are read once, when the app, a CLI command or a worker starts, and checked then: a bad
value stops the start with a :class:`~webmap.errors.SettingsError` naming the variable
(``CARTE_INGEST_MAX_BODY='64k' is not an integer``), never a 500 at the first request.
Nothing is read at import time, nor at request time.

A frozen dataclass rather than pydantic-settings (which is installed): the fields are
plain scalars, the parsing of each fits in one line, and the core packages (``geo``,
``tiles``, ``mail``) take plain values from it without depending on a validation
framework; the error names the variable either way.

The app factory puts :meth:`Settings.as_config` in ``app.config`` (``create_app(config)``
keys win) and keeps the object as ``app.config["SETTINGS"]``; the CLI and the workers
call :meth:`Settings.from_env`; :meth:`Settings.tile_options` and
:meth:`Settings.mail` build the tile pipeline's and the mail package's own settings.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.clients import parse_proxies
from geo.config import normalise_url
from geo.published import DEFAULT_PUBLIC_URL

from .errors import SettingsError

if TYPE_CHECKING:
    from mail.config import MailSettings
    from tiles.options import TileOptions

__all__ = ["PREFIX", "Settings", "load_secret_key"]

PREFIX = "CARTE_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE | _FALSE:
        return low in _TRUE
    raise ValueError("is not a boolean (1/0, true/false, yes/no, on/off)")


def _int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("is not an integer") from None


def _float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("is not a finite number")
    return value


def _path(raw: str) -> Path:
    return Path(raw.strip())


def _str(raw: str) -> str:
    return raw.strip()


def _rate(raw: str) -> str:
    count, sep, seconds = raw.strip().partition("/")
    if not (count.isdigit() and int(count) > 0 and (not sep or (seconds.isdigit()
                                                                 and int(seconds) > 0))):
        raise ValueError("is not a rate limit COUNT/SECONDS such as 20/600")
    return raw.strip()


def _proxies(raw: str) -> str:
    try:
        parse_proxies(raw)
    except ValueError as exc:
        raise ValueError(f"is not a list of addresses or networks ({exc})") from None
    return raw.strip()


def _mode(raw: str) -> str:
    if raw.strip() not in ("cluster", "drop"):
        raise ValueError("must be cluster or drop")
    return raw.strip()


def _zoom(raw: str) -> int:
    value = _int(raw)
    if not 0 <= value <= 16:
        raise ValueError("must be within 0..16")
    return value


def _positive(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(raw: str) -> Any:
        value = parse(raw)
        if value < 0:
            raise ValueError("must not be negative")
        return value
    return check


def _unit(raw: str) -> float:
    value = _float(raw)
    if not 0 <= value <= 1:
        raise ValueError("must be within 0..1")
    return value


def _photo_formats(raw: str) -> str:
    from photos.processing import parse_formats

    return ",".join(sorted(parse_formats(raw)))


def setting(default: Any, parse: Callable[[str], Any], doc: str, *,
            env: bool = True) -> Any:
    """A field of :class:`Settings`: its default, how its variable is parsed, what it is."""
    return field(default=default, metadata={"parse": parse, "doc": doc, "env": env})


@dataclass(frozen=True)
class Settings:
    """Every setting, with the product's defaults (``None``: derived at start-up)."""

    # where things are
    DATABASE_URL: str | None = setting(None, _str, "external PostgreSQL + PostGIS URL; unset: "
                                                   "the embedded cluster under VAR_DIR/pg")
    VAR_DIR: Path = setting(Path("var"), _path, "run-time files")  # noqa: RUF009 - a Path
    DATA_DIR: Path | None = setting(None, _path, "the product's data")  # noqa: RUF009
    SECRET_KEY: str | None = setting(None, _str, "signs sessions; unset: VAR_DIR/secret_key")
    PG_BINDIR: str | None = setting(None, _str, "where initdb and pg_ctl are")
    CITY: str = setting("paris", _str, "the city folder data/cities/<slug>/")
    PUBLIC_URL: str = setting(DEFAULT_PUBLIC_URL, _str,
                              "root of links in mails, feeds and photo URLs")
    TRUSTED_PROXIES: str = setting("", _proxies, "reverse proxies whose X-Forwarded-For is "
                                                 "believed (addresses or networks)")
    MAX_CONTENT_LENGTH: int = setting(64 * 1024, _int, "bytes; bigger bodies get a 413",
                                      env=False)
    # submissions
    INGEST_RATE_LIMIT: str = setting("20/600", _rate, "submissions per client per window")
    INGEST_BUFFER_M: float = setting(500.0, _positive(_float), "metres around the outline")
    INGEST_MAX_BODY: int = setting(64 * 1024, _positive(_int), "bytes of a submission")
    INGEST_MAX_DEPTH: int = setting(16, _positive(_int), "JSON nesting of a submission")
    INGEST_DUPLICATE_DISTANCE_M: float = setting(50.0, _positive(_float), "duplicate radius")
    INGEST_DUPLICATE_SIMILARITY: float = setting(0.4, _unit, "title similarity of a duplicate")
    INGEST_DOUBLE_SUBMIT_S: float = setting(10.0, _positive(_float),
                                            "same body, same client: the first answer")
    INGEST_CATCH_UP_S: float = setting(30.0, _positive(_float),
                                       "seconds between catch-ups of 'received' rows (0: off)")
    INGEST_CATCH_UP_AGE_S: float = setting(60.0, _positive(_float),
                                           "age of a 'received' row before it is caught up")
    # moderation
    MODERATION_FLAG_THRESHOLD: int = setting(3, _positive(_int), "flags that hide a feature")
    MODERATION_FLAGS_PER_HOUR: int = setting(30, _positive(_int), "flags per client per hour")
    LOGIN_MAX_FAILURES_PER_ACCOUNT: int = setting(5, _positive(_int), "per account, 15 min")
    LOGIN_MAX_FAILURES_PER_CLIENT: int = setting(20, _positive(_int), "per client, 15 min")
    CHANGES_SETTLE_SECONDS: float = setting(2.0, _positive(_float), "change feed settle age")
    PASSWORD_RESET_TTL_MINUTES: int = setting(60, _positive(_int), "reset link life")
    INVITATION_TTL_HOURS: int = setting(168, _positive(_int), "invitation life")
    # mail
    SMTP_HOST: str = setting("localhost", _str, "SMTP server")
    SMTP_PORT: int = setting(25, _positive(_int), "SMTP port")
    SMTP_USER: str | None = setting(None, _str, "SMTP login (none when unset)")
    SMTP_PASSWORD: str | None = setting(None, _str, "SMTP password")
    SMTP_STARTTLS: bool = setting(False, _bool, "STARTTLS")
    MAIL_FROM: str = setting("Carte citoyenne <carte@localhost>", _str, "From of messages")
    MAIL_RETRY_BASE_S: float = setting(30.0, _positive(_float), "send backoff base")
    MAIL_RETRY_CAP_S: float = setting(3600.0, _positive(_float), "send backoff cap")
    MAIL_DIGEST_AFTER_S: float = setting(86400.0, _positive(_float), "digest: waiting since")
    MAIL_DIGEST_EVERY_S: float = setting(86400.0, _positive(_float), "digest: at most every")
    # tiles and the map
    TILES_MODE: str = setting("cluster", _mode, "cluster or drop")
    TILES_MAX_ZOOM: int = setting(16, _zoom, "deepest zoom of the point tiles")
    BASEMAP_URL: str | None = setting(None, _str, "an external raster base map")
    BASEMAP_ATTRIBUTION: str = setting("", _str, "its attribution")
    # ---- issue 19: photos (photos-core engineer) ----
    PHOTO_MAX_BYTES: int = setting(10 * 1024 * 1024, _positive(_int), "bytes of one photo")
    PHOTO_MAX_PIXELS: int = setting(40_000_000, _positive(_int),
                                    "width × height one photo may declare")
    PHOTO_MAX_REQUEST_BYTES: int = setting(42 * 1024 * 1024, _positive(_int),
                                           "bytes of a multipart request with photos")
    PHOTO_MAX_PER_ITEM: int = setting(4, _positive(_int), "photos per submission/correction")
    PHOTO_FORMATS: str = setting("jpeg,png,webp", _photo_formats, "formats accepted")
    PHOTO_DISPLAY_PX: int = setting(1600, _positive(_int), "long side of the display size")
    PHOTO_THUMB_PX: int = setting(400, _positive(_int), "long side of the thumbnail")
    PHOTO_UPLOAD_RATE_LIMIT: str = setting("60/600", _rate, "photo uploads per client")
    PHOTO_DECODERS: int = setting(1, _positive(_int),
                                  "photos decoded at once by the processes of one VAR_DIR")
    PHOTO_QUEUE_WAIT_S: float = setting(0.0, _positive(_float),
                                        "an upload's wait for a decoder before a 503")
    PHOTO_S3_BUCKET: str | None = setting(None, _str, "photos in this S3 bucket, not var/")
    PHOTO_S3_ENDPOINT: str | None = setting(None, _str, "S3-compatible endpoint URL")
    # residents: magic links and relayed messages (issue 20, identity)
    MAGIC_LINK_MINUTES: int = setting(30, _positive(_int), "life of a sign-in link")
    MAGIC_LINKS_PER_HOUR: int = setting(3, _positive(_int), "sign-in links per address per hour")
    MAGIC_LINKS_PER_CLIENT_HOUR: int = setting(20, _positive(_int),
                                               "sign-in link requests per client per hour")
    MESSAGES_PER_HOUR: int = setting(20, _positive(_int), "messages a resident sends per hour")
    MESSAGE_REPORTS_PER_DAY: int = setting(10, _positive(_int),
                                           "messages a resident may report per 24 hours")
    # ---- issue 20: time bank and loans (ledger engineer) ----
    TIMEBANK_MIN_BALANCE_UNITS: int = setting(-40, _int, "lowest balance, in quarter-hours "
                                                         "(-40: 10 h in debt; >0 counts as 0)")
    LOAN_REMINDER_EVERY_H: float = setting(24.0, _positive(_float),
                                           "hours between reminders of a late return")

    @classmethod
    def variables(cls) -> dict[str, dataclasses.Field[Any]]:
        """``CARTE_*`` variable name -> field, for every setting read from the environment."""
        return {PREFIX + f.name: f for f in dataclasses.fields(cls) if f.metadata["env"]}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 overrides: Mapping[str, Any] | None = None, derive: bool = True) -> Settings:
        """The settings from ``environ`` (default ``os.environ``), checked.

        ``overrides`` (Flask config keys, as ``create_app(config)`` takes) win over the
        environment and skip what they make unnecessary (no secret key file is read
        when ``SECRET_KEY`` is given, no embedded cluster URL when ``DATABASE_URL`` is).
        ``derive=False`` only checks: nothing is resolved (no secret key file is made).

        Raises
        ------
        SettingsError
            A variable's value cannot be used; the message names the variable.
        """
        env = os.environ if environ is None else environ
        given = dict(overrides or {})
        values: dict[str, Any] = {}
        for name, f in cls.variables().items():
            if f.name in given:
                continue
            raw = env.get(name)
            if raw is None or not raw.strip():  # set but empty: as if unset
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                raise SettingsError(name, raw, str(exc)) from None
        values.update({k: v for k, v in given.items() if k in cls.__dataclass_fields__})
        settings = cls(**values)
        return settings._derived(env) if derive else settings

    def _derived(self, env: Mapping[str, str]) -> Settings:
        var = Path(self.VAR_DIR).resolve()
        url = self.DATABASE_URL
        if not url:
            from geo.db import embedded_cluster

            url = embedded_cluster({**env, "CARTE_VAR_DIR": str(var)}).url
        return dataclasses.replace(self, VAR_DIR=var, DATABASE_URL=normalise_url(url),
                                   SECRET_KEY=self.SECRET_KEY or load_secret_key(var))

    def as_config(self) -> dict[str, Any]:
        """The settings as Flask config keys (the field names), ``SETTINGS`` the object."""
        config = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        config["SETTINGS"] = self
        return config

    def environ(self) -> dict[str, str]:
        """The settings as ``CARTE_*`` variables (for code that takes an environment)."""
        out = {}
        for name, f in self.variables().items():
            value = getattr(self, f.name)
            if value is not None:
                out[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out

    @cached_property
    def tiles(self) -> TileOptions:
        """The tile pipeline's options (computed once: request paths read them)."""
        return self.tile_options()

    def tile_options(self, **overrides: object) -> TileOptions:
        """The tile pipeline's options from these settings (then ``overrides``)."""
        from tiles.options import TileOptions

        return TileOptions.from_env(self.environ(), **overrides)

    def mail(self) -> MailSettings:
        """The mail package's settings from these settings."""
        from mail.config import MailSettings

        return MailSettings.from_env(self.environ())


def load_secret_key(directory: Path) -> str:
    """A random key kept in ``directory/secret_key`` (mode 0600).

    Every gunicorn worker must sign sessions with the same key, so a generated key is
    stored rather than made per process; ``CARTE_SECRET_KEY`` overrides it.
    """
    path = directory / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
