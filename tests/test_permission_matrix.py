"""The permission matrix: every registered operation by every persona, in the API and the
console, with the outcome the rules specify (built from the URL configuration, so a route
added later is included automatically).

Personas: root; a SAM user with nothing; one holding a role that allows "*"; one holding
that role plus an inline deny of the operation; one allowed "*" only where
`pathVariable('user_name') == samUserName`, calling on itself and on another user; and the
root of another operator.
"""

import json

import pytest
from django.test import Client

from accounts import apisessions, policy, roles
from accounts.models import Operator, Principal
from security.models import AuditEntry
from tests.routes import Route, authorized_routes

PERSONAS = ["root", "nothing", "role", "deny", "self_on_self", "self_on_other", "outsider"]
EVERYTHING = json.dumps({"statements": [{"effect": "allow", "api": "*"}]})
SELF_ONLY = json.dumps(
    {
        "statements": [
            {"effect": "allow", "api": "*", "condition": "pathVariable('user_name') == samUserName"}
        ]
    }
)
EMPTY = '{"statements":[]}'

# Bodies that pass validation for operations whose fields have rules beyond their types.
SAMPLE_BODIES = {
    "Role:createRole": {"permission": EMPTY},
    "Role:updateRole": {"permission": EMPTY},
    "Role:attachRole": {"roleId": "subject-role"},
    "User:updateUserPermission": {"permission": EMPTY},
    "User:updateDefaultPermissions": {"permissions": EMPTY},
    "User:createUserPassword": {"password": "A-long-enough-Passw0rd"},
    "User:updateUserPassword": {"currentPassword": "x", "newPassword": "A-long-enough-Passw0rd"},
    "Operator:updateOperatorPassword": {
        "currentPassword": "x",
        "newPassword": "A-long-enough-Passw0rd",
    },
    "Credential:createCredential": {"type": "psk", "credentials": {"key": "0123456789abcdef"}},
    "Credential:updateCredential": {"type": "psk", "credentials": {"key": "0123456789abcdef"}},
}


def _sample(schema: dict, defs: dict):
    if "$ref" in schema:
        return _sample(defs[schema["$ref"].split("/")[-1]], defs)
    if "anyOf" in schema:
        return _sample(schema["anyOf"][0], defs)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _sample(props[k], defs) for k in schema.get("required", [])}
    return {"string": "x", "integer": 3600, "number": 1, "boolean": False, "array": []}.get(
        kind, "x"
    )


def body_for(route: Route):
    if route.api_name in SAMPLE_BODIES:
        return SAMPLE_BODIES[route.api_name]
    for model in getattr(route.operation, "models", []):
        if getattr(model, "__ninja_param_source__", "") == "body":
            schema = model.model_json_schema()
            first = next(iter(schema["properties"].values()))
            return _sample(first, schema.get("$defs", {}))
    return None


@pytest.fixture
def world(db):
    policy.clear_cache()
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "root@matrix.example", "root-Password-1234")
    outsider = Principal.objects.create_root(Operator.create(), "out@matrix.example", "x-Pw-12345")
    sam = {
        name: Principal.objects.create_sam_user(operator, name)
        for name in ("nothing", "role", "deny", "selfie", "target")
    }
    everything = roles.create_role(None, root, "everything", EVERYTHING)
    roles.create_role(None, root, "subject-role", EMPTY)
    for name in ("role", "deny"):
        roles.attach_role(None, root, sam[name], everything)
    roles.set_inline_permission(None, root, sam["selfie"], SELF_ONLY)
    people = {
        "root": root,
        "outsider": outsider,
        "nothing": sam["nothing"],
        "role": sam["role"],
        "deny": sam["deny"],
        "self_on_self": sam["selfie"],
        "self_on_other": sam["selfie"],
    }
    return {"operator": operator, "root": root, "people": people, "target": sam["target"]}


def _values(world, persona: str) -> dict[str, str]:
    user_name = "target"
    if persona == "self_on_self":
        user_name = "selfie"
    return {
        "operator_id": world["operator"].id,
        "user_name": user_name,
        "role_id": "subject-role",
        "auth_key_id": "keyId-" + "0" * 32,
        "key_id": "keyId-" + "0" * 32,
        "credentials_id": "no-such-set",
        "group_name": "no-such-group",
    }


def expected(route: Route, persona: str) -> str:
    """Return "allowed", "denied" or "missing" (404) for a persona on a route."""
    api = route.api_name
    if persona == "root":
        return "allowed"
    if persona == "outsider":
        if route.kind == "api":
            return "missing" if "operator_id" in route.params else "allowed"
        return "missing" if route.params else "allowed"
    if api in policy.ALWAYS_ALLOWED:
        return "allowed"
    if policy.is_root_only(api):
        return "denied"
    if persona == "role":
        return "allowed"
    if persona == "self_on_self":
        return "allowed" if "user_name" in route.params else "denied"
    return "denied"  # nothing, deny, self_on_other


def _work_done() -> int:
    """Count audit entries that record work (every change writes one); denials excluded."""
    return AuditEntry.objects.exclude(outcome=AuditEntry.Outcome.DENIED).count()


def _check(response, outcome: str, label: str, work_before: int) -> None:
    status = response.status_code
    body = b"(streamed)" if response.streaming else response.content[:300]
    detail = f"{label}: {status} {body!r}"
    assert status < 500, detail
    if outcome == "denied":
        assert status == 403, detail
        assert _work_done() == work_before, f"{label}: denied, yet something was recorded"
    elif outcome == "missing":
        assert status == 404, detail
    else:
        assert status not in (401, 403), detail
        assert not (status == 302 and "/login/" in response.get("Location", "")), detail


def _cases(kind: str):
    return [
        pytest.param(route, persona, id=f"{route.label}-{persona}")
        for route in authorized_routes()
        if route.kind == kind
        for persona in PERSONAS
    ]


@pytest.mark.parametrize(("route", "persona"), _cases("api"))
def test_it_decides_each_api_operation_for_each_persona(world, route, persona):
    principal = world["people"][persona]
    if persona == "deny":
        roles.set_inline_permission(
            None,
            world["root"],
            principal,
            json.dumps({"statements": [{"effect": "deny", "api": route.api_name}]}),
        )
    api_key, token = apisessions.create_session(principal, timeout=600)
    headers = {"HTTP_X_SORACOM_API_KEY": api_key, "HTTP_X_SORACOM_TOKEN": token}
    body = body_for(route)
    extra = {}
    if body is not None:
        extra = {"data": json.dumps(body), "content_type": "application/json"}
    client = Client()
    before = _work_done()
    response = getattr(client, route.method.lower())(
        route.url(_values(world, persona)), **extra, **headers
    )
    _check(response, expected(route, persona), route.label, before)


def _console_client(principal: Principal) -> Client:
    client = Client()
    backend = (
        "accounts.backends.RootBackend" if principal.is_root else "accounts.backends.SamUserBackend"
    )
    client.force_login(principal, backend=backend)
    return client


@pytest.mark.parametrize(("route", "persona"), _cases("console"))
def test_it_decides_each_console_action_for_each_persona(world, route, persona):
    principal = world["people"][persona]
    if persona == "deny":
        roles.set_inline_permission(
            None,
            world["root"],
            principal,
            json.dumps({"statements": [{"effect": "deny", "api": route.api_name}]}),
        )
    client = _console_client(principal)
    url = route.url(_values(world, persona))
    before = _work_done()
    response = client.get(url)
    if response.status_code == 405:  # a POST-only action
        response = client.post(url, {})
    _check(response, expected(route, persona), route.label, before)
