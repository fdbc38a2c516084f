"""The mail settings, read from ``CARTE_*`` variables in this one place.

Read when a function is called, never at import time. The plumbing engineer's settings
object may build :class:`MailSettings` from its own fields; everything in :mod:`mail`
takes a ``MailSettings`` and only falls back to :meth:`MailSettings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from geo.published import DEFAULT_PUBLIC_URL, public_root

__all__ = ["MailSettings"]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MailSettings:
    """Where and how mail is sent, and the links it carries.

    Attributes
    ----------
    smtp_host, smtp_port, smtp_user, smtp_password, smtp_starttls
        The SMTP server (``CARTE_SMTP_*``); no user: no login.
    mail_from
        ``From`` of every message (``CARTE_MAIL_FROM``); its domain makes the
        ``Message-ID``.
    public_url
        Root of the links in messages (``CARTE_PUBLIC_URL``), e.g. ``https://carte.example``.
    retry_base_s, retry_cap_s
        Backoff after a failed send: ``base * 2**attempts`` seconds, at most ``cap``.
    digest_after_s
        A submission waiting longer than this puts it in the moderators' digest.
    digest_every_s
        How often the digest may be sent (default daily).
    """

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "Carte citoyenne <carte@localhost>"
    public_url: str = DEFAULT_PUBLIC_URL
    retry_base_s: float = 30.0
    retry_cap_s: float = 3600.0
    digest_after_s: float = 86400.0
    digest_every_s: float = 86400.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailSettings:
        """Settings from ``CARTE_SMTP_*``, ``CARTE_MAIL_*`` and ``CARTE_PUBLIC_URL``."""
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            smtp_host=env.get("CARTE_SMTP_HOST") or d.smtp_host,
            smtp_port=int(env.get("CARTE_SMTP_PORT") or d.smtp_port),
            smtp_user=env.get("CARTE_SMTP_USER") or None,
            smtp_password=env.get("CARTE_SMTP_PASSWORD") or None,
            smtp_starttls=(env.get("CARTE_SMTP_STARTTLS") or "").strip().lower() in _TRUE,
            mail_from=env.get("CARTE_MAIL_FROM") or d.mail_from,
            public_url=public_root(env),
            retry_base_s=float(env.get("CARTE_MAIL_RETRY_BASE_S") or d.retry_base_s),
            retry_cap_s=float(env.get("CARTE_MAIL_RETRY_CAP_S") or d.retry_cap_s),
            digest_after_s=float(env.get("CARTE_MAIL_DIGEST_AFTER_S") or d.digest_after_s),
            digest_every_s=float(env.get("CARTE_MAIL_DIGEST_EVERY_S") or d.digest_every_s),
        )

    def url(self, path: str) -> str:
        """An absolute link to ``path`` (which starts with ``/``) of the public site."""
        return self.public_url + path
