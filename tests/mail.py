"""A real SMTP server in the test process (aiosmtpd), for tests that read what arrives.

Use the `smtp_server` fixture (tests/conftest.py): it starts the server on a free port of
127.0.0.1, points Django's SMTP backend at it for the test, and yields an `SmtpServer`
whose `messages` are the mails it received, parsed. Mails are sent after the response
(console/mail.py), so read them with `wait_for(n)`, which waits until n have arrived.
The canary scanner reads every message a running server received (its `mail` probe), and
a received message can be named with `canary.add(secret, shown_in=message)`.

    def test_it_mails_a_code(client, root, smtp_server):
        client.post("/v1/auth/password_reset_token/issue", {...}, content_type=...)
        (mail,) = smtp_server.wait_for(1)
        assert mail.to == [root.email]
"""

import email
import email.policy
import logging
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedMessage

import pytest
from aiosmtpd.controller import Controller

# The servers running now: the canary scanner reads what they received.
RUNNING: list["SmtpServer"] = []


@dataclass(eq=False)
class Received:
    """One mail as the server received it (what a mail client would show)."""

    envelope_from: str
    to: list[str]
    raw: bytes
    parsed: ParsedMessage
    alternatives: list = field(default_factory=list)
    extra_headers: dict = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return str(self.parsed["Subject"])

    @property
    def body(self) -> str:
        part = self.parsed.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    def message(self) -> ParsedMessage:
        return self.parsed


class SmtpServer:
    """Collects every mail delivered to it; thread-safe."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, parsed)
        with self._arrived:
            self.messages.append(received)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Return the first `count` messages once they arrived (fails after `timeout` s)."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert arrived, f"expected {count} mails, received {len(self.messages)}"
        return self.messages[:count]

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.to]


def _drop(record: logging.LogRecord) -> bool:
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A running SMTP server that Django's mail goes to for this test."""
    server = SmtpServer()
    controller = Controller(server, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 10},
        }
    }
    settings.DEFAULT_FROM_EMAIL = "latchkey@example.com"
    # The test server logs what it receives (a real mail server's logs are not Latchkey's):
    # kept out of the canary scanner's log probe.
    server_log = logging.getLogger("mail.log")
    server_log.addFilter(_drop)
    RUNNING.append(server)
    try:
        yield server
    finally:
        RUNNING.remove(server)
        controller.stop()
        server_log.removeFilter(_drop)
