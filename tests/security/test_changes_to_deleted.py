"""A change to a user or role that another request has just deleted answers 404, not 500.

The view found the object; a concurrent request deleted it before the change was written.
Saving then updated no row ("did not affect any rows"): a 500. The services now hold the
row first and report the object missing (accounts/rowlocks.py). Simulated here by changing
an object loaded before its deletion, through the service and through the API.
"""

from unittest import mock

import pytest
from django.http import Http404

from accounts.models import Principal, Role
from security import roles, users
from tests.api.harness import call, error_of

EMPTY = '{"statements":[]}'


@pytest.fixture
def stale_alice(alice) -> Principal:
    stale = Principal.objects.get(pk=alice.pk)
    Principal.objects.filter(pk=alice.pk).delete()
    return stale


@pytest.fixture
def stale_role(root) -> Role:
    role = roles.create_role(None, root, "reader", EMPTY)
    Role.objects.filter(pk=role.pk).delete()
    return role


@pytest.mark.parametrize(
    "change",
    [
        lambda root, user: users.update_description(None, root, user, "new"),
        lambda root, user: users.set_password(None, root, user, "a-New-Password-1", "api"),
        lambda root, user: users.create_password(None, root, user, "a-New-Password-1"),
        lambda root, user: users.remove_password(None, root, user),
        lambda root, user: users.delete_user(None, root, user),
        lambda root, user: roles.set_inline_permission(None, root, user, EMPTY),
        lambda root, user: roles.delete_inline_permission(None, root, user),
    ],
    ids=[
        "description",
        "password",
        "first-password",
        "no-password",
        "delete",
        "inline",
        "no-inline",
    ],
)
def test_it_reports_a_deleted_user_as_missing(root, stale_alice, change):
    with pytest.raises(Http404):
        change(root, stale_alice)
    assert not Principal.objects.filter(user_name="alice").exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda root, role: roles.update_role(None, root, role, EMPTY, "new"),
        lambda root, role: roles.delete_role(None, root, role),
    ],
    ids=["update", "delete"],
)
def test_it_reports_a_deleted_role_as_missing(root, stale_role, change):
    with pytest.raises(Http404):
        change(root, stale_role)
    assert not Role.objects.exists()


def test_it_answers_404_through_the_api(root, root_api, stale_alice):
    with mock.patch("security.api_users.sam_user_or_404", return_value=stale_alice):
        response = call(
            "PUT", f"/v1/operators/{root.operator_id}/users/alice", root_api, {"description": "x"}
        )
    assert response.status_code == 404
    assert error_of(response)["code"] == "LKY0404"


def test_it_answers_404_in_the_console(root, root_client, stale_alice):
    with mock.patch("security.views_users.sam_user_or_404", return_value=stale_alice):
        response = root_client.post("/security/users/alice/update", {"description": "x"})
    assert response.status_code == 404
