"""Two operators full of real objects, and callers for the console and the API.

Shared by the permission matrix and the console/API parity test: what each route needs
(path values, console form data, API bodies) to do real work when it is allowed.
"""

import json

from django.core.cache import cache
from django.test import Client

from accounts import apisessions, policy
from accounts.models import Operator, Principal
from security import authkeys, credentials, groups, roles, support
from tests.operations_table import API_OPERATIONS, CONSOLE_ACTIONS
from tests.routes import Route, contract_path

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


# The world: two operators with real objects -------------------------------------------------


def document(*statements: dict) -> str:
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


def build_world() -> dict:
    """Return the home operator, the other operator and the personas of home."""
    policy.clear_cache()
    cache.clear()
    home = _populate(Operator.create(), "")
    other = _populate(Operator.create(), "foreign-")
    people = {
        name: Principal.objects.create_sam_user(home["operator"], name)
        for name in ("nothing", "only", "deny", "selfie")
    }
    return {"home": home, "other": other, "people": people}


# Requests -----------------------------------------------------------------------------------

# Form data for console POSTs and bodies for API calls that do real work when allowed.
CONSOLE_FORMS = {
    "security/users/new": {"user_name": "newcomer", "description": "new"},
    "security/users/<name:user_name>/update": {"description": "changed"},
    "security/users/<name:user_name>/password": {
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    },
    "security/users/<name:user_name>/password/change": {
        "current_password": TARGET_PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    },
    "security/roles/new": {"role_id": "new-role", "permission": EMPTY, "description": ""},
    "security/roles/<name:role_id>/update": {"permission": LOGOUT_ONLY, "description": "new"},
    "security/default-permissions/update": {"permission": EMPTY},
    "security/users/<name:user_name>/permissions/update": {"permission": EMPTY},
    "security/users/<name:user_name>/roles/attach": {"role": "role"},
    "security/credentials/new": {"credentials_id": "new-set", "type": "psk", "c__key": PSK},
    "security/credentials/<name:credentials_id>/update": {"description": "changed"},
    "security/groups/new": {"name": "new-group"},
    "security/groups/<name:group_name>/update": {"beam_url": "https://example.com/in"},
    "security/support/grant": {"hours": "24"},
    "security/users/<name:user_name>/trust-policy/update": {"trust_policy": EMPTY},
    "security/switch-user/": {"operator_id": "OP0000000000", "user_name": "nobody"},
    "security/account/mfa/verify": {"code": "123456"},
    "security/account/mfa/revoke": {"password": "root-Password-1234"},
    "security/account/mfa/requirement": {"require_sam": "on"},
    "security/users/<name:user_name>/mfa/verify": {"code": "123456"},
    "security/authkeys/<keyid:auth_key_id>/sources": {"allowed_networks": "192.0.2.0/24"},
    "security/users/<name:user_name>/authkeys/<keyid:auth_key_id>/sources": {
        "allowed_networks": "2001:db8::/32"
    },
    "security/authkeys/<keyid:auth_key_id>/roll": {"delay": "3600"},
    "security/users/<name:user_name>/authkeys/<keyid:auth_key_id>/roll": {"delay": "3600"},
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
    "Role:updateRole": {"permission": LOGOUT_ONLY, "description": "new"},
    "Role:attachRole": {"roleId": "role"},
    "User:updateUserPermission": {"permission": EMPTY},
    "User:updateDefaultPermissions": {"permissions": EMPTY},
    "Credential:createCredential": {"type": "psk", "credentials": {"key": PSK}},
    "Credential:updateCredential": {"description": "changed"},
    "User:updateUserTrustPolicy": {"trustPolicy": EMPTY},
    "Auth:switchUser": {"operatorId": "OP0000000000", "userName": "nobody"},
    "Operator:generateAuthToken": {"tokenTimeoutSeconds": 600},
    "Operator:verifyMFA": {"mfaOTPCode": "123456"},
    "Operator:revokeMFA": {"password": "root-Password-1234"},
    "User:verifyUserMFA": {"mfaOTPCode": "123456"},
    "Operator:updateOperatorAuthKeySourceNetworks": {"allowedSourceNetworks": ["192.0.2.0/24"]},
    "User:updateUserAuthKeySourceNetworks": {"allowedSourceNetworks": ["2001:db8::/32"]},
    "Operator:rollOperatorAuthKey": {"revokeAfterSeconds": 3600},
    "User:rollUserAuthKey": {"revokeAfterSeconds": 3600},
}
# Operations on a user that must not have a password yet, or on a role that is attached.
ON_ROBOT = {"User:createUserPassword"}
ON_ATTACHED_ROLE = {"Role:detachRole"}
# Creates name a new object in the caller's own operator: no other operator's object is
# involved, so they have no outsider case beyond another operator's ID.
CREATES_BY_NAME = {"User:createUser", "Role:createRole", "Credential:createCredential"}


def path_values(route: Route, values: dict) -> dict[str, str]:
    ops = set(required(route))
    found = {
        "operator_id": values["operator_id"],
        "user_name": values["robot"] if ops & ON_ROBOT else values["user_name"],
        "role_id": values["attached_role"] if ops & ON_ATTACHED_ROLE else values["role_id"],
        "auth_key_id": values["user_key"] if "user_name" in route.params else values["root_key"],
        "credentials_id": values["credentials_id"],
        "group_name": values["group_name"],
        "passkey_id": "1",  # no passkey exists: the authorized call answers 404
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
