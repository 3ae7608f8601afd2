"""Every route is authorized through `console_action` or `operation`, or is an exemption
with its reason (tests/routes.py). A route added without either fails here."""

import pytest

from accounts.permissions import known_operations
from tests.routes import UNAUTHORIZED_ROUTES, all_routes, authorized_routes, is_exempt


def test_it_finds_console_views_and_api_operations():
    kinds = {r.kind for r in all_routes()}
    assert kinds == {"console", "api"}
    assert len(authorized_routes()) > 40


def test_it_names_an_api_operation_for_every_route():
    missing = [r.label for r in authorized_routes() if not r.api_name]
    assert not missing, "routes without @console_action/@operation:\n" + "\n".join(missing)


def test_it_knows_every_api_name_a_route_uses():
    names = [
        (r.label, name)
        for r in authorized_routes()
        for name in getattr(r.callback, "api_names", (r.api_name,))
    ]
    unknown = [label for label, name in names if name not in known_operations()]
    assert not unknown, unknown


def test_it_decides_every_console_action_with_an_http_method():
    # The method the API twin is called with (security.access.console_action): a console
    # action without one would let httpMethod() conditions see the browser's GET/POST.
    consoles = [r for r in authorized_routes() if r.kind == "console"]
    methods = {getattr(r.callback, "decision_method", None) for r in consoles}
    assert methods <= {"GET", "POST", "PUT", "DELETE"}


def test_it_keeps_the_exemptions_to_routes_that_exist():
    existing = {r.route for r in all_routes()}
    assert set(UNAUTHORIZED_ROUTES) <= existing


@pytest.mark.parametrize("route", [r for r in all_routes() if is_exempt(r)], ids=lambda r: r.label)
def test_it_exempts_only_routes_without_an_api_name(route):
    # An exempt route that names an API would be authorized twice or inconsistently.
    assert not getattr(route.callback, "api_name", None) or route.route == "v1/auth"


def test_it_answers_404_at_the_api_index(client):
    assert client.get("/v1/").status_code == 404
