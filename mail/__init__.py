"""E-mail: an outbox in PostgreSQL, sent by ``carte worker`` through SMTP.

Imports only :mod:`geo`. Others call :func:`enqueue_mail` (see :mod:`mail.outbox`).
"""

from .outbox import enqueue_mail

__all__ = ["enqueue_mail"]
