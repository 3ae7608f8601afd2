"""Search (and the Users tab's sorting) of the Users, Roles and Credentials lists.

Server-side and paginated; the number of statements a list costs does not grow with the
number of rows (measured at two sizes).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Principal
from security import authkeys, credentials, roles, users, views_credentials, views_users
from tests.security.credential_samples import sample_fields
from tests.statements import count_statements

pytestmark = pytest.mark.django_db


def _names(response, attr: str = "user_name") -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [getattr(u, attr) for u in response.context["page"].object_list]


@pytest.fixture
def people(operator):
    now = timezone.now()
    made = {}
    for n, (name, description) in enumerate(
        [("carol", "Billing"), ("dave", "ops on call"), ("erin", "CI runner"), ("ops-bot", "")]
    ):
        user = Principal.objects.create_sam_user(operator, name, description)
        Principal.objects.filter(pk=user.pk).update(created_at=now - timedelta(days=10 - n))
        made[name] = user
    return made


# Users ----------------------------------------------------------------------------------


def test_users_search_matches_the_name_or_the_description(root_client, people):
    assert _names(root_client.get("/security/users/", {"q": "OPS"})) == ["dave", "ops-bot"]


def test_users_search_is_scoped_to_the_operator(outsider_client, people):
    assert _names(outsider_client.get("/security/users/", {"q": "carol"})) == []


def test_users_sort_by_name_descending(root_client, people):
    found = _names(root_client.get("/security/users/", {"sort": "-name"}))
    assert found == ["ops-bot", "erin", "dave", "carol"]


def test_users_sort_by_creation_newest_first(root_client, people):
    found = _names(root_client.get("/security/users/", {"sort": "-created"}))
    assert found == ["ops-bot", "erin", "dave", "carol"]
    found = _names(root_client.get("/security/users/", {"sort": "created"}))
    assert found == ["carol", "dave", "erin", "ops-bot"]


def test_users_an_unknown_sort_falls_back_to_the_name(root_client, people):
    found = _names(root_client.get("/security/users/", {"sort": "password_hash"}))
    assert found == ["carol", "dave", "erin", "ops-bot"]


def test_users_search_and_sort_survive_paging(root_client, operator):
    for n in range(30):
        Principal.objects.create_sam_user(operator, f"svc-{n:02d}", "")
    Principal.objects.create_sam_user(operator, "zed", "")
    response = root_client.get("/security/users/", {"q": "svc", "sort": "-name"})
    assert _names(response)[0] == "svc-29"
    assert response.context["page"].paginator.count == 30
    body = response.content.decode()
    assert "?q=svc&amp;sort=-name&amp;page=2" in body
    second = root_client.get("/security/users/", {"q": "svc", "sort": "-name", "page": 2})
    assert _names(second) == ["svc-04", "svc-03", "svc-02", "svc-01", "svc-00"]


def test_users_search_refuses_a_pasted_secret_without_echoing_it(root_client, root, people):
    _, secret = authkeys.generate(None, root, root)
    response = root_client.get("/security/users/", {"q": secret})
    assert response.status_code == 400
    assert secret not in response.content.decode()
    assert len(response.context["page"].object_list) == 4  # an invalid search filters nothing


def test_users_search_refuses_more_than_its_cap(root_client, people):
    assert root_client.get("/security/users/", {"q": "x" * 101}).status_code == 400


def test_users_search_renders_the_list_alone_for_htmx(root_client, people):
    response = root_client.get(
        "/security/users/", {"q": "erin"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="user-list"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="user-list"')
    assert "1 match for “erin”" in body


def _statements(client, path: str, params: dict) -> int:
    with count_statements() as counted:
        response = client.get(path, params)
    assert response.status_code == 200
    return counted.total


def test_users_list_costs_the_same_statements_for_few_and_many_users(root_client, operator):
    for n in range(2):
        Principal.objects.create_sam_user(operator, f"a{n}", "x")
    _statements(
        root_client, "/security/users/", {"q": "a", "sort": "-created"}
    )  # the first request's one-off work is not per row
    few = _statements(root_client, "/security/users/", {"q": "a", "sort": "-created"})
    for n in range(2, 40):
        Principal.objects.create_sam_user(operator, f"a{n}", "x")
    assert _statements(root_client, "/security/users/", {"q": "a", "sort": "-created"}) == few


# Roles ----------------------------------------------------------------------------------

EMPTY = '{"statements":[]}'


@pytest.fixture
def some_roles(root):
    roles.create_role(None, root, "reader", EMPTY, "Reads everything")
    roles.create_role(None, root, "writer", EMPTY, "Writes users")
    roles.create_role(None, root, "billing", EMPTY, "Invoices")


def test_roles_search_matches_the_id_or_the_description(root_client, some_roles):
    response = root_client.get("/security/roles/", {"q": "EVERY"})
    assert [r.role_id for r, _ in response.context["roles"]] == ["reader"]
    response = root_client.get("/security/roles/", {"q": "er"})
    assert [r.role_id for r, _ in response.context["roles"]] == ["reader", "writer"]


def test_roles_list_is_paginated(root_client, root):
    for n in range(30):
        roles.create_role(None, root, f"r{n:02d}", EMPTY)
    first = root_client.get("/security/roles/")
    second = root_client.get("/security/roles/", {"page": 2})
    assert len(first.context["roles"]) == 25
    assert [r.role_id for r, _ in second.context["roles"]] == [f"r{n}" for n in range(25, 30)]


def test_roles_search_refuses_a_pasted_secret(root_client, root, some_roles):
    _, secret = authkeys.generate(None, root, root)
    response = root_client.get("/security/roles/", {"q": secret})
    assert response.status_code == 400
    assert secret not in response.content.decode()


def test_roles_list_costs_the_same_statements_for_few_and_many_roles(root_client, root, alice):
    roles.attach_role(None, root, alice, roles.create_role(None, root, "r0", EMPTY))
    _statements(
        root_client, "/security/roles/", {"q": "r"}
    )  # the first request's one-off work is not per row
    few = _statements(root_client, "/security/roles/", {"q": "r"})
    for n in range(1, 30):  # each role held by a user (a user holds at most 10 roles)
        holder = Principal.objects.create_sam_user(root.operator, f"holder-{n}")
        roles.attach_role(None, root, holder, roles.create_role(None, root, f"r{n}", EMPTY))
    # Attaching roles changed the permissions: the next request re-reads them once.
    _statements(root_client, "/security/roles/", {"q": "r"})
    assert _statements(root_client, "/security/roles/", {"q": "r"}) == few


# Credential sets ------------------------------------------------------------------------


def _set(root, credentials_id: str, kind: str = "psk", description: str = "") -> None:
    credentials.create_credential_set(
        None, root, credentials_id, kind, description, sample_fields(kind)
    )


def test_credentials_search_matches_id_type_or_description(root_client, root):
    _set(root, "beam-psk")
    _set(root, "aws-prod", "aws-credentials", "Production S3 uploads")
    _set(root, "other", "psk", "Funnel to AWS")
    response = root_client.get("/security/credentials/", {"q": "aws"})
    assert _names(response, "credentials_id") == ["aws-prod", "other"]
    response = root_client.get("/security/credentials/", {"q": "s3", "sort": "-id"})
    assert _names(response, "credentials_id") == ["aws-prod"]


def test_credentials_search_keeps_the_sort(root_client, root):
    for name in ("psk-a", "psk-b", "x"):
        _set(root, name)
    response = root_client.get("/security/credentials/", {"q": "psk-", "sort": "-id"})
    assert _names(response, "credentials_id") == ["psk-b", "psk-a"]
    assert '<option value="-id" selected>' in response.content.decode()


@pytest.mark.parametrize(
    ("choices", "sorts"),
    [
        (views_users.USER_SORT_CHOICES, users.USER_SORTS),
        (views_credentials.SORT_CHOICES, credentials.SORTS),
    ],
    ids=["users", "credentials"],
)
def test_the_small_screen_sort_control_offers_every_order_once(choices, sorts):
    values = [value for value, _ in choices]
    assert sorted(values) == sorted(sorts)


def test_users_sort_control_selects_the_current_order(root_client, people):
    body = root_client.get("/security/users/", {"sort": "-created"}).content.decode()
    assert '<select id="user-list-sort" name="sort" data-submit-on-change>' in body
    assert '<option value="-created" selected>' in body
    assert body.count(" selected>") == 1


def test_credentials_search_refuses_a_pasted_secret(root_client, root):
    _, secret = authkeys.generate(None, root, root)
    response = root_client.get("/security/credentials/", {"q": secret})
    assert response.status_code == 400
    assert secret not in response.content.decode()


def test_credentials_list_costs_the_same_statements_for_few_and_many_sets(root_client, root):
    _set(root, "s0")
    _statements(
        root_client, "/security/credentials/", {"q": "s"}
    )  # the first request's one-off work is not per row
    few = _statements(root_client, "/security/credentials/", {"q": "s"})
    for n in range(1, 30):
        _set(root, f"s{n}")
    assert _statements(root_client, "/security/credentials/", {"q": "s"}) == few
