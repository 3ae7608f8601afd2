"""The Groups tab: service configurations that use the operator's credential sets."""

import pytest

from security import credentials, groups
from security.models import AuditEntry, CredentialSet, Group, GroupServiceConfig
from tests.security.credential_samples import sample_fields
from tests.security.fake_dns import fake_dns  # noqa: F401  (a fixture)

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def dns(fake_dns):  # noqa: F811
    """Every host name in these tests resolves to a public address unless a test says not."""
    return fake_dns


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

    from security import roles

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


# --- attaching a credential set is a use of it (Credential:useCredential) ----------------


def allow(root, user, *statements):
    import json

    from security import roles

    roles.set_inline_permission(None, root, user, json.dumps({"statements": list(statements)}))


GROUPS_ONLY = {"effect": "allow", "api": ["Group:*"]}


def use_of(credentials_id):
    return {
        "effect": "allow",
        "api": "Credential:useCredential",
        "condition": f"pathVariable('credentials_id') == '{credentials_id}'",
    }


def stored_services(name="sensors"):
    return sorted(
        GroupServiceConfig.objects.filter(group__name=name).values_list(
            "service", "destination_url", "credential_set__credentials_id"
        )
    )


def test_it_refuses_to_attach_a_set_with_group_permissions_alone(root, alice, alice_client):
    make_set(root)
    allow(root, alice, GROUPS_ONLY)
    response = alice_client.post(
        "/security/groups/new", form(beam=("https://attacker.example", "beam-psk")), **HX
    )
    assert response.status_code == 400
    assert "Credential:useCredential" in response.content.decode()
    assert not Group.objects.exists()
    denied = AuditEntry.objects.get(action="Credential:useCredential")
    assert (denied.outcome, denied.target, denied.user_name) == ("denied", "beam-psk", "alice")


def test_it_refuses_to_repoint_a_set_with_group_permissions_alone(root, alice, alice_client):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "beam-psk")})
    allow(root, alice, GROUPS_ONLY)
    response = alice_client.post(
        "/security/groups/sensors/update", form(beam=("https://attacker.example", "beam-psk")), **HX
    )
    assert response.status_code == 400
    assert stored_services() == [("beam", "https://b.example", "beam-psk")]


def test_it_lets_group_permissions_edit_another_service_of_the_group(root, alice, alice_client):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "beam-psk")})
    allow(root, alice, GROUPS_ONLY)
    data = form(beam=("https://b.example", "beam-psk"), funk=("https://f.example", ""))
    response = alice_client.post("/security/groups/sensors/update", data, **HX)
    assert response.status_code == 204
    assert stored_services() == [
        ("beam", "https://b.example", "beam-psk"),
        ("funk", "https://f.example", None),
    ]


def test_it_lets_group_permissions_detach_a_set(root, alice, alice_client):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "beam-psk")})
    allow(root, alice, GROUPS_ONLY)
    data = form(beam=("https://b.example", ""))
    assert alice_client.post("/security/groups/sensors/update", data, **HX).status_code == 204
    assert stored_services() == [("beam", "https://b.example", None)]


def test_it_attaches_a_set_the_user_may_use(root, alice, alice_client):
    make_set(root)
    allow(root, alice, GROUPS_ONLY, use_of("beam-psk"))
    response = alice_client.post(
        "/security/groups/new", form(beam=("https://b.example", "beam-psk")), **HX
    )
    assert response.status_code == 204
    assert stored_services() == [("beam", "https://b.example", "beam-psk")]


def test_it_decides_the_use_before_looking_the_set_up(root, alice, alice_client):
    make_set(root)
    allow(root, alice, GROUPS_ONLY)
    answers = [
        groups_error(alice, cid) for cid in ("beam-psk", "no-such-set")
    ]  # an existing set and a missing one answer alike
    assert answers[0] == answers[1]


def groups_error(actor, credentials_id):
    with pytest.raises(groups.GroupInvalid) as info:
        groups.create_group(None, actor, "probe", {"beam": ("https://b.example", credentials_id)})
    return info.value.errors


def test_it_offers_only_the_sets_the_user_may_use(root, alice, alice_client):
    make_set(root, "usable")
    make_set(root, "secret-set")
    allow(root, alice, GROUPS_ONLY, use_of("usable"))
    html = alice_client.get("/security/groups/new", **HX).content.decode()
    assert '<option value="usable">' in html
    assert "secret-set" not in html


def test_it_keeps_the_current_set_as_the_only_other_choice(root, alice, alice_client):
    make_set(root, "current")
    make_set(root, "other")
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "current")})
    allow(root, alice, GROUPS_ONLY)
    html = alice_client.get("/security/groups/sensors/update", **HX).content.decode()
    assert '<option value="current" selected>' in html
    assert "other" not in html
    assert "data-no-usable-sets" in html


def test_it_offers_every_set_to_root(root_client, root):
    make_set(root, "one")
    make_set(root, "two")
    html = root_client.get("/security/groups/new", **HX).content.decode()
    assert '<option value="one">' in html and '<option value="two">' in html


def test_it_audits_every_destination_before_and_after(root, root_client):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example/in", "beam-psk")})
    data = form(funnel=("https://n.example/out", "beam-psk"))
    assert root_client.post("/security/groups/sensors/update", data, **HX).status_code == 204
    entry = AuditEntry.objects.get(action="Group:updateGroup")
    assert entry.details == {
        "before": {"beam": {"url": "https://b.example/in", "credentialsId": "beam-psk"}},
        "after": {"funnel": {"url": "https://n.example/out", "credentialsId": "beam-psk"}},
    }


def test_it_audits_the_destinations_of_a_created_and_a_deleted_group(root, root_client):
    make_set(root)
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example", "beam-psk")})
    assert root_client.post("/security/groups/sensors/delete", **HX).status_code == 204
    created = AuditEntry.objects.get(action="Group:createGroup")
    deleted = AuditEntry.objects.get(action="Group:deleteGroup")
    beam = {"beam": {"url": "https://b.example", "credentialsId": "beam-psk"}}
    assert created.details == {"before": {}, "after": beam}
    assert deleted.details == {"before": beam, "after": {}}


# --- destination URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@b.example/in",
        "https://user@b.example/",
        "https://:secret@b.example/",
        "http://token@8.8.8.8/",
    ],
)
def test_it_refuses_a_user_name_or_password_in_the_url(root_client, root, url):
    response = root_client.post("/security/groups/new", form(beam=(url, "")), **HX)
    assert response.status_code == 400
    assert "cannot hold a user name or password" in response.content.decode()
    assert not Group.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.8.9.10:8080/hook",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[ff02::1]/",
        "http://[fec0::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[2002:7f00:1::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
    ],
)
def test_it_refuses_a_non_public_address(root_client, root, url):
    response = root_client.post("/security/groups/new", form(beam=(url, "")), **HX)
    assert response.status_code == 400
    assert "must be a public address" in response.content.decode()
    assert not Group.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://017700000001/",
        "http://10.0.1/",
    ],
)
def test_it_refuses_a_host_written_as_another_number_form(root_client, root, url, dns):
    response = root_client.post("/security/groups/new", form(beam=(url, "")), **HX)
    assert response.status_code == 400
    assert not Group.objects.exists()
    assert dns.looked_up == []


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.1.2.3"], ["93.184.215.14", "192.168.0.10"], ["::1"], ["fe80::1%eth0"]],
)
def test_it_refuses_a_name_that_resolves_to_a_non_public_address(root_client, root, dns, answer):
    dns.answers["inside.example"] = answer
    data = form(beam=("https://inside.example/hook", ""))
    response = root_client.post("/security/groups/new", data, **HX)
    assert response.status_code == 400
    assert "must be a public address" in response.content.decode()
    assert dns.looked_up == ["inside.example"]
    assert not Group.objects.exists()


def test_it_refuses_localhost(root_client, root, dns):
    dns.answers["localhost"] = ["127.0.0.1", "::1"]
    response = root_client.post("/security/groups/new", form(beam=("http://localhost/", "")), **HX)
    assert response.status_code == 400
    assert not Group.objects.exists()


def test_it_refuses_a_name_that_does_not_resolve(root_client, root, dns):
    dns.answers["nowhere.example"] = []
    data = form(beam=("https://nowhere.example/", ""))
    response = root_client.post("/security/groups/new", data, **HX)
    assert response.status_code == 400
    assert "does not resolve" in response.content.decode()
    assert not Group.objects.exists()


def test_it_accepts_a_public_name_and_a_public_address(root_client, root, dns):
    data = form(beam=("https://in.example/hook", ""), funk=("https://8.8.8.8/x", ""))
    assert root_client.post("/security/groups/new", data, **HX).status_code == 204
    assert dns.looked_up == ["in.example"]
    assert len(stored_services()) == 2


def test_it_allows_private_targets_in_development(root_client, root, dns, settings):
    settings.DEBUG = True
    data = form(beam=("http://127.0.0.1:9000/hook", ""), funk=("http://localhost/", ""))
    assert root_client.post("/security/groups/new", data, **HX).status_code == 204
    assert dns.looked_up == []


def test_it_refuses_a_user_name_in_the_url_in_development_too(root_client, root, settings):
    settings.DEBUG = True
    data = form(beam=("http://me:pw@127.0.0.1:9000/", ""))
    assert root_client.post("/security/groups/new", data, **HX).status_code == 400
    assert not Group.objects.exists()


@pytest.fixture
def legacy_group(root):
    """A group stored before userinfo was refused (written past the service, as old rows were)."""
    cs = make_set(root)
    group = Group.objects.create(operator=root.operator, name="legacy")
    GroupServiceConfig.objects.create(
        group=group,
        service="beam",
        destination_url="https://olduser:canary-URL-PASS-1@b.example/in",
        credential_set=cs,
    )
    return group


def test_it_never_shows_stored_userinfo_in_the_list(root_client, legacy_group):
    html = root_client.get("/security/groups/").content.decode()
    assert "https://b.example/in" in html
    assert "canary-URL-PASS-1" not in html and "olduser" not in html


def test_it_never_shows_stored_userinfo_in_the_edit_dialog(root_client, legacy_group):
    html = root_client.get("/security/groups/legacy/update", **HX).content.decode()
    assert 'value="https://b.example/in"' in html
    assert "canary-URL-PASS-1" not in html and "olduser" not in html
    assert "held a user name or password" in html


def test_it_drops_stored_userinfo_on_save_without_repointing(
    root, alice, alice_client, legacy_group
):
    allow(root, alice, GROUPS_ONLY)  # may not use beam-psk: dropping userinfo is no re-point
    data = form(beam=("https://b.example/in", "beam-psk"))
    assert alice_client.post("/security/groups/legacy/update", data, **HX).status_code == 204
    assert stored_services("legacy") == [("beam", "https://b.example/in", "beam-psk")]
    entry = AuditEntry.objects.get(action="Group:updateGroup")
    assert "canary-URL-PASS-1" not in repr(entry.details)
    assert entry.details["before"]["beam"]["url"] == "https://b.example/in"


def test_it_does_not_recheck_a_configuration_left_as_it_was(root, root_client, dns):
    group = Group.objects.create(operator=root.operator, name="sensors")
    GroupServiceConfig.objects.create(
        group=group, service="beam", destination_url="http://10.0.0.9/"
    )
    data = form(beam=("http://10.0.0.9/", ""), funk=("https://f.example", ""))
    assert root_client.post("/security/groups/sensors/update", data, **HX).status_code == 204
    assert dns.looked_up == ["f.example"]


def test_it_refuses_to_change_a_group_deleted_meanwhile(root):
    group = groups.create_group(None, root, "fleet", {})  # looked up by one request ...
    Group.objects.filter(pk=group.pk).delete()  # ... deleted by another
    with pytest.raises(groups.GroupInvalid) as refused:
        groups.update_group(None, root, group, {"beam": ("https://b.example/in", "")})
    assert refused.value.errors == {"__all__": groups.GONE}
    assert not GroupServiceConfig.objects.exists()
    assert not AuditEntry.objects.filter(action="Group:updateGroup").exists()
