"""X-Forwarded-Proto counts only from the proxy networks (console/middleware.py)."""

import pytest
from django.test import Client

from console import net

PROXY = "127.0.0.1"
OUTSIDE = "203.0.113.9"


@pytest.fixture
def behind_tls_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.LATCHKEY_TRUSTED_PROXIES = 1
    settings.LATCHKEY_TRUSTED_PROXY_NETWORKS = net.parse_proxy_networks(["127.0.0.1/32"])[0]


def _login_page(remote_addr: str, **headers):
    return Client(REMOTE_ADDR=remote_addr).get("/login/", **headers)


def test_it_believes_https_from_the_proxy(behind_tls_proxy):
    response = _login_page(PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200  # already https: no redirect


def test_it_ignores_https_claimed_around_the_proxy(behind_tls_proxy):
    response = _login_page(OUTSIDE, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_it_redirects_plain_http_from_the_proxy(behind_tls_proxy):
    response = _login_page(PROXY, HTTP_X_FORWARDED_PROTO="http")
    assert response.status_code == 301
