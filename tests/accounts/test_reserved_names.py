"""Names the product uses for itself are not given to SAM users, and principals are told
apart by identity, never by name (issue 17 item 9)."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.identifiers import RESERVED_USER_NAMES, is_reserved_user_name, is_valid_name
from accounts.models import Principal
from security import authkeys, support
from security.users import RESERVED_NAMES
from tests.routes import all_routes

pytestmark = pytest.mark.django_db

RESERVED = ["root", "Root", "ROOT", "default_permissions", "DEFAULT_PERMISSIONS"]


# `users/default_permissions` is a route of its own in the API (tests/api/test_users_api.py).
@pytest.mark.parametrize("name", ["root", "Root", "ROOT"])
def test_it_refuses_a_reserved_name_in_the_api(root, root_api, name):
    response = Client().post(
        f"/v1/operators/{root.operator_id}/users/{name}",
        {"description": "x"},
        content_type="application/json",
        **root_api,
    )
    assert response.status_code == 400
    assert "reserved" in response.json()["message"]
    assert not Principal.objects.filter(kind="sam", user_name__iexact=name).exists()


@pytest.mark.parametrize("name", RESERVED)
def test_it_refuses_a_reserved_name_in_the_console(root_client, name):
    response = root_client.post("/security/users/new", {"user_name": name, "description": ""})
    assert response.status_code == 400
    assert b"is reserved" in response.content
    assert not Principal.objects.filter(kind="sam", user_name__iexact=name).exists()


@pytest.mark.parametrize("name", RESERVED)
def test_it_refuses_a_reserved_name_in_the_model_manager(operator, name):
    with pytest.raises(ValidationError):
        Principal.objects.create_sam_user(operator, name)


def test_it_keeps_one_list_for_console_and_api():
    assert RESERVED_NAMES is RESERVED_USER_NAMES


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _segments(route: str) -> list[str]:
    # The trailing slash counts: `security/users/new` (the create page) and
    # `security/users/<user_name>/` are different routes, and a user `new` is reachable.
    return route.lstrip("/").split("/")


def test_it_reserves_every_route_segment_where_a_user_name_stands():
    # A literal segment beside `<user_name>` in an otherwise identical route (e.g.
    # `users/default_permissions` beside `users/<user_name>`) would make a user of that name
    # unreachable: every such literal is reserved. Read from the URL configuration.
    routes = [_segments(r.route) for r in all_routes()]
    clashes = set()
    for segments in routes:
        for i, segment in enumerate(segments):
            if _PARAM.fullmatch(segment) is None or _PARAM.fullmatch(segment).group(1) != (
                "user_name"
            ):
                continue
            for other in routes:
                if len(other) != len(segments) or _PARAM.fullmatch(other[i]):
                    continue
                if all(a == b for j, (a, b) in enumerate(zip(segments, other)) if j != i):
                    clashes.add(other[i])
    assert "default_permissions" in clashes  # the walk sees the known one
    unreserved = {c for c in clashes if is_valid_name(c) and not is_reserved_user_name(c)}
    assert not unreserved


def test_it_reaches_a_user_whose_name_is_a_console_page(root_client, operator):
    Principal.objects.create_sam_user(operator, "new")
    response = root_client.get("/security/users/new/")
    assert response.status_code == 200
    assert response.context["subject"].user_name == "new"


# --- identity, not names -----------------------------------------------------------------


@pytest.fixture
def sam_named_root(operator) -> Principal:
    """A SAM user called `root` made before the name was reserved (existing data)."""
    return Principal.objects.create(
        operator=operator, kind="sam", user_name="root", handle=f"sam:{operator.pk}:root"
    )


def test_it_groups_keys_by_principal_on_the_staff_operator_page(
    helpdesk_client, root, sam_named_root, operator
):
    roots_key, _ = authkeys.generate(None, root, root)
    sams_key, _ = authkeys.generate(None, root, sam_named_root)
    support.grant(None, root, 1)
    response = helpdesk_client.get(f"/staff/operators/{operator.pk}/")
    rows = {
        row["principal"].pk: [k.key_id for k in row["keys"]] for row in response.context["rows"]
    }
    assert rows[root.pk] == [roots_key.key_id]
    assert rows[sam_named_root.pk] == [sams_key.key_id]


def test_it_names_a_sam_user_called_root_as_a_sam_user_in_a_lookup(
    helpdesk_client, root, sam_named_root
):
    key, _ = authkeys.generate(None, root, sam_named_root)
    support.grant(None, root, 1)
    response = helpdesk_client.post("/staff/authkeys/", {"key_id": key.key_id})
    holder = response.context["found"].holder
    assert (holder.holder_kind, holder.user_name) == ("sam", "root")
