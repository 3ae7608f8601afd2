"""The whole Content-Security-Policy, compared as one string (only the nonce varies), on a
console page, error pages and HTMX partials: a loosened directive anywhere fails here."""

import re

import pytest
from django.test import Client

# Written out by hand, not read from settings: the test is the policy's second copy.
EXPECTED = (
    "default-src 'self'; "
    "script-src 'self'{nonce}; "
    "style-src 'self'; "
    "img-src 'self' data:; "
    "connect-src 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'; "
    "object-src 'none'"
)
HTMX = {"HTTP_HX_REQUEST": "true"}
_SCRIPT = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
_NONCE = re.compile(r'\bnonce="([^"]+)"')


def policy_of(response) -> str:
    assert "Content-Security-Policy-Report-Only" not in response
    return response["Content-Security-Policy"]


def assert_full_page_policy(response) -> None:
    """The exact policy, with the nonce that every script tag of the page carries."""
    scripts = _SCRIPT.findall(response.content.decode())
    assert scripts, "a full page loads the console's scripts"
    nonces = {m.group(1) for tag in scripts if (m := _NONCE.search(tag))}
    assert len(nonces) == 1, scripts  # one nonce, and every script tag has it
    assert all(_NONCE.search(tag) for tag in scripts), scripts
    assert policy_of(response) == EXPECTED.format(nonce=f" 'nonce-{nonces.pop()}'")


def test_it_sends_the_whole_policy_on_a_console_page(root_client):
    response = root_client.get("/security/users/")
    assert response.status_code == 200
    assert_full_page_policy(response)


def test_it_sends_the_whole_policy_on_the_sign_in_page(db):
    response = Client().get("/login/")
    assert response.status_code == 200
    assert_full_page_policy(response)


@pytest.mark.parametrize("who", ["anonymous", "root"])
def test_it_sends_the_whole_policy_on_the_not_found_page(db, root_client, who):
    client = root_client if who == "root" else Client()
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_full_page_policy(response)


def test_it_sends_the_whole_policy_on_the_forbidden_page(alice_client):
    response = alice_client.get("/security/users/")
    assert response.status_code == 403
    assert_full_page_policy(response)


@pytest.mark.parametrize(
    "path", ["/security/users/new", "/security/users/alice/delete", "/security/roles/new"]
)
def test_it_sends_the_whole_policy_on_an_htmx_partial(root_client, alice, path):
    response = root_client.get(path, **HTMX)
    assert response.status_code == 200
    assert b"<html" not in response.content  # a partial, not a page
    # A partial carries no script, so no nonce is spent; the rest is the same policy.
    assert not _SCRIPT.search(response.content.decode())
    assert policy_of(response) == EXPECTED.format(nonce="")


def test_it_sends_the_whole_policy_on_a_forbidden_partial(alice_client, alice):
    response = alice_client.get("/security/users/new", **HTMX)
    assert response.status_code == 403
    assert policy_of(response) == EXPECTED.format(nonce="")


def test_it_uses_a_fresh_nonce_on_every_page(root_client):
    first = policy_of(root_client.get("/security/users/"))
    second = policy_of(root_client.get("/security/users/"))
    assert first != second
    assert re.sub(r"'nonce-[^']+'", "", first) == re.sub(r"'nonce-[^']+'", "", second)
