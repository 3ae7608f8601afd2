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

import re

import pytest

from accounts.models import Principal
from security import roles
from tests import dbstate
from tests.operations_table import (
    ALWAYS_ALLOWED_OPERATIONS,
    API_OPERATIONS,
    CONSOLE_ACTIONS,
    ROOT_ONLY_OPERATIONS,
)
from tests.routes import Route, authorized_routes, contract_path
from tests.tenant_world import (
    CREATES_BY_NAME,
    EVERYTHING,
    SELF_ONLY,
    Caller,
    build_world,
    document,
    path_values,
    required,
)


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


@pytest.fixture
def world(db):
    return build_world()


def _grant(world, persona: str, *statements: dict) -> Principal:
    principal = world["people"][persona]
    roles.set_inline_permission(None, world["home"]["root"], principal, document(*statements))
    return principal


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
    responses, before = run(route, principal, path_values(route, world["home"]["values"]))
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
    responses, before = run(route, principal, path_values(route, world["home"]["values"]))
    assert_refused(route, responses, before)


# Root, nothing, self-only ---------------------------------------------------------------------


@pytest.mark.parametrize("route", _cases("api", "console"))
def test_it_allows_root(world, route):
    values = path_values(route, world["home"]["values"])
    responses, _ = run(route, world["home"]["root"], values)
    assert_not_refused(route, responses)


@pytest.mark.parametrize("route", _cases("api", "console"))
def test_it_refuses_a_sam_user_with_nothing(world, route):
    principal = world["people"]["nothing"]
    responses, before = run(route, principal, path_values(route, world["home"]["values"]))
    if set(required(route)) <= ALWAYS_ALLOWED_OPERATIONS:
        assert_not_refused(route, responses)
    else:
        assert_refused(route, responses, before)


@pytest.mark.parametrize("route", _cases("api", "console"))
def test_it_allows_a_self_only_persona_exactly_on_itself(world, route):
    principal = _grant(world, "selfie", SELF_ONLY)
    ops = set(required(route))
    values = {**path_values(route, world["home"]["values"]), "user_name": "selfie"}
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
    responses, before = run(route, principal, path_values(route, world["home"]["values"]))
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
    home = path_values(route, world["home"]["values"])
    foreign_name = path_values(route, world["other"]["values"])[param]
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
    values = {**path_values(route, world["home"]["values"]), "operator_id": other}
    caller = Caller(world["home"]["root"])
    before = dbstate.raw_state()
    foreign = caller.send(route, values)
    assert dbstate.diff(before, dbstate.raw_state()) == {}, f"{route.label}: something changed"
    missing = caller.send(route, {**values, "operator_id": "OP9999999999"})
    for got, expected in zip(foreign, missing, strict=True):
        assert got.status_code == expected.status_code == 404, _detail(route, got)
        assert _masked(got, other) == _masked(expected, "OP9999999999"), route.label
