"""RFC 8414 discovery: one document at two names, every URL derived from LATCHKEY_ISSUER."""

import pytest
from django.test import Client

from accounts import tokens
from tests.api.oauth_client import key_for, token
from tests.console.test_settings import _manage, _production_env

DOCUMENTS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
REQUIRED = {"issuer", "token_endpoint", "jwks_uri", "response_types_supported"}


@pytest.fixture
def issuer(settings):
    settings.LATCHKEY_ISSUER = "https://keys.example.com/latchkey"
    return settings.LATCHKEY_ISSUER


@pytest.mark.parametrize("path", DOCUMENTS)
def test_it_serves_the_rfc_8414_fields(db, issuer, path):
    document = Client().get(path).json()
    assert REQUIRED <= set(document)
    assert document["issuer"] == issuer


def test_it_serves_the_same_document_under_both_names(db, issuer):
    first, second = (Client().get(path).json() for path in DOCUMENTS)
    assert first == second


def test_it_derives_every_endpoint_from_the_issuer(db, issuer):
    document = Client().get(DOCUMENTS[0]).json()
    assert document["token_endpoint"] == issuer + "/oauth/token"
    assert document["introspection_endpoint"] == issuer + "/oauth/introspect"
    assert document["revocation_endpoint"] == issuer + "/oauth/revoke"
    assert document["jwks_uri"] == issuer + "/.well-known/jwks.json"


def test_it_names_the_grant_auth_methods_and_signing_algorithm(db, issuer):
    document = Client().get(DOCUMENTS[0]).json()
    methods = ["client_secret_basic", "client_secret_post"]
    assert document["grant_types_supported"] == ["client_credentials"]
    assert document["token_endpoint_auth_methods_supported"] == methods
    assert document["introspection_endpoint_auth_methods_supported"] == methods
    assert document["revocation_endpoint_auth_methods_supported"] == methods
    assert document["access_token_signing_alg_values_supported"] == ["EdDSA"]


def test_it_issues_tokens_whose_iss_is_the_issuer(root, issuer):
    access = token(*key_for(root, root)).json()["access_token"]
    assert tokens.verify_ignoring_time(access)["iss"] == issuer


def test_it_lets_caches_keep_the_document(db):
    assert Client().get(DOCUMENTS[0])["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize(
    "value", ["latchkey", "ftp://keys.example.com", "https://keys.example.com/?a=1", "https://"]
)
def test_it_refuses_an_issuer_that_is_not_an_absolute_url(value):
    result = _manage(_production_env(LATCHKEY_ISSUER=value), "check")
    assert result.returncode != 0
    assert "LATCHKEY_ISSUER must be an absolute http(s) URL" in result.stderr
