"""The Credentials tab: access, list, register, update, delete (HTMX and full-page paths)."""

import datetime as dt

import pytest

from security import credentials
from security.models import CredentialSet, Group, GroupServiceConfig
from tests.security.credential_samples import make_cert, sample_fields

HX = {"HTTP_HX_REQUEST": "true"}


def create(actor, cid, kind="psk", fields=None, description=""):
    return credentials.create_credential_set(
        None, actor, cid, kind, description, fields or sample_fields(kind)
    )


def post_create(client, cid="aws-prod", kind="aws-credentials", htmx=True, **extra):
    data = {"credentials_id": cid, "description": "", "type": kind}
    data.update({f"c__{k}": v for k, v in sample_fields(kind).items()})
    data.update(extra)
    return client.post("/security/credentials/new", data, **(HX if htmx else {}))


# --- access -----------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/security/credentials/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_answers_404_for_another_operators_set(outsider_client, root):
    create(root, "mine")
    assert outsider_client.get("/security/credentials/mine/update").status_code == 404
    assert outsider_client.post("/security/credentials/mine/delete").status_code == 404
    assert CredentialSet.objects.filter(credentials_id="mine").exists()


def test_it_forbids_a_sam_user_without_permission(alice_client, root):
    create(root, "mine")
    assert alice_client.get("/security/credentials/").status_code == 403
    assert alice_client.post("/security/credentials/mine/delete", **HX).status_code == 403
    assert post_create(alice_client, "x").status_code == 403
    assert not CredentialSet.objects.filter(credentials_id="x").exists()


def test_it_lists_only_the_operators_own_sets(root_client, root, outsider):
    create(root, "mine")
    create(outsider, "theirs")
    html = root_client.get("/security/credentials/").content.decode()
    assert "mine" in html
    assert "theirs" not in html


# --- list -------------------------------------------------------------------------------


def test_it_renders_the_list_partial_for_htmx(root_client, root):
    create(root, "mine")
    response = root_client.get(
        "/security/credentials/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="credential-list"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="credential-list"')
    assert "mine" in html


def test_it_shows_certificate_subject_expiry_and_warning(root_client, root):
    cert, key = make_cert("soon.example", days=5)
    create(root, "soon", "x509", {"cert": cert, "key": key})
    cert, key = make_cert("gone.example", days=-3)
    create(root, "gone", "x509", {"cert": cert, "key": key})
    html = root_client.get("/security/credentials/").content.decode()
    assert "CN=soon.example" in html
    assert "expires within 30 days" in html
    assert "expired</span>" in html


def test_it_sorts_by_id_descending(root_client, root):
    for cid in ("alpha", "bravo", "charlie"):
        create(root, cid)
    html = root_client.get("/security/credentials/?sort=-id").content.decode()
    assert html.index("charlie") < html.index("bravo") < html.index("alpha")


def test_it_sorts_by_updated_time(root_client, root):
    for cid in ("alpha", "bravo"):
        create(root, cid)
    CredentialSet.objects.filter(credentials_id="alpha").update(
        updated_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    )
    html = root_client.get("/security/credentials/?sort=-updated").content.decode()
    assert html.index('data-credentials-id="alpha"') < html.index('data-credentials-id="bravo"')


def test_it_paginates(root_client, root):
    for i in range(27):
        create(root, f"set-{i:02d}")
    first = root_client.get("/security/credentials/").content.decode()
    second = root_client.get("/security/credentials/?page=2").content.decode()
    assert "set-24" in first and "set-25" not in first
    assert "set-26" in second and "Page 2 of 2" in second


def test_it_shows_which_groups_use_a_set(root_client, root):
    cs = create(root, "used")
    group = Group.objects.create(operator=root.operator, name="meters")
    GroupServiceConfig.objects.create(
        group=group, service="funk", destination_url="https://f.example", credential_set=cs
    )
    html = root_client.get("/security/credentials/").content.decode()
    assert ">meters</a>" in html


def test_it_disables_register_at_the_limit(root_client, root):
    root.operator.credential_quota = 1
    root.operator.save()
    create(root, "only")
    html = root_client.get("/security/credentials/").content.decode()
    assert 'aria-disabled="true"' in html
    assert "ask the administrator" in html


# --- register ---------------------------------------------------------------------------


def test_it_shows_the_register_dialog(root_client, root):
    html = root_client.get("/security/credentials/new", **HX).content.decode()
    assert "<dialog" in html and 'name="type"' in html
    assert "Choose a type to see its fields" in html


def test_it_swaps_in_the_fields_of_the_chosen_type(root_client, root):
    html = root_client.get("/security/credentials/fields?type=x509", **HX).content.decode()
    assert 'name="c__cert"' in html and 'name="c__key"' in html and 'name="c__ca"' in html
    assert "<dialog" not in html


def test_it_swaps_in_nothing_for_an_unknown_type(root_client, root):
    html = root_client.get("/security/credentials/fields?type=nope", **HX).content.decode()
    assert "c__" not in html


def test_it_registers_a_set_through_the_dialog(root_client, root):
    response = post_create(root_client)
    assert response.status_code == 204
    assert "credentialsChanged" in response["HX-Trigger"]
    assert CredentialSet.objects.get(operator=root.operator, credentials_id="aws-prod")


def test_it_registers_a_set_without_javascript(root_client, root):
    response = post_create(root_client, htmx=False)
    assert response.status_code == 302
    assert CredentialSet.objects.filter(credentials_id="aws-prod").exists()


def test_it_shows_the_chosen_types_fields_without_javascript(root_client, root):
    response = root_client.post(
        "/security/credentials/new", {"credentials_id": "p", "type": "psk", "choose_type": "1"}
    )
    assert response.status_code == 200
    assert 'name="c__key"' in response.content.decode()
    assert not CredentialSet.objects.exists()


def test_it_shows_errors_by_each_field_and_stores_nothing(root_client, root):
    response = root_client.post(
        "/security/credentials/new",
        {"credentials_id": "aws", "type": "aws-credentials", "c__accessKeyId": "AKIA"},
        **HX,
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Secret access key is required." in html
    assert not CredentialSet.objects.exists()


def test_it_refuses_a_duplicate_id_in_the_dialog(root_client, root):
    create(root, "aws-prod")
    response = post_create(root_client)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_it_refuses_a_mismatched_key_by_the_key_field(root_client, root):
    cert, _ = make_cert()
    _, other = make_cert()
    response = root_client.post(
        "/security/credentials/new",
        {"credentials_id": "x", "type": "x509", "c__cert": cert, "c__key": other},
        **HX,
    )
    assert response.status_code == 400
    assert "does not match the certificate" in response.content.decode()
    assert not CredentialSet.objects.exists()


def test_it_does_not_echo_a_secret_after_an_error(canary, root_client, root):
    response = root_client.post(
        "/security/credentials/new",
        {
            "credentials_id": "bad id!",
            "type": "aws-credentials",
            "c__accessKeyId": "AKIA",
            "c__secretAccessKey": canary.plant("aws"),
        },
        **HX,
    )
    assert response.status_code == 400
    assert not CredentialSet.objects.exists()
    canary.assert_nowhere(revisit=root)


def test_it_refuses_registration_at_the_limit_in_the_dialog(root_client, root):
    root.operator.credential_quota = 1
    root.operator.save()
    create(root, "only")
    response = post_create(root_client)
    assert response.status_code == 400
    assert "ask the administrator" in response.content.decode()
    assert credentials.count_for(root.operator) == 1


# --- update -----------------------------------------------------------------------------


def test_it_never_fills_secret_fields_from_storage(root_client, root):
    create(root, "aws", "aws-credentials", {"accessKeyId": "AKIA-KEEP", "secretAccessKey": "S"})
    html = root_client.get("/security/credentials/aws/update", **HX).content.decode()
    assert "Leave empty to keep the current value." in html
    assert "AKIA-KEEP" not in html
    assert 'name="c__secretAccessKey"' in html


def test_it_updates_description_and_keeps_empty_fields(root_client, root):
    create(root, "aws", "aws-credentials", {"accessKeyId": "AKIA1", "secretAccessKey": "S1"})
    response = root_client.post(
        "/security/credentials/aws/update",
        {"description": "prod account", "c__accessKeyId": "", "c__secretAccessKey": "S2"},
        **HX,
    )
    assert response.status_code == 204
    cs = CredentialSet.objects.get(credentials_id="aws")
    assert cs.description == "prod account"
    assert credentials.use_credential_set(root.operator, "aws") == {
        "accessKeyId": "AKIA1",
        "secretAccessKey": "S2",
    }


@pytest.fixture
def unreadable_aws(root, settings):
    """An aws-credentials set whose master key (test1) has been retired."""
    from tests.security.test_crypto import key_entry

    create(root, "aws", "aws-credentials", {"accessKeyId": "AKIA-OLD", "secretAccessKey": "S-OLD"})
    settings.LATCHKEY_MASTER_KEYS = key_entry("k2")
    return CredentialSet.objects.get(credentials_id="aws")


def test_it_overwrites_an_unreadable_set_given_every_field(root_client, root, unreadable_aws):
    data = {"description": "", "c__accessKeyId": "AKIA-NEW", "c__secretAccessKey": "S-NEW"}
    response = root_client.post("/security/credentials/aws/update", data, **HX)
    assert response.status_code == 204
    unreadable_aws.refresh_from_db()
    assert unreadable_aws.master_key_id == "k2"
    assert credentials.use_credential_set(root.operator, "aws") == {
        "accessKeyId": "AKIA-NEW",
        "secretAccessKey": "S-NEW",
    }


def test_it_overwrites_a_damaged_set_given_every_field(root_client, root):
    create(root, "p")
    cs = CredentialSet.objects.get(credentials_id="p")
    blob = bytearray(cs.ciphertext)
    blob[-1] ^= 1
    CredentialSet.objects.filter(pk=cs.pk).update(ciphertext=bytes(blob))
    data = {"description": "", "c__key": "replacement-psk-1"}
    assert root_client.post("/security/credentials/p/update", data, **HX).status_code == 204
    assert credentials.use_credential_set(root.operator, "p") == {"key": "replacement-psk-1"}


def test_it_says_why_a_partial_update_of_an_unreadable_set_fails(root_client, root, unreadable_aws):
    data = {"description": "", "c__accessKeyId": "", "c__secretAccessKey": "S-NEW"}
    response = root_client.post("/security/credentials/aws/update", data, **HX)
    assert response.status_code == 400
    assert "Enter every field of its type to replace it" in response.content.decode()
    assert CredentialSet.objects.get(credentials_id="aws").master_key_id == "test1"


def test_it_explains_an_unreadable_set_in_the_update_dialog(root_client, root, unreadable_aws):
    html = root_client.get("/security/credentials/aws/update", **HX).content.decode()
    assert "data-unreadable" in html
    assert "Leave empty to keep the current value." not in html
    assert "test1" not in html  # the master key's ID is not the tenant's business


def test_it_changes_only_the_description_of_an_unreadable_set(root_client, root, unreadable_aws):
    data = {"description": "retired", "c__accessKeyId": "", "c__secretAccessKey": ""}
    assert root_client.post("/security/credentials/aws/update", data, **HX).status_code == 204
    assert CredentialSet.objects.get(credentials_id="aws").description == "retired"


def test_it_shows_update_errors_by_the_field(root_client, root):
    create(root, "p")
    response = root_client.post(
        "/security/credentials/p/update", {"description": "", "c__key": "short"}, **HX
    )
    assert response.status_code == 400
    assert "Pre-shared key is too short" in response.content.decode()


# --- delete -----------------------------------------------------------------------------


def test_it_confirms_naming_the_set(root_client, root):
    create(root, "to-go")
    html = root_client.get("/security/credentials/to-go/delete", **HX).content.decode()
    assert "Delete the credential set to-go?" in html


def test_it_deletes_after_confirmation(root_client, root):
    create(root, "to-go")
    response = root_client.post("/security/credentials/to-go/delete", **HX)
    assert response.status_code == 204
    assert not CredentialSet.objects.filter(credentials_id="to-go").exists()


def test_it_refuses_deletion_while_groups_use_it_listing_them(root_client, root):
    cs = create(root, "used")
    for name in ("alpha-group", "beta-group"):
        group = Group.objects.create(operator=root.operator, name=name)
        GroupServiceConfig.objects.create(
            group=group, service="beam", destination_url="https://b.example", credential_set=cs
        )
    response = root_client.post("/security/credentials/used/delete", **HX)
    assert response.status_code == 409
    html = response.content.decode()
    assert "alpha-group" in html and "beta-group" in html
    assert CredentialSet.objects.filter(pk=cs.pk).exists()


@pytest.mark.parametrize("path", ["update", "delete"])
def test_it_answers_404_for_a_missing_set(root_client, root, path):
    assert root_client.get(f"/security/credentials/nope/{path}").status_code == 404


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/security/credentials/new", "Register a credential set"),
        ("/security/credentials/p/update", "Update p"),
        ("/security/credentials/p/delete", "Delete the credential set p?"),
    ],
)
def test_it_renders_each_dialog_as_a_full_page(root_client, root, path, text):
    create(root, "p")
    response = root_client.get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and text in html


def test_it_deletes_without_javascript(root_client, root):
    create(root, "p")
    response = root_client.post("/security/credentials/p/delete")
    assert response.status_code == 302
    assert not CredentialSet.objects.exists()
