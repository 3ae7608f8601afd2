"""A real OAuth client (authlib) against a live server: client credentials, discovery, revoke.

The issue's "done when": a standard library gets a token with both client authentication
methods, calls the API with it, and is refused once the key is revoked or deactivated.
"""

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from security import authkeys
from security.models import AuthKey
from tests.api.oauth_client import key_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issuer(live_server, settings):
    settings.LATCHKEY_ISSUER = live_server.url
    return live_server.url


def _session(key_id: str, secret: str, method: str, **kwargs) -> OAuth2Session:
    return OAuth2Session(key_id, secret, token_endpoint_auth_method=method, **kwargs)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_it_gets_a_token_that_calls_the_api(issuer, root, method):
    key_id, secret = key_for(root, root)
    client = _session(key_id, secret, method)
    token = client.fetch_token(f"{issuer}/oauth/token", grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    response = client.get(f"{issuer}/v1/operators/{root.operator_id}/auth_keys")
    assert response.status_code == 200, response.text
    assert [k["authKeyId"] for k in response.json()] == [key_id]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_it_refuses_the_token_after_the_key_is_revoked(issuer, root, method):
    key_id, secret = key_for(root, root)
    client = _session(key_id, secret, method)
    client.fetch_token(f"{issuer}/oauth/token", grant_type="client_credentials")
    authkeys.revoke(None, root, AuthKey.objects.get(key_id=key_id))
    response = client.get(f"{issuer}/v1/operators/{root.operator_id}/auth_keys")
    assert response.status_code == 401
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(f"{issuer}/oauth/token", grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_it_refuses_the_token_after_the_key_is_deactivated(issuer, root, method):
    key_id, secret = key_for(root, root)
    client = _session(key_id, secret, method)
    client.fetch_token(f"{issuer}/oauth/token", grant_type="client_credentials")
    authkeys.set_active(None, root, AuthKey.objects.get(key_id=key_id), False)
    response = client.get(f"{issuer}/v1/operators/{root.operator_id}/auth_keys")
    assert response.status_code == 401
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(f"{issuer}/oauth/token", grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


def test_it_gets_a_narrowed_token_that_may_list_but_not_create(issuer, root, alice):
    allowed = [{"effect": "allow", "api": ["User:listUsers", "User:createUser"]}]
    key_id, secret = key_for(root, alice, allowed)
    client = _session(key_id, secret, "client_secret_basic", scope="User:listUsers")
    token = client.fetch_token(f"{issuer}/oauth/token", grant_type="client_credentials")
    assert token["scope"] == "User:listUsers"
    users = f"{issuer}/v1/operators/{alice.operator_id}/users"
    assert client.get(users).status_code == 200
    assert client.post(users + "/bob", json={}).status_code == 403


def test_it_validates_the_discovery_document_and_finds_the_endpoints_in_it(issuer, root):
    document = requests.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    metadata = AuthorizationServerMetadata(document)
    # Every RFC 8414 rule authlib checks, except response_types_supported: with no
    # authorization endpoint there is no response type to list (security/oauth.py).
    for check in (
        "validate_issuer",
        "validate_token_endpoint",
        "validate_jwks_uri",
        "validate_grant_types_supported",
        "validate_token_endpoint_auth_methods_supported",
        "validate_introspection_endpoint",
        "validate_introspection_endpoint_auth_methods_supported",
        "validate_revocation_endpoint",
        "validate_revocation_endpoint_auth_methods_supported",
        "validate_service_documentation",
    ):
        getattr(metadata, check)()
    key_id, secret = key_for(root, root)
    client = _session(key_id, secret, "client_secret_post")
    token = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    keys = requests.get(metadata["jwks_uri"], timeout=10).json()["keys"]
    assert [k["alg"] for k in keys] == metadata["access_token_signing_alg_values_supported"]
    introspected = client.introspect_token(
        metadata["introspection_endpoint"], token["access_token"]
    )
    assert introspected.json()["iss"] == metadata["issuer"]


def test_it_revokes_a_token_with_the_clients_revoke_call(issuer, root):
    key_id, secret = key_for(root, root)
    client = _session(key_id, secret, "client_secret_basic")
    token = client.fetch_token(f"{issuer}/oauth/token", grant_type="client_credentials")
    response = client.revoke_token(f"{issuer}/oauth/revoke", token["access_token"])
    assert response.status_code == 200
    assert client.get(f"{issuer}/v1/operators/{root.operator_id}/auth_keys").status_code == 401
