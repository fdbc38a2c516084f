"""A real SMTP server in-process (aiosmtpd) and helpers of the mail tests.

The server runs in a thread on a free port; ``smtp.messages`` are the parsed messages
it accepted, in order. ``smtp.stop()`` takes it down (connections are refused) and
``smtp.start()`` brings it back on the same port: an outage, as a worker sees one.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from mail.config import MailSettings


class Collector:
    """aiosmtpd handler: keeps every accepted message (optionally slow, to be killed)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.delay = 0.0
        self.started = 0  # DATA commands received (before the delay)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        self.started += 1
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Collector()
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self, **kw) -> MailSettings:
        base = {"smtp_host": "127.0.0.1", "smtp_port": self.port, "retry_base_s": 1.0,
                "retry_cap_s": 4.0, "mail_from": "Carte citoyenne <carte@carte.test>",
                "public_url": "http://carte.test"}
        return MailSettings(**(base | kw))

    def env(self) -> dict[str, str]:
        return {"CARTE_SMTP_HOST": "127.0.0.1", "CARTE_SMTP_PORT": str(self.port),
                "CARTE_MAIL_FROM": "Carte citoyenne <carte@carte.test>",
                "CARTE_PUBLIC_URL": "http://carte.test", "CARTE_MAIL_RETRY_BASE_S": "1",
                "CARTE_MAIL_RETRY_CAP_S": "4"}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture(name="smtp")
def smtp_server():
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def text_part(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_part(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


@pytest.fixture
def mail_env(smtp, monkeypatch):
    """The in-process SMTP server, configured through the CARTE_ variables."""
    for k, v in smtp.env().items():
        monkeypatch.setenv(k, v)
    return smtp


LINK = r"http://carte\.test/[^\s\"<>]+"


def links(msg: EmailMessage) -> list[str]:
    import re

    return re.findall(LINK, text_part(msg))
