"""The permission matrix: every route by every persona, against an independent oracle.

What each route must require comes from tests/operations_table.py (kept by hand against
soracom-api.md), never from the route's own decorator, so that a destructive view
authorized under a read operation fails here. For every console action and API operation:

- the table covers the route (a route added without an entry fails);
- a SAM user allowed ONLY the table's operations is not refused (root-only ones excepted);
- a SAM user allowed "*" with an explicit deny of the table's operation gets 403, and the
  database (every tenant table, work audit entries included) is unchanged;
- root is not refused; a SAM user with nothing is refused; one allowed "*" only where
  `pathVariable('user_name') == samUserName` is allowed on itself and refused elsewhere;
- another operator's REAL objects (its users, roles, AuthKeys, credential sets, groups,
  and its operator ID) answer 404 exactly as a missing object does, and stay unchanged.
"""

import json
import re

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import apisessions, policy, roles
from accounts.models import Operator, Principal
from security import authkeys, credentials, groups, support
from tests import dbstate
from tests.operations_table import (
    ALWAYS_ALLOWED_OPERATIONS,
    API_OPERATIONS,
    CONSOLE_ACTIONS,
    ROOT_ONLY_OPERATIONS,
)
from tests.routes import Route, authorized_routes, contract_path

EVERYTHING = {"effect": "allow", "api": "*"}
SELF_ONLY = {
    "effect": "allow",
    "api": "*",
    "condition": "pathVariable('user_name') == samUserName",
}
EMPTY = '{"statements":[]}'
LOGOUT_ONLY = '{"statements":[{"effect":"allow","api":"Auth:logout"}]}'
TARGET_PASSWORD = "Target-Password-1234"
NEW_PASSWORD = "A-long-enough-Passw0rd"
PSK = "0123456789abcdef"


def required(route: Route) -> tuple[str, ...]:
    """Return the operations the oracle says `route` must require (KeyError: no entry)."""
    if route.kind == "api":
        return (API_OPERATIONS[(route.method, contract_path(route))],)
    return CONSOLE_ACTIONS[route.route].requires


def _table_ok(route: Route) -> bool:
    try:
        required(route)
    except KeyError:
        return False
    return True


ROUTES = [r for r in authorized_routes() if _table_ok(r)]


# The table covers exactly the routes that exist --------------------------------------------


def test_it_has_a_table_entry_for_every_route():
    missing = [r.label for r in authorized_routes() if not _table_ok(r)]
    assert not missing, "add these to tests/operations_table.py:\n" + "\n".join(missing)


def test_it_has_no_table_entry_for_a_route_that_does_not_exist():
    api = {(r.method, contract_path(r)) for r in authorized_routes() if r.kind == "api"}
    console = {r.route for r in authorized_routes() if r.kind == "console"}
    assert set(API_OPERATIONS) - api == set()
    assert set(CONSOLE_ACTIONS) - console == set()


def test_it_gives_a_reason_for_every_console_action_without_an_api_twin():
    assert [path for path, a in CONSOLE_ACTIONS.items() if a.twin is None and not a.reason] == []


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_it_names_the_tables_operation_on_the_route(route):
    # A quick, readable failure; the behaviour below is what proves the decision.
    names = getattr(route.callback, "api_names", (route.api_name,))
    assert tuple(names) == required(route)


# The world: two operators with real objects -------------------------------------------------


def _doc(*statements: dict) -> str:
    return json.dumps({"statements": list(statements)})


def _populate(operator: Operator, prefix: str) -> dict:
    """Create a root, users, a role attached and one not, keys, a set and a group."""
    root = Principal.objects.create_root(operator, f"root@{prefix}.example", "root-Password-1234")
    target = Principal.objects.create_sam_user(operator, f"{prefix}target", "a user")
    target.set_password(TARGET_PASSWORD)
    target.inline_permission = LOGOUT_ONLY
    target.save()
    robot = Principal.objects.create_sam_user(operator, f"{prefix}robot", "no password")
    subject_role = roles.create_role(None, root, f"{prefix}role", EMPTY, "a role")
    attached = roles.create_role(None, root, f"{prefix}attached", EMPTY)
    roles.attach_role(None, root, target, attached)
    target_key, _ = authkeys.generate(None, root, target)
    root_key, _ = authkeys.generate(None, root, root)
    apisessions.create_session(target, timeout=600)
    credentials.create_credential_set(None, root, f"{prefix}set", "psk", "a set", {"key": PSK})
    groups.create_group(None, root, f"{prefix}group", {})
    roles.set_default_permissions(None, root, LOGOUT_ONLY)
    support.grant(None, root, support.GRANT_HOURS[0])
    return {
        "operator": operator,
        "root": root,
        "values": {
            "operator_id": operator.id,
            "user_name": target.user_name,
            "robot": robot.user_name,
            "role_id": subject_role.role_id,
            "attached_role": attached.role_id,
            "user_key": target_key.key_id,
            "root_key": root_key.key_id,
            "credentials_id": f"{prefix}set",
            "group_name": f"{prefix}group",
        },
    }


@pytest.fixture
def world(db):
    policy.clear_cache()
    cache.clear()
    home = _populate(Operator.create(), "")
    other = _populate(Operator.create(), "foreign-")
    people = {
        name: Principal.objects.create_sam_user(home["operator"], name)
        for name in ("nothing", "only", "deny", "selfie")
    }
    return {"home": home, "other": other, "people": people}


def _grant(world, persona: str, *statements: dict) -> Principal:
    principal = world["people"][persona]
    roles.set_inline_permission(None, world["home"]["root"], principal, _doc(*statements))
    return principal


# Requests -----------------------------------------------------------------------------------

# Form data for console POSTs and bodies for API calls that do real work when allowed.
CONSOLE_FORMS = {
    "security/users/new": {"user_name": "newcomer"},
    "security/users/<str:user_name>/update": {"description": "changed"},
    "security/users/<str:user_name>/password": {
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    },
    "security/users/<str:user_name>/password/change": {
        "current_password": TARGET_PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    },
    "security/roles/new": {"role_id": "new-role", "permission": EMPTY, "description": ""},
    "security/roles/<str:role_id>/update": {"permission": LOGOUT_ONLY, "description": "new"},
    "security/default-permissions/update": {"permission": EMPTY},
    "security/users/<str:user_name>/permissions/update": {"permission": EMPTY},
    "security/users/<str:user_name>/roles/attach": {"role": "role"},
    "security/credentials/new": {"credentials_id": "new-set", "type": "psk", "c__key": PSK},
    "security/credentials/<str:credentials_id>/update": {"description": "changed"},
    "security/groups/new": {"name": "new-group"},
    "security/groups/<str:group_name>/update": {"beam_url": "https://example.com/in"},
    "security/support/grant": {"hours": "24"},
}
API_BODIES = {
    "User:createUser": {"description": "new"},
    "User:updateUser": {"description": "changed"},
    "User:createUserPassword": {"password": NEW_PASSWORD},
    "User:updateUserPassword": {"currentPassword": TARGET_PASSWORD, "newPassword": NEW_PASSWORD},
    "Operator:updateOperatorPassword": {
        "currentPassword": "root-Password-1234",
        "newPassword": NEW_PASSWORD,
    },
    "Role:createRole": {"permission": EMPTY},
    "Role:updateRole": {"permission": LOGOUT_ONLY},
    "Role:attachRole": {"roleId": "role"},
    "User:updateUserPermission": {"permission": EMPTY},
    "User:updateDefaultPermissions": {"permissions": EMPTY},
    "Credential:createCredential": {"type": "psk", "credentials": {"key": PSK}},
    "Credential:updateCredential": {"description": "changed"},
}
# Operations on a user that must not have a password yet, or on a role that is attached.
ON_ROBOT = {"User:createUserPassword"}
ON_ATTACHED_ROLE = {"Role:detachRole"}
# Creates name a new object in the caller's own operator: no other operator's object is
# involved, so they have no outsider case beyond another operator's ID.
CREATES_BY_NAME = {"User:createUser", "Role:createRole", "Credential:createCredential"}


def _path_values(route: Route, values: dict) -> dict[str, str]:
    ops = set(required(route))
    found = {
        "operator_id": values["operator_id"],
        "user_name": values["robot"] if ops & ON_ROBOT else values["user_name"],
        "role_id": values["attached_role"] if ops & ON_ATTACHED_ROLE else values["role_id"],
        "auth_key_id": values["user_key"] if "user_name" in route.params else values["root_key"],
        "credentials_id": values["credentials_id"],
        "group_name": values["group_name"],
    }
    if route.route.endswith("reports/auditor-role") or "Role:createRole" in ops:
        found["role_id"] = "new-role"
    if "User:createUser" in ops:
        found["user_name"] = "newcomer"
    if "Credential:createCredential" in ops:
        found["credentials_id"] = "new-set"
    return found


def _api_headers(principal: Principal) -> dict:
    api_key, token = apisessions.create_session(principal, timeout=600)
    return {"HTTP_X_SORACOM_API_KEY": api_key, "HTTP_X_SORACOM_TOKEN": token}


def _console_client(principal: Principal) -> Client:
    client = Client()
    backend = (
        "accounts.backends.RootBackend"
        if principal.is_root
        else ("accounts.backends.SamUserBackend")
    )
    client.force_login(principal, backend=backend)
    return client


class Caller:
    """A signed-in principal ready to call routes (its sign-in is made before any snapshot)."""

    def __init__(self, principal: Principal) -> None:
        self.console = _console_client(principal)
        self.headers = _api_headers(principal)
        self.api = Client()

    def send(self, route: Route, path_values: dict) -> list:
        """Make the route's requests: the API call, or the console's GET and then its POST."""
        url = route.url(path_values)
        if route.kind == "api":
            body = API_BODIES.get(required(route)[0])
            extra = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
            return [getattr(self.api, route.method.lower())(url, **extra, **self.headers)]
        return [
            self.console.get(url),
            self.console.post(url, CONSOLE_FORMS.get(route.route, {})),
        ]


def _detail(route: Route, response) -> str:
    body = b"(streamed)" if response.streaming else response.content[:200]
    return f"{route.label}: {response.status_code} {body!r}"


def _decided(responses: list) -> list:
    # A console view that serves one method answers the other 405 before deciding anything.
    return [r for r in responses if r.status_code != 405]


def assert_refused(route: Route, responses: list, before: dict) -> None:
    decided = _decided(responses)
    assert decided, f"{route.label}: no request was decided"
    for response in decided:
        assert response.status_code == 403, _detail(route, response)
    assert dbstate.diff(before, dbstate.raw_state()) == {}, f"{route.label}: refused, yet changed"


def assert_not_refused(route: Route, responses: list) -> None:
    decided = _decided(responses)
    assert decided, f"{route.label}: no request was decided"
    for response in decided:
        detail = _detail(route, response)
        assert response.status_code < 500, detail
        assert response.status_code not in (401, 403), detail
        assert "/login/" not in response.get("Location", ""), detail


def run(route: Route, principal: Principal, path_values: dict) -> tuple[list, dict]:
    """Return the route's responses for `principal` and the database state before them."""
    caller = Caller(principal)
    before = dbstate.raw_state()
    return caller.send(route, path_values), before


def _cases(*kinds: str):
    return [pytest.param(r, id=r.label) for r in ROUTES if r.kind in kinds]


# (b) allowed only the table's operations: not refused ----------------------------------------


@pytest.mark.parametrize("route", _cases("api", "console"))
def test_it_allows_a_persona_holding_only_the_tables_operations(world, route):
    ops = required(route)
    principal = _grant(world, "only", {"effect": "allow", "api": list(ops)})
    responses, before = run(route, principal, _path_values(route, world["home"]["values"]))
    if set(ops) & ROOT_ONLY_OPERATIONS:
        assert_refused(route, responses, before)
    else:
        assert_not_refused(route, responses)


def _deny_cases():
    return [
        pytest.param(r, op, id=f"{r.label}-deny-{op}")
        for r in ROUTES
        for op in required(r)
        if op not in ALWAYS_ALLOWED_OPERATIONS
    ]


# (c) allowed "*" but denied the table's operation: 403, nothing changes ---------------------


@pytest.mark.parametrize(("route", "denied"), _deny_cases())
def test_it_refuses_a_persona_denied_the_tables_operation(world, route, denied):
    principal = _grant(world, "deny", EVERYTHING, {"effect": "deny", "api": denied})
    responses, before = run(route, principal, _path_values(route, world["home"]["values"]))
    assert_refused(route, responses, before)


# Root, nothing, self-only ---------------------------------------------------------------------


@pytest.mark.parametrize("route", _cases("api", "console"))
def test_it_allows_root(world, route):
    values = _path_values(route, world["home"]["values"])
    responses, _ = run(route, world["home"]["root"], values)
    assert_not_refused(route, responses)


@pytest.mark.parametrize("route", _cases("api", "console"))
def test_it_refuses_a_sam_user_with_nothing(world, route):
    principal = world["people"]["nothing"]
    responses, before = run(route, principal, _path_values(route, world["home"]["values"]))
    if set(required(route)) <= ALWAYS_ALLOWED_OPERATIONS:
        assert_not_refused(route, responses)
    else:
        assert_refused(route, responses, before)


@pytest.mark.parametrize("route", _cases("api", "console"))
def test_it_allows_a_self_only_persona_exactly_on_itself(world, route):
    principal = _grant(world, "selfie", SELF_ONLY)
    ops = set(required(route))
    values = {**_path_values(route, world["home"]["values"]), "user_name": "selfie"}
    responses, before = run(route, principal, values)
    if ops <= ALWAYS_ALLOWED_OPERATIONS:
        assert_not_refused(route, responses)
    elif "user_name" in route.params and not ops & ROOT_ONLY_OPERATIONS:
        assert_not_refused(route, responses)
    else:
        assert_refused(route, responses, before)


@pytest.mark.parametrize(
    "route", [pytest.param(r, id=r.label) for r in ROUTES if "user_name" in r.params]
)
def test_it_refuses_a_self_only_persona_on_another_user(world, route):
    principal = _grant(world, "selfie", SELF_ONLY)
    responses, before = run(route, principal, _path_values(route, world["home"]["values"]))
    assert_refused(route, responses, before)


# Another operator's real objects: 404 like a missing one, and untouched -----------------------

OBJECT_PARAMS = ("user_name", "role_id", "auth_key_id", "credentials_id", "group_name")
NOWHERE = {
    "user_name": "no-such-user",
    "role_id": "no-such-role",
    "auth_key_id": "keyId-" + "0" * 32,
    "credentials_id": "no-such-set",
    "group_name": "no-such-group",
}


def _outsider_cases():
    return [
        pytest.param(r, param, id=f"{r.label}-{param}")
        for r in ROUTES
        for param in OBJECT_PARAMS
        if param in r.params and not set(required(r)) & CREATES_BY_NAME
    ]


# Per-response randomness of a console page: the CSP nonce and the CSRF token.
_RANDOM = re.compile(rb'(nonce="|"X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*')


def _masked(response, name: str) -> bytes:
    if response.streaming:
        return b"(streamed)"
    return _RANDOM.sub(rb"\1", response.content.replace(name.encode(), b"?"))


@pytest.mark.parametrize(("route", "param"), _outsider_cases())
def test_it_answers_another_operators_object_like_a_missing_one(world, route, param):
    """Home's root names the OTHER operator's real object (its user, role, AuthKey ...)."""
    home = _path_values(route, world["home"]["values"])
    foreign_name = _path_values(route, world["other"]["values"])[param]
    caller = Caller(world["home"]["root"])
    before = dbstate.raw_state()
    foreign = caller.send(route, {**home, param: foreign_name})
    assert dbstate.diff(before, dbstate.raw_state()) == {}, f"{route.label}: something changed"
    missing = caller.send(route, {**home, param: NOWHERE[param]})
    for got, expected in zip(_decided(foreign), _decided(missing), strict=True):
        assert got.status_code == expected.status_code == 404, _detail(route, got)
        assert _masked(got, foreign_name) == _masked(expected, NOWHERE[param]), route.label


def _foreign_operator_cases():
    return [pytest.param(r, id=r.label) for r in ROUTES if "operator_id" in r.params]


@pytest.mark.parametrize("route", _foreign_operator_cases())
def test_it_answers_another_operators_id_like_a_missing_one(world, route):
    other = world["other"]["operator"].id
    values = {**_path_values(route, world["home"]["values"]), "operator_id": other}
    caller = Caller(world["home"]["root"])
    before = dbstate.raw_state()
    foreign = caller.send(route, values)
    assert dbstate.diff(before, dbstate.raw_state()) == {}, f"{route.label}: something changed"
    missing = caller.send(route, {**values, "operator_id": "OP9999999999"})
    for got, expected in zip(foreign, missing, strict=True):
        assert got.status_code == expected.status_code == 404, _detail(route, got)
        assert _masked(got, other) == _masked(expected, "OP9999999999"), route.label
