"""A console action does exactly what its API twin does, never more (issue 9.1, the class).

For every console action of tests/operations_table.py that has an API twin, and for each
scenario that changes what the operation may do (a password exists or not, the key limit
is reached, a role is attached ...), the same actor makes the console request and then,
on the identical starting state (the first run is rolled back), the API call. Both must
leave the same database state and the same audit entries. The actors are a SAM user
holding ONLY the action's operation, and root. A console action without a twin is listed
in the table with its reason; a console route without a table entry fails the matrix.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.db import transaction

from accounts import apisessions, policy
from accounts.models import Operator, Principal
from security import authkeys, groups, mfa, reports, roles, switching
from security.models import AuditEntry, AuthKey, TotpDevice
from tests import dbstate
from tests.operations_table import CONSOLE_ACTIONS
from tests.routes import Route, all_routes, contract_path
from tests.tenant_world import (
    API_BODIES,
    CONSOLE_FORMS,
    NEW_PASSWORD,
    TARGET_PASSWORD,
    Caller,
    build_world,
    document,
    path_values,
)

KNOWN_PASSWORDS = (TARGET_PASSWORD, NEW_PASSWORD, "root-Password-1234")
WRONG = "Wrong-Password-000"


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Callable[[dict], None] = lambda world: None
    values: dict = field(default_factory=dict)  # path values, the same for both requests
    form: dict = field(default_factory=dict)  # the console form, over CONSOLE_FORMS
    body: dict | None = None  # the API body, instead of API_BODIES


def _home(world) -> dict:
    return world["home"]


def _second_user_key(world) -> None:
    home = _home(world)
    target = Principal.objects.get(operator=home["operator"], user_name="target")
    authkeys.generate(None, home["root"], target)


def _second_root_key(world) -> None:
    authkeys.generate(None, _home(world)["root"], _home(world)["root"])


def _world_key(world, user: bool):
    values = _home(world)["values"]
    return AuthKey.objects.get(key_id=values["user_key" if user else "root_key"])


def _deactivated(user: bool):
    def setup(world) -> None:
        authkeys.set_active(None, _home(world)["root"], _world_key(world, user), False)

    return setup


def _rolled(user: bool):
    def setup(world) -> None:
        key = _world_key(world, user)
        authkeys.roll(None, _home(world)["root"], key, delay=timedelta(hours=1))

    return setup


def _set_in_use(world) -> None:
    home = _home(world)
    group = groups.get_group(home["operator"].id, home["values"]["group_name"])
    configs = {"beam": ("https://example.com/in", home["values"]["credentials_id"])}
    groups.update_group(None, home["root"], group, configs)


def _quota_reached(world) -> None:
    Operator.objects.filter(pk=_home(world)["operator"].id).update(credential_quota=1)


def _auditor_exists(world) -> None:
    roles.create_role(None, _home(world)["root"], reports.AUDITOR_ROLE_ID, '{"statements":[]}')


def _trusting_user(world) -> None:
    """A user "nobody" of operator OP0000000000 (API_BODIES' switch target) trusting home."""
    home = _home(world)
    operator = Operator.objects.create(id="OP0000000000")
    other_root = Principal.objects.create_root(operator, "root@zero.example", "Zero-Pass-1234")
    user = Principal.objects.create_sam_user(operator, "nobody")
    srns = [apisessions.srn(home["root"]), apisessions.srn(world["people"]["only"])]
    policy_text = json.dumps({"statements": [{"effect": "allow", "principal": {"soracom": srns}}]})
    switching.set_trust_policy(None, other_root, user, policy_text)


def _trust_policy_set(world) -> None:
    home = _home(world)
    target = Principal.objects.get(operator=home["operator"], user_name="target")
    switching.set_trust_policy(None, home["root"], target, TRUSTS_ROBOT)


def _switched_in(world) -> None:
    _trust_policy_set(world)
    home = _home(world)
    target = Principal.objects.get(operator=home["operator"], user_name="target")
    robot = Principal.objects.get(operator=home["operator"], user_name="robot")
    apisessions.create_switched_session(target, robot, timeout=600)


def _root_enrolling(world) -> None:
    root = _home(world)["root"]
    mfa.enable(None, root, root, "Operator:enableMFA")


def _target_mfa_active(world) -> None:
    target = Principal.objects.get(operator=_home(world)["operator"], user_name="target")
    mfa.enable(None, _home(world)["root"], target, "User:enableUserMFA")
    TotpDevice.objects.filter(principal=target).update(status="ACTIVE")


READ = [Scenario("read")]
INVALID = "not a JSON document"
TRUSTS_ROBOT = json.dumps(
    {
        "statements": [
            {"effect": "allow", "principal": {"soracom": ["srn:soracom:OP0000000001::User:robot"]}}
        ]
    }
)
AUDITOR_BODY = {
    "permission": reports.auditor_permission_json(),
    "description": reports.AUDITOR_ROLE_DESCRIPTION,
}
S, U = "security/", "security/users/<name:user_name>/"

# Every console action that has an API twin -> the scenarios it is replayed in.
SCENARIOS: dict[str, list[Scenario]] = {
    S + "users/": READ,
    S + "users/new": [
        Scenario("a new name"),
        Scenario("a name in use", values={"user_name": "target"}, form={"user_name": "target"}),
    ],
    U: READ,
    U + "update": [Scenario("a description")],
    U + "delete": [Scenario("a user with a key, a role and a session")],
    U + "password": [
        Scenario("no password yet"),
        Scenario("a password already", values={"user_name": "target"}),
    ],
    U + "password/change": [
        Scenario("the right current password"),
        Scenario(
            "a wrong current password",
            form={"current_password": WRONG},
            body={"currentPassword": WRONG, "newPassword": NEW_PASSWORD},
        ),
        Scenario("no password", values={"user_name": "robot"}),
    ],
    U + "password/delete": [
        Scenario("a password"),
        Scenario("no password", values={"user_name": "robot"}),
    ],
    S + "authkeys/": READ,
    S + "authkeys/generate": [
        Scenario("one key"),
        Scenario("the key limit reached", setup=_second_root_key),
    ],
    S + "authkeys/<keyid:auth_key_id>/revoke": [Scenario("a live key")],
    S + "authkeys/<keyid:auth_key_id>/sources": [
        Scenario("a live key"),
        Scenario(
            "a bad network",
            form={"allowed_networks": "192.0.2.1/24"},
            body={"allowedSourceNetworks": ["192.0.2.1/24"]},
        ),
    ],
    S + "authkeys/<keyid:auth_key_id>/deactivate": [Scenario("a live key")],
    S + "authkeys/<keyid:auth_key_id>/activate": [
        Scenario("a deactivated key", setup=_deactivated(False)),
        Scenario("an active key"),
    ],
    S + "authkeys/<keyid:auth_key_id>/roll": [
        Scenario("a free slot"),
        Scenario("both slots used", setup=_second_root_key),
    ],
    S + "authkeys/<keyid:auth_key_id>/cancel-roll": [
        Scenario("a scheduled revocation", setup=_rolled(False)),
        Scenario("nothing scheduled"),
    ],
    U + "authentication": READ,
    U + "authkeys/generate": [
        Scenario("one key"),
        Scenario("the key limit reached", setup=_second_user_key),
    ],
    U + "authkeys/<keyid:auth_key_id>/revoke": [Scenario("a live key")],
    U + "authkeys/<keyid:auth_key_id>/sources": [Scenario("a live key")],
    U + "authkeys/<keyid:auth_key_id>/deactivate": [Scenario("a live key")],
    U + "authkeys/<keyid:auth_key_id>/activate": [
        Scenario("a deactivated key", setup=_deactivated(True))
    ],
    U + "authkeys/<keyid:auth_key_id>/roll": [
        Scenario("a free slot"),
        Scenario("both slots used", setup=_second_user_key),
    ],
    U + "authkeys/<keyid:auth_key_id>/cancel-roll": [
        Scenario("a scheduled revocation", setup=_rolled(True))
    ],
    S + "roles/": READ,
    S + "roles/new": [
        Scenario("a new role"),
        Scenario("a role ID in use", values={"role_id": "role"}, form={"role_id": "role"}),
    ],
    S + "roles/<name:role_id>/": READ,
    S + "roles/<name:role_id>/update": [
        Scenario("a document"),
        Scenario("an invalid document", form={"permission": INVALID}, body={"permission": INVALID}),
    ],
    S + "roles/<name:role_id>/users": READ,
    S + "roles/<name:role_id>/delete": [
        Scenario("a role nobody holds"),
        Scenario("a role still attached", values={"role_id": "attached"}),
    ],
    S + "reports/auditor-role": [
        Scenario("no auditor role", values={"role_id": "auditor"}, body=AUDITOR_BODY),
        Scenario(
            "an auditor role already",
            setup=_auditor_exists,
            values={"role_id": "auditor"},
            body=AUDITOR_BODY,
        ),
    ],
    S + "default-permissions/": READ,
    S + "default-permissions/update": [
        Scenario("a document"),
        Scenario(
            "an invalid document", form={"permission": INVALID}, body={"permissions": INVALID}
        ),
    ],
    S + "default-permissions/delete": [Scenario("default permissions set")],
    U + "permissions": READ,
    U + "permissions/update": [
        Scenario("a document"),
        Scenario("an invalid document", form={"permission": INVALID}, body={"permission": INVALID}),
    ],
    U + "permissions/delete": [Scenario("an inline permission")],
    U + "roles": READ,
    U + "roles/attach": [
        Scenario("a role not attached"),
        Scenario("a role attached already", form={"role": "attached"}, body={"roleId": "attached"}),
    ],
    U + "roles/<name:role_id>/detach": [
        Scenario("an attached role"),
        Scenario("a role not attached", values={"role_id": "role"}),
    ],
    S + "credentials/": READ,
    S + "credentials/new": [
        Scenario("a new set"),
        Scenario("an ID in use", values={"credentials_id": "set"}, form={"credentials_id": "set"}),
        Scenario("the quota reached", setup=_quota_reached),
    ],
    S + "credentials/<name:credentials_id>/update": [Scenario("a description")],
    S + "credentials/<name:credentials_id>/delete": [
        Scenario("a set no group uses"),
        Scenario("a set a group uses", setup=_set_in_use),
    ],
    U + "trust-policy": READ,
    U + "trust-policy/update": [
        Scenario(
            "a document naming a user",
            form={"trust_policy": TRUSTS_ROBOT},
            body={"trustPolicy": TRUSTS_ROBOT},
        ),
        Scenario(
            "an invalid document", form={"trust_policy": INVALID}, body={"trustPolicy": INVALID}
        ),
        Scenario("a live switched session", setup=_switched_in),
    ],
    U + "trust-policy/delete": [Scenario("a trust policy", setup=_trust_policy_set)],
    U + "switched-sessions": READ,
    U + "switched-sessions/end": [
        Scenario("a switched session", setup=_switched_in),
        Scenario("none"),
    ],
    S + "switch-user/": [
        Scenario("a user that trusts the caller", setup=_trusting_user),
        Scenario("nobody trusts the caller"),
    ],
    S + "audit/": READ,
    S + "audit/export.csv": READ,
    S + "audit/checkpoint.json": READ,
    S + "account/mfa/": READ,
    S + "account/mfa/enable": [Scenario("no MFA")],
    S + "account/mfa/verify": [
        Scenario("no enrolment"),
        Scenario("a wrong code", setup=_root_enrolling),
    ],
    S + "account/mfa/revoke": [Scenario("no MFA to remove")],
    U + "mfa": READ,
    U + "mfa/enable": [Scenario("no MFA"), Scenario("MFA active", setup=_target_mfa_active)],
    U + "mfa/verify": [Scenario("no enrolment")],
    U + "mfa/revoke": [Scenario("no MFA"), Scenario("MFA active", setup=_target_mfa_active)],
}


def _routes() -> dict[str, Route]:
    return {r.route: r for r in all_routes() if r.kind == "console"}


def _api_route(console: str) -> Route:
    method, path = CONSOLE_ACTIONS[console].twin
    return next(
        r
        for r in all_routes()
        if r.kind == "api" and r.method == method and contract_path(r) == path
    )


# Creates whose new object's name the API takes in the path and the console in its form.
NAMED_IN_THE_FORM = {
    S + "users/new": {"user_name"},
    S + "roles/new": {"role_id"},
    S + "reports/auditor-role": {"role_id"},
    S + "credentials/new": {"credentials_id"},
}
TWINNED = [path for path, action in CONSOLE_ACTIONS.items() if action.twin is not None]


def test_it_has_scenarios_for_every_console_action_with_an_api_twin():
    assert set(SCENARIOS) == set(TWINNED)


@pytest.mark.parametrize("path", TWINNED)
def test_it_decides_each_console_action_as_its_api_twin(path):
    """The twin's HTTP method and path variables are what the console's decision sees."""
    console, api = _routes()[path], _api_route(path)
    assert console.callback.decision_method == api.method
    sees = set(console.params) | ({"operator_id"} if "operator_id" in api.params else set())
    assert sees == set(api.params) - NAMED_IN_THE_FORM.get(path, set())


def _cases():
    return [
        pytest.param(path, scenario, actor, id=f"{path}-{scenario.name}-{actor}")
        for path in TWINNED
        for scenario in SCENARIOS.get(path, [])
        for actor in ("only", "root")
    ]


def _replay(send: Callable[[], object]) -> tuple[object, dict]:
    """Return the response and the resulting state, then roll the database back."""
    last = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    point = transaction.savepoint_create()
    response = send()
    state = dbstate.meaning(KNOWN_PASSWORDS, last)
    transaction.savepoint_rollback(point)
    policy.clear_cache()
    return response, state


@pytest.mark.parametrize(("path", "scenario", "actor"), _cases())
def test_it_does_in_the_console_what_the_api_does(db, path, scenario, actor):
    world = build_world()
    scenario.setup(world)
    console, api = _routes()[path], _api_route(path)
    operations = CONSOLE_ACTIONS[path].requires
    if actor == "root":
        principal = world["home"]["root"]
    else:
        principal = world["people"]["only"]
        allow = document({"effect": "allow", "api": list(operations)})
        roles.set_inline_permission(None, world["home"]["root"], principal, allow)
    caller = Caller(principal)
    values = {**path_values(console, world["home"]["values"]), **scenario.values}
    form = {**CONSOLE_FORMS.get(path, {}), **scenario.form}
    body = scenario.body if scenario.body is not None else API_BODIES.get(operations[0])

    def in_console():
        url = console.url(values)
        response = caller.console.post(url, form)
        return caller.console.get(url) if response.status_code == 405 else response

    def in_api():
        extra = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
        return getattr(caller.api, api.method.lower())(api.url(values), **extra, **caller.headers)

    console_response, by_console = _replay(in_console)
    api_response, by_api = _replay(in_api)
    detail = f"console {console_response.status_code}, API {api_response.status_code}"
    assert by_console == by_api, detail
