"""Allowed source networks in the console: the generate dialog and the Sources dialog."""

import pytest

from security import authkeys
from security.models import AuditEntry, AuthKey

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def test_the_generate_dialog_asks_for_networks(root_client):
    html = root_client.get("/security/authkeys/new", **HX).content.decode()
    assert 'name="allowed_networks"' in html


def test_generate_stores_the_networks_typed_one_per_line(root_client, root):
    form = {"description": "", "allowed_networks": "192.0.2.0/24\n2001:DB8::/32, 198.51.100.9"}
    response = root_client.post("/security/authkeys/generate", form, **HX)
    assert response.status_code == 200
    key = AuthKey.objects.get(principal=root)
    assert key.allowed_networks == "192.0.2.0/24 2001:db8::/32 198.51.100.9/32"


def test_generate_refuses_a_bad_network_and_generates_nothing(root_client, root):
    form = {"allowed_networks": "192.0.2.1/24"}
    response = root_client.post("/security/authkeys/generate", form, **HX)
    assert response.status_code == 400
    assert "host bits" in response.content.decode()
    assert not AuthKey.objects.exists()


def test_the_list_shows_a_key_networks(root_client, root):
    authkeys.generate(None, root, root, allowed_networks=["192.0.2.0/24"])
    html = root_client.get("/security/authkeys/").content.decode()
    assert "Only from 192.0.2.0/24" in html


def test_the_sources_dialog_shows_the_current_list(root_client, root):
    key, _ = authkeys.generate(None, root, root, allowed_networks=["192.0.2.0/24"])
    response = root_client.get(f"/security/authkeys/{key.key_id}/sources", **HX)
    assert response.status_code == 200
    assert "192.0.2.0/24" in response.content.decode()


def test_saving_the_sources_dialog_sets_the_networks(root_client, root):
    key, _ = authkeys.generate(None, root, root)
    url = f"/security/authkeys/{key.key_id}/sources"
    response = root_client.post(url, {"allowed_networks": "203.0.113.0/24"}, **HX)
    assert response.status_code in (200, 204)
    key.refresh_from_db()
    assert key.allowed_networks == "203.0.113.0/24"
    assert AuditEntry.objects.filter(action="Operator:updateOperatorAuthKeySourceNetworks").exists()


def test_an_empty_list_lifts_the_limit(root_client, root):
    key, _ = authkeys.generate(None, root, root, allowed_networks=["192.0.2.0/24"])
    root_client.post(f"/security/authkeys/{key.key_id}/sources", {"allowed_networks": ""}, **HX)
    key.refresh_from_db()
    assert key.allowed_networks == ""


def test_a_bad_network_in_the_dialog_changes_nothing(root_client, root):
    key, _ = authkeys.generate(None, root, root, allowed_networks=["192.0.2.0/24"])
    url = f"/security/authkeys/{key.key_id}/sources"
    response = root_client.post(url, {"allowed_networks": "no-such-network"}, **HX)
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.allowed_networks == "192.0.2.0/24"


def test_a_sam_user_key_sources_are_edited_on_its_authentication_tab(root_client, alice):
    key, _ = authkeys.generate(None, alice, alice)
    url = f"/security/users/alice/authkeys/{key.key_id}/sources"
    root_client.post(url, {"allowed_networks": "2001:db8:1::/48"}, **HX)
    key.refresh_from_db()
    assert key.allowed_networks == "2001:db8:1::/48"
    html = root_client.get("/security/users/alice/authentication").content.decode()
    assert f'href="{url}"' in html


def test_a_revoked_key_has_no_sources_dialog(root_client, root):
    key, _ = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key)
    assert root_client.get(f"/security/authkeys/{key.key_id}/sources", **HX).status_code == 404
