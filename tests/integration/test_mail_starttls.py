"""Mail to a real SMTP relay goes through STARTTLS, and the password only after it.

aiosmtpd serves STARTTLS with a certificate made here by a throwaway CA (openssl);
the sender trusts that CA through ``SSL_CERT_FILE``, as it would trust a public one, and
checks the host name. The server refuses AUTH before TLS, so a delivered message proves
the order: TLS first, then the credentials, then the message.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy.orm import Session

from mail import enqueue_mail
from mail.sender import deliver_due
from tests.mail_fixtures import Collector, free_port, text_part

NOTICE = {"subject": "Choisir un mot de passe", "intro": "Bonjour",
          "url": "http://carte.test/auth/reset/abc", "url_label": "Nouveau mot de passe"}


def _certificates(root: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (ca, cert, key)."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl (Debian package 'openssl') makes the test certificates"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=root, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=Carte test CA", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "smtp.key", "-out", "smtp.csr")
    (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "smtp.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "smtp.pem")
    return root / "ca.pem", root / "smtp.pem", root / "smtp.key"


class Passwords:
    def __init__(self) -> None:
        self.logins: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"carte", b"s3cret")
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def tls_smtp(tmp_path, monkeypatch):
    ca, cert, key = _certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler, passwords = Collector(), Passwords()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=passwords,
                            auth_require_tls=True)
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # trusted like a public CA would be
    try:
        yield port, handler, passwords
    finally:
        controller.stop()


def _queue(engine, settings) -> None:
    with Session(engine) as session, session.begin():
        enqueue_mail(session, to="r@example.org", template="notice", lang="fr",
                     context=NOTICE, settings=settings)


def test_mail_is_sent_over_starttls_with_login_after_tls(clean_db, tls_smtp, smtp_settings):
    port, handler, passwords = tls_smtp
    settings = smtp_settings(port, smtp_starttls=True, smtp_user="carte",
                             smtp_password="s3cret")
    _queue(clean_db, settings)
    assert deliver_due(clean_db, settings).sent == 1
    (msg,) = handler.messages
    assert "http://carte.test/auth/reset/abc" in text_part(msg)
    assert passwords.logins == ["carte"]


def test_without_starttls_the_relay_refuses_and_the_mail_stays_queued(clean_db, tls_smtp,
                                                                        smtp_settings):
    port, handler, passwords = tls_smtp
    settings = smtp_settings(port, smtp_starttls=False, smtp_user="carte",
                             smtp_password="s3cret")
    _queue(clean_db, settings)
    report = deliver_due(clean_db, settings)
    assert report.sent == 0 and handler.messages == [] and passwords.logins == []
    with clean_db.connect() as conn:
        assert conn.exec_driver_sql("SELECT status FROM mail_outbox").scalar_one() == "queued"


@pytest.fixture
def smtp_settings():
    from mail.config import MailSettings

    def make(port: int, **kw):
        return MailSettings(**({"smtp_host": "127.0.0.1", "smtp_port": port,
                                "retry_base_s": 1.0, "retry_cap_s": 4.0,
                                "mail_from": "Carte citoyenne <carte@carte.test>",
                                "public_url": "http://carte.test"} | kw))
    return make
