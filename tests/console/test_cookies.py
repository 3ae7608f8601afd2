"""Cookies: `__Host-` names wherever the cookie is Secure, host-only and on "/" (production,
ASVS 3.3.3); plain names in development over http. Sign-in works in both."""

import json

import pytest
from django.conf import settings as live_settings
from django.test import Client

from security.models import AuditEntry
from tests.conftest import ROOT_PASSWORD, SUPPORT_PASSWORD
from tests.console.test_settings import _manage, _production_env

NAMES = (
    "SESSION_COOKIE_NAME",
    "CSRF_COOKIE_NAME",
    "LATCHKEY_DEVICE_COOKIE_NAME",
    "LATCHKEY_STAFF_DEVICE_COOKIE_NAME",
)
COOKIE_SETTINGS = (
    *NAMES,
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_DOMAIN",
    "CSRF_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "CSRF_COOKIE_PATH",
    "MESSAGE_STORAGE",
)
HTTPS = {"secure": True, "HTTP_ORIGIN": "https://testserver"}


def _cookie_settings(env: dict[str, str]) -> dict:
    """Return the cookie settings a fresh process computes from this environment."""
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {COOKIE_SETTINGS!r}}}))"
    )
    result = _manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production() -> dict:
    return _cookie_settings(_production_env())


@pytest.fixture(scope="module")
def development() -> dict:
    return _cookie_settings(_production_env(DEBUG="true"))


def _sign_in(client: Client, email: str, password: str, **extra):
    page = client.get("/login/?mode=root", **extra)
    assert page.status_code == 200
    token = client.cookies[live_settings.CSRF_COOKIE_NAME].value
    return client.post(
        "/login/",
        {
            "mode": "root",
            "root-email": email,
            "root-password": password,
            "csrfmiddlewaretoken": token,
        },
        **extra,
    )


def test_it_names_every_cookie_with_the_host_prefix_in_production(production):
    assert [production[n] for n in NAMES] == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "__Host-lk_device",
        "__Host-lk_staff_device",
    ]
    # What the prefix requires of the cookie itself (the browser refuses it otherwise).
    assert production["SESSION_COOKIE_SECURE"] is production["CSRF_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_DOMAIN"] is production["CSRF_COOKIE_DOMAIN"] is None
    assert production["SESSION_COOKIE_PATH"] == production["CSRF_COOKIE_PATH"] == "/"
    # Django's cookie message store sets "messages", a name without the prefix.
    assert production["MESSAGE_STORAGE"].endswith("SessionStorage")


def test_it_uses_plain_names_in_development_over_http(development):
    assert [development[n] for n in NAMES] == [
        "sessionid",
        "csrftoken",
        "lk_device",
        "lk_staff_device",
    ]
    assert development["SESSION_COOKIE_SECURE"] is development["CSRF_COOKIE_SECURE"] is False


def test_it_drops_the_prefix_when_secure_cookies_are_turned_off(db):
    env = _production_env(SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")
    found = _cookie_settings(env)
    assert [found[n] for n in NAMES] == ["sessionid", "csrftoken", "lk_device", "lk_staff_device"]


def test_it_signs_in_over_https_with_the_prefixed_cookies(root, settings, production):
    for name in COOKIE_SETTINGS:
        setattr(settings, name, production[name])
    client = Client(enforce_csrf_checks=True)
    response = _sign_in(client, root.email, ROOT_PASSWORD, **HTTPS)
    assert response.status_code == 302
    for name in ("__Host-sessionid", "__Host-csrftoken", "__Host-lk_device"):
        morsel = client.cookies[name]
        assert (morsel["secure"], morsel["path"], morsel["domain"]) == (True, "/", ""), name
    assert not {"sessionid", "csrftoken", "lk_device"} & set(client.cookies)
    assert client.get("/security/users/", secure=True).status_code == 200
    assert AuditEntry.objects.filter(action="Console:signIn", outcome="allowed").count() == 1


def test_it_trusts_the_prefixed_device_cookie_during_an_attack(root, settings, production):
    for name in COOKIE_SETTINGS:
        setattr(settings, name, production[name])
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 3
    owner = Client(enforce_csrf_checks=True, REMOTE_ADDR="192.0.2.7")
    assert _sign_in(owner, root.email, ROOT_PASSWORD, **HTTPS).status_code == 302
    for i in range(3):  # a distributed attack on the account fills its bucket
        attacker = Client(enforce_csrf_checks=True, REMOTE_ADDR=f"198.51.100.{i}")
        assert _sign_in(attacker, root.email, "wrong-password", **HTTPS).status_code == 400
    stranger = Client(enforce_csrf_checks=True, REMOTE_ADDR="192.0.2.8")
    assert _sign_in(stranger, root.email, ROOT_PASSWORD, **HTTPS).status_code == 429
    assert _sign_in(owner, root.email, ROOT_PASSWORD, **HTTPS).status_code == 302


def test_it_sets_no_cookie_without_the_prefix_in_production(root, settings, production):
    for name in COOKIE_SETTINGS:
        setattr(settings, name, production[name])
    client = Client(enforce_csrf_checks=True)
    responses = [_sign_in(client, root.email, "wrong-password", **HTTPS)]
    responses.append(_sign_in(client, root.email, ROOT_PASSWORD, **HTTPS))
    responses.append(client.get("/security/users/", secure=True))
    token = client.cookies["__Host-csrftoken"].value
    responses.append(client.post("/logout/", {"csrfmiddlewaretoken": token}, **HTTPS))
    responses.append(client.get("/admin/login/", secure=True))
    set_cookies = [morsel for r in responses for morsel in r.cookies.values()]
    assert {m.key for m in set_cookies} >= {"__Host-sessionid", "__Host-csrftoken"}
    for morsel in set_cookies:
        assert morsel.key.startswith("__Host-"), morsel.output()
        assert (morsel["secure"], morsel["path"], morsel["domain"]) == (True, "/", "")


def test_it_signs_in_over_http_with_plain_names_in_development(root, settings, development):
    for name in COOKIE_SETTINGS:
        setattr(settings, name, development[name])
    client = Client(enforce_csrf_checks=True)
    assert _sign_in(client, root.email, ROOT_PASSWORD).status_code == 302
    assert {"sessionid", "csrftoken", "lk_device"} <= set(client.cookies)
    assert not any(name.startswith("__Host-") for name in client.cookies)
    assert client.cookies["sessionid"]["secure"] == ""
    assert client.get("/security/users/").status_code == 200


def test_it_sets_no_cookie_without_the_prefix_at_the_staff_sign_in(settings, helpdesk):
    production = _cookie_settings(_production_env())
    for name in COOKIE_SETTINGS:
        setattr(settings, name, production[name])
    client = Client(enforce_csrf_checks=True)
    page = client.get("/staff/login/", secure=True)
    token = client.cookies["__Host-csrftoken"].value
    response = client.post(
        "/staff/login/",
        {"handle": helpdesk.handle, "password": SUPPORT_PASSWORD, "csrfmiddlewaretoken": token},
        **HTTPS,
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(helpdesk.pk)
    for morsel in [*page.cookies.values(), *response.cookies.values()]:
        assert morsel.key.startswith("__Host-"), morsel.output()
        assert (morsel["secure"], morsel["path"], morsel["domain"]) == (True, "/", "")
