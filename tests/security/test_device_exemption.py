"""The console's device cookie: a browser that signed in before skips the per-account bucket,
until the password or the sessions it was earned with end (docs/sessions.md)."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts import throttle
from tests.conftest import ROOT_PASSWORD

WINDOW = 900
WRONG = "not-the-Password-0"
NEW_PASSWORD = "a-Brand-new-passw0rd"


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> None:
    """Pin the throttles' clock 100 s into a window, so that no run straddles its end."""
    start = int(datetime.now(UTC).timestamp()) // WINDOW * WINDOW + 100
    monkeypatch.setattr(throttle, "_now", lambda: datetime.fromtimestamp(start, UTC))


def _console_sign_in(client: Client, email: str, password: str, ip: str):
    return client.post(
        "/login/",
        {"mode": "root", "root-email": email, "root-password": password},
        REMOTE_ADDR=ip,
    )


def test_it_ends_the_device_exemption_when_the_password_changes(root):
    # The attacker once knew root's password and signed in: its browser holds the device
    # cookie. The owner changes the password (which ends every console and password session).
    attacker = Client()
    assert _console_sign_in(attacker, root.email, ROOT_PASSWORD, "192.0.2.7").status_code == 302
    attacker.post("/logout/", REMOTE_ADDR="192.0.2.7")
    owner = Client(REMOTE_ADDR="203.0.113.9")
    session = owner.post(
        "/v1/auth",
        {"email": root.email, "password": ROOT_PASSWORD},
        content_type="application/json",
    ).json()
    changed = owner.post(
        f"/v1/operators/{root.operator_id}/password",
        {"currentPassword": ROOT_PASSWORD, "newPassword": NEW_PASSWORD},
        content_type="application/json",
        HTTP_X_SORACOM_API_KEY=session["apiKey"],
        HTTP_X_SORACOM_TOKEN=session["token"],
    )
    assert changed.status_code == 200
    # A distributed guessing attack fills the per-account bucket (6 x 10 > 50) ...
    for address in range(6):
        for _ in range(10):
            _console_sign_in(Client(), root.email, WRONG, f"198.51.100.{address}")
    assert _console_sign_in(Client(), root.email, WRONG, "198.51.100.99").status_code == 429
    # ... which must stop the attacker's guesses at the new password too: its cookie was
    # earned with the old password. It still skips the bucket, so every fresh address gets
    # ten more guesses, without end.
    response = _console_sign_in(attacker, root.email, WRONG, "198.51.100.200")
    assert response.status_code == 429, "the old device cookie still skips the account bucket"
