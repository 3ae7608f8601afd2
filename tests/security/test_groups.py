"""The Groups tab: service configurations that use the operator's credential sets."""

import pytest

from security import credentials, groups
from security.models import AuditEntry, CredentialSet, Group, GroupServiceConfig
from tests.security.credential_samples import sample_fields

HX = {"HTTP_HX_REQUEST": "true"}


def make_set(actor, cid="beam-psk"):
    return credentials.create_credential_set(None, actor, cid, "psk", "", sample_fields("psk"))


def form(name="sensors", **services):
    data = {"name": name}
    for service in ("beam", "funnel", "funk"):
        url, cid = services.get(service, ("", ""))
        data[f"{service}_url"] = url
        data[f"{service}_credentials"] = cid
    return data


# --- access -----------------------------------------------------------------------------


def test_it_forbids_a_sam_user_without_permission(alice_client, root):
    assert alice_client.get("/security/groups/").status_code == 403
    assert alice_client.post("/security/groups/new", form(), **HX).status_code == 403
    assert not Group.objects.exists()


def test_it_answers_404_for_another_operators_group(outsider_client, root):
    groups.create_group(None, root, "mine", {})
    assert outsider_client.get("/security/groups/mine/update").status_code == 404
    assert outsider_client.post("/security/groups/mine/delete").status_code == 404
    assert Group.objects.filter(name="mine").exists()


def test_it_refuses_another_operators_credential_set(root_client, root, outsider):
    make_set(outsider, "theirs")
    response = root_client.post(
        "/security/groups/new", form(beam=("https://b.example", "theirs")), **HX
    )
    assert response.status_code == 400
    assert not Group.objects.exists()


# --- behaviour --------------------------------------------------------------------------


def test_it_lists_groups_with_the_sets_they_use(root_client, root):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example/in", "beam-psk")})
    html = root_client.get("/security/groups/").content.decode()
    assert "sensors" in html and "https://b.example/in" in html and "beam-psk" in html


def test_it_renders_the_list_partial_for_htmx(root_client, root):
    groups.create_group(None, root, "sensors", {})
    response = root_client.get(
        "/security/groups/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="group-list"
    )
    assert response.content.decode().lstrip().startswith('<div id="group-list"')


def test_it_creates_a_group_through_the_dialog(root_client, root):
    make_set(root)
    response = root_client.post(
        "/security/groups/new",
        form(beam=("https://b.example", "beam-psk"), funk=("https://f.example", "")),
        **HX,
    )
    assert response.status_code == 204
    group = Group.objects.get(operator=root.operator, name="sensors")
    configs = {c.service: c for c in group.services.all()}
    assert set(configs) == {"beam", "funk"}
    assert configs["beam"].credential_set.credentials_id == "beam-psk"
    assert configs["funk"].credential_set is None
    assert AuditEntry.objects.filter(action="Group:createGroup", target="sensors").exists()


def test_it_creates_a_group_without_javascript(root_client, root):
    response = root_client.post("/security/groups/new", form())
    assert response.status_code == 302
    assert Group.objects.filter(name="sensors").exists()


@pytest.mark.parametrize(
    "url", ["ftp://x.example", "javascript:alert(1)", "not a url", "https://" + "a" * 2000]
)
def test_it_refuses_a_bad_destination_url(root_client, root, url):
    response = root_client.post("/security/groups/new", form(beam=(url, "")), **HX)
    assert response.status_code == 400
    assert not Group.objects.exists()


def test_it_refuses_a_set_without_a_url(root_client, root):
    make_set(root)
    response = root_client.post("/security/groups/new", form(beam=("", "beam-psk")), **HX)
    assert response.status_code == 400
    assert "Give a destination URL" in response.content.decode()


def test_it_refuses_a_duplicate_name(root_client, root):
    groups.create_group(None, root, "sensors", {})
    response = root_client.post("/security/groups/new", form(), **HX)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Group.objects.count() == 1


def test_it_refuses_an_invalid_name(root_client, root):
    response = root_client.post("/security/groups/new", form(name="bad name!"), **HX)
    assert response.status_code == 400
    assert not Group.objects.exists()


def test_it_updates_and_removes_service_configurations(root_client, root):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "beam-psk")})
    response = root_client.post(
        "/security/groups/sensors/update", form(funnel=("https://n.example", "beam-psk")), **HX
    )
    assert response.status_code == 204
    configs = GroupServiceConfig.objects.filter(group__name="sensors")
    assert [(c.service, c.destination_url) for c in configs] == [("funnel", "https://n.example")]


def test_it_prefills_the_edit_dialog(root_client, root):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "beam-psk")})
    html = root_client.get("/security/groups/sensors/update", **HX).content.decode()
    assert 'value="https://b.example"' in html
    assert '<option value="beam-psk" selected>' in html


def test_it_deletes_a_group_and_frees_its_sets(root_client, root):
    cs = make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "beam-psk")})
    response = root_client.post("/security/groups/sensors/delete", **HX)
    assert response.status_code == 204
    assert not Group.objects.exists()
    credentials.delete_credential_set(None, root, cs)
    assert not CredentialSet.objects.exists()


def test_it_lets_a_sam_user_with_group_permissions_create_a_group(root, alice, alice_client):
    import json

    from accounts import roles

    roles.set_inline_permission(
        None, root, alice, json.dumps({"statements": [{"effect": "allow", "api": "Group:*"}]})
    )
    response = alice_client.post("/security/groups/new", form(), **HX)
    assert response.status_code == 204
    assert Group.objects.filter(operator=root.operator, name="sensors").exists()
    assert alice_client.get("/security/credentials/").status_code == 403


def test_it_renders_the_group_dialog_as_a_full_page(root_client, root):
    response = root_client.get("/security/groups/new")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and "Create a group" in html
