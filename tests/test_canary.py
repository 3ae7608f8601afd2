"""The canary scanner's own tests: every probe finds a 12-character window planted in its place.

Each test plants a secret, puts one window from its middle (never the whole secret) into one
place, and checks that the probe for that place names it and that `assert_nowhere` fails.
A probe that cannot fail here would let a leak through in every flow that relies on it.
"""

import base64
import html
import json
import logging
import os
import secrets
import sys
from urllib.parse import quote

import pytest
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail, signing
from django.core.cache import caches
from django.core.mail import EmailMessage
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client
from django.urls import path

from accounts.models import Principal
from security import audit, credentials
from security.models import CredentialSet
from tests.canary import WINDOW, forms_of


def window_of(secret: str) -> str:
    """Return a 12-character window from the middle of the secret (not its start or end)."""
    start = len(secret) // 2 - WINDOW // 2
    return secret[start : start + WINDOW]


def places_found(canary, probe: str) -> list[str]:
    return [finding.place.where for finding in canary.findings([probe])]


def assert_caught(canary, probe: str, where: str) -> None:
    """The probe names the place, and the scan as a whole fails."""
    found = places_found(canary, probe)
    assert any(where in place for place in found), found
    with pytest.raises(AssertionError, match="a secret leaked"):
        canary.assert_nowhere()


# --- the needles --------------------------------------------------------------------------


def test_it_looks_for_every_12_character_window():
    secret = "abcdefghijklmnopqrstuvwxyz0123"
    forms = forms_of(secret)
    windows = {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
    assert windows <= {needle.decode() for needle in forms}
    assert not any(len(needle) < WINDOW for needle in forms)


def test_it_refuses_a_canary_shorter_than_a_window(canary):
    with pytest.raises(AssertionError):
        canary.add("short")


def test_it_refuses_to_scan_with_nothing_planted(canary):
    with pytest.raises(AssertionError, match="nothing was planted"):
        canary.assert_nowhere()


def test_it_passes_a_flow_that_leaked_nothing(canary, root_client, root):
    canary.plant("pw")
    root_client.get("/security/users/")
    canary.assert_nowhere(revisit=root)


# --- logs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "django", "django.request", "django.db.backends", "django.server", "latchkey.api", "new"],
)
def test_it_finds_a_window_in_a_debug_record_of_any_logger(canary, name):
    secret = canary.plant()
    logging.getLogger(name).debug("value %s", window_of(secret))
    assert_caught(canary, "logs", "logger")


def test_it_finds_a_window_in_a_records_extra_fields(canary):
    secret = canary.plant()
    logging.getLogger("latchkey.credentials").info("saved", extra={"fields": window_of(secret)})
    assert_caught(canary, "logs", "latchkey.credentials")


def test_it_finds_a_window_in_a_logged_traceback(canary):
    secret = canary.plant()
    try:
        raise ValueError(window_of(secret))
    except ValueError:
        logging.getLogger("django.request").exception("Internal Server Error")
    assert_caught(canary, "logs", "django.request")


# --- stdout and stderr --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("write", "stream"),
    [
        (lambda text: print(text), "stdout"),
        (lambda text: sys.stderr.write(text), "stderr"),
        (lambda text: os.write(1, text.encode()), "stdout"),
        (lambda text: os.write(2, text.encode()), "stderr"),
    ],
)
def test_it_finds_a_window_written_to_stdout_or_stderr(canary, write, stream):
    secret = canary.plant()
    write(window_of(secret) + "\n")
    assert_caught(canary, "output", stream)


# --- the database -------------------------------------------------------------------------


def test_it_finds_a_window_in_a_text_column(canary, alice):
    secret = canary.plant()
    Principal.objects.filter(pk=alice.pk).update(description=window_of(secret))
    assert_caught(canary, "database", "accounts_principal")


def test_it_finds_a_window_in_a_bytes_column(canary, root):
    secret = canary.plant()
    credentials.create_credential_set(None, root, "b", "psk", "", {"key": "x" * 16})
    CredentialSet.objects.update(ciphertext=b"\x00\xff" + window_of(secret).encode() + b"\x01")
    assert_caught(canary, "database", "security_credentialset")


def test_it_finds_a_window_in_a_json_column(canary, operator, root):
    secret = canary.plant()
    details = {"nested": {"list": [window_of(secret)]}}
    audit.record(None, "User:updateUser", operator=operator, principal=root, details=details)
    assert_caught(canary, "database", "security_auditentry")


def test_it_finds_a_window_in_a_table_no_model_of_ours_owns(canary):
    secret = canary.plant()
    ContentType.objects.create(app_label="canary", model=window_of(secret))
    assert_caught(canary, "database", "django_content_type")


def test_it_finds_a_window_inside_signed_and_compressed_session_data(canary, db):
    secret = canary.plant()
    session = SessionStore()
    session["kept"] = window_of(secret) * 3  # compressible: stored zlib-compressed
    session.save()
    assert_caught(canary, "database", "django_session")


# --- caches -------------------------------------------------------------------------------

CACHE_BACKENDS = [
    pytest.param({"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, id="locmem"),
    pytest.param(
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", ""),
        },
        id="redis",
        marks=pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
    ),
]


@pytest.mark.parametrize("config", CACHE_BACKENDS)
def test_it_finds_a_window_in_a_cached_value(canary, settings, config):
    settings.CACHES = {"default": config}
    secret = canary.plant()
    caches["default"].set("canary-value", {"nested": [window_of(secret)]})
    try:
        assert_caught(canary, "cache", "cache default")
    finally:
        caches["default"].delete("canary-value")


@pytest.mark.parametrize("config", CACHE_BACKENDS)
def test_it_finds_a_window_in_a_cache_key(canary, settings, config):
    settings.CACHES = {"default": config}
    secret = canary.plant()
    key = "throttle:" + window_of(secret)
    caches["default"].set(key, 1)
    try:
        assert_caught(canary, "cache", "cache default")
    finally:
        caches["default"].delete(key)


# --- sessions, audit, mail ----------------------------------------------------------------


def _keep_in_session(request):
    request.session["kept"] = request.GET["v"]
    return HttpResponse("ok")


def test_it_finds_a_window_in_a_database_session(canary, db):
    secret = canary.plant()
    session = SessionStore()
    session["kept"] = window_of(secret)
    session.save()
    assert_caught(canary, "sessions", "session")


@pytest.mark.urls("tests.test_canary")
def test_it_finds_a_window_in_a_cached_session(canary, settings, db):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    secret = canary.plant()
    Client().get("/keep", {"v": window_of(secret)})
    assert_caught(canary, "sessions", "session")


def test_it_finds_a_window_in_any_field_of_the_audit_trail(canary, operator, root):
    secret = canary.plant()
    audit.record(
        None, "User:updateUser", operator=operator, principal=root, details={"t": window_of(secret)}
    )
    assert_caught(canary, "audit", "User:updateUser")


def _mail(body: str) -> EmailMessage:
    message = EmailMessage("Your reset link", body, "a@example.com", ["b@example.com"])
    mail.outbox.append(message)  # what the locmem mail backend does with a sent mail
    return message


def test_it_allows_a_secret_only_in_the_one_mail_that_carries_it(canary):
    token = canary.plant("tok")
    canary.add(token, shown_in=_mail(f"https://latchkey.example/reset/{token}"))
    assert places_found(canary, "mail") == []
    _mail(f"Again: {token}")
    assert_caught(canary, "mail", "body of mail 1")


def test_it_finds_a_window_in_a_mail(canary):
    secret = canary.plant()
    # What the locmem mail backend does with every message sent in a test.
    mail.outbox.append(
        EmailMessage("Your reset link", f"Use {window_of(secret)}", "a@example.com", ["b@x.com"])
    )
    assert_caught(canary, "mail", "Your reset link")


def _smtp_mail(subject: str, body: str) -> None:
    """Send through Django's SMTP backend to the test's SMTP server (tests/mail.py)."""
    EmailMessage(subject, body, "a@example.com", ["b@example.com"]).send()


def test_it_finds_a_window_in_a_mail_the_smtp_server_received(canary, smtp_server):
    secret = canary.plant()
    _smtp_mail("Over the wire", f"Use {window_of(secret)}")
    smtp_server.wait_for(1)
    assert mail.outbox == []  # only the SMTP server holds it
    assert_caught(canary, "mail", "body of smtp mail 0: Over the wire")


def test_it_finds_a_window_in_the_headers_the_smtp_server_received(canary, smtp_server):
    secret = canary.plant()
    _smtp_mail(f"Code {window_of(secret)}", "nothing here")
    smtp_server.wait_for(1)
    assert_caught(canary, "mail", "headers of smtp mail 0")


def test_it_allows_a_secret_only_in_the_one_received_mail_that_carries_it(canary, smtp_server):
    token = canary.plant("tok")
    _smtp_mail("Your code", f"Code: {token}")
    (received,) = smtp_server.wait_for(1)
    canary.add(token, shown_in=received)
    assert places_found(canary, "mail") == []
    _smtp_mail("Again", f"Code: {token}")
    smtp_server.wait_for(2)
    assert_caught(canary, "mail", "body of smtp mail 1: Again")


# --- responses ----------------------------------------------------------------------------


def _echo_body(request):
    return HttpResponse(f"<p>{request.GET['v']}</p>")


def _echo_header(request):
    response = HttpResponse("nothing here")
    response["X-Debug"] = request.GET["v"]
    return response


def _echo_signed_cookie(request):
    response = HttpResponse("nothing here")
    response.set_cookie("state", signing.dumps({"v": request.GET["v"] * 4}, compress=True))
    return response


def _echo_message(request):
    messages.info(request, f"Saved {request.GET['v']}")
    return HttpResponse("nothing here")


def _echo_stream(request):
    return StreamingHttpResponse(iter([b"a,b\n", request.GET["v"].encode(), b"\n"]))


urlpatterns = [
    path("keep", _keep_in_session),
    path("body", _echo_body),
    path("header", _echo_header),
    path("cookie", _echo_signed_cookie),
    path("message", _echo_message),
    path("stream", _echo_stream),
]


@pytest.mark.urls("tests.test_canary")
@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/body", "body of GET /body"),
        ("/header", "headers of GET /header"),
        ("/cookie", "headers of GET /cookie"),
        ("/message", "headers of GET /message"),
        ("/stream", "body of GET /stream"),
    ],
)
def test_it_finds_a_window_in_a_response(canary, db, settings, url, where):
    # Production keeps messages in the session (no __Host- prefix for Django's messages
    # cookie); a deployment may still choose the cookie, and the scanner must see it there.
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
    secret = canary.plant()
    Client().get(url, {"v": window_of(secret)})
    assert_caught(canary, "responses", where)


@pytest.mark.urls("tests.test_canary")
def test_it_allows_the_secret_only_in_the_one_response_that_shows_it(canary, db):
    secret = canary.plant()
    shown = Client().get("/body", {"v": secret})
    canary.add(secret, shown_in=shown)
    assert places_found(canary, "responses") == []
    Client().get("/body", {"v": secret})  # shown a second time
    assert_caught(canary, "responses", "body of GET /body")


@pytest.mark.urls("tests.test_canary")
def test_it_finds_another_secret_in_the_response_that_shows_one(canary, db):
    shown, other = canary.plant("key"), canary.plant("pw")
    response = Client().get("/body", {"v": f"{shown} {window_of(other)}"})
    canary.add(shown, shown_in=response)
    assert_caught(canary, "responses", "body of GET /body")


def test_it_finds_a_window_on_a_later_page(canary, root, alice):
    secret = canary.plant()
    Principal.objects.filter(pk=alice.pk).update(description=window_of(secret))
    fetched = canary.revisit(root)
    assert "/security/users/" in fetched and f"/v1/operators/{root.operator_id}/users" in fetched
    assert_caught(canary, "later", "body of GET /security/users/")


# --- encodings of the whole secret --------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode().hex(),
        lambda s: s.encode().hex().upper(),
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.b64encode(b"x" + s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(b"xy" + s.encode()).decode().rstrip("="),
        lambda s: "prefix" + base64.b64encode(s.encode()).decode() + "suffix",
    ],
    ids=["hex", "HEX", "base64", "base64+1", "base64url+2", "embedded"],
)
def test_it_finds_an_encoded_secret(canary, encode):
    secret = canary.plant()
    logging.getLogger("latchkey.api").info("token=%s", encode(secret))
    assert_caught(canary, "logs", "latchkey.api")


def test_it_finds_a_url_encoded_secret(canary):
    # Every window holds a "/", so only the URL-encoded form of the whole can match.
    secret = canary.add("/".join(secrets.token_hex(2) for _ in range(10)), label="path")
    logging.getLogger("latchkey.api").info("next=%s", quote(secret, safe=""))
    assert_caught(canary, "logs", "latchkey.api")


@pytest.mark.parametrize(
    ("label", "render"),
    [("a&b<", html.escape), ('a"b\\', lambda text: json.dumps(text)[1:-1])],
    ids=["HTML", "JSON"],
)
def test_it_finds_an_escaped_window(canary, label, render):
    secret = canary.plant(label)
    logging.getLogger("latchkey.api").info("%s", render(secret[: WINDOW + 2]))
    assert_caught(canary, "logs", "latchkey.api")
