"""The permission oracle: what every route MUST require, kept by hand.

Written from soracom-api.md §4 (method, path and API name of every operation) and from
what each console page does, NOT from the code under test: tests/test_permission_matrix.py
compares this table with what each route actually enforces, and
tests/test_console_parity.py replays each console action against its API twin. A route
added without an entry here fails both. Review an entry against the contract when you add
or change it; never copy it from a decorator.
"""

from dataclasses import dataclass

OP = "/operators/{operator_id}"
USER = OP + "/users/{user_name}"

# API operations: (method, path as in soracom-api.md, without /v1) -> API name (§4.1-4.9).
API_OPERATIONS: dict[tuple[str, str], str] = {
    ("POST", "/auth/logout"): "Auth:logout",
    ("POST", "/auth/switch_user"): "Auth:switchUser",
    # §4.2 operator keys and tokens
    ("GET", OP + "/auth_keys"): "Operator:listOperatorAuthKeys",
    ("POST", OP + "/auth_keys"): "Operator:generateOperatorAuthKey",
    ("DELETE", OP + "/auth_keys/{auth_key_id}"): "Operator:deleteOperatorAuthKey",
    # Latchkey's own: where a key may be used from (docs/authkeys.md "Source limits")
    ("PUT", OP + "/auth_keys/{auth_key_id}/source_networks"): (
        "Operator:updateOperatorAuthKeySourceNetworks"
    ),
    # Latchkey's own AuthKey lifecycle (docs/authkeys.md): root-only like the other root keys
    ("PUT", OP + "/auth_keys/{auth_key_id}/deactivate"): "Operator:deactivateOperatorAuthKey",
    ("PUT", OP + "/auth_keys/{auth_key_id}/activate"): "Operator:activateOperatorAuthKey",
    ("POST", OP + "/auth_keys/{auth_key_id}/roll"): "Operator:rollOperatorAuthKey",
    ("DELETE", OP + "/auth_keys/{auth_key_id}/roll"): "Operator:cancelOperatorAuthKeyRoll",
    ("DELETE", OP + "/tokens"): "Operator:revokeOperatorAuthTokens",
    ("POST", OP + "/token"): "Operator:generateAuthToken",
    ("GET", OP): "Operator:getOperator",
    ("POST", OP + "/password"): "Operator:updateOperatorPassword",
    # §4.3 SAM users
    ("GET", OP + "/users"): "User:listUsers",
    ("POST", USER): "User:createUser",
    ("GET", USER): "User:getUser",
    ("PUT", USER): "User:updateUser",
    ("DELETE", USER): "User:deleteUser",
    ("DELETE", USER + "/tokens"): "User:revokeUserAuthTokens",
    # §4.4 user password
    ("POST", USER + "/password"): "User:createUserPassword",
    ("GET", USER + "/password"): "User:hasUserPassword",
    ("PUT", USER + "/password"): "User:updateUserPassword",
    ("DELETE", USER + "/password"): "User:deleteUserPassword",
    # §4.5 user AuthKeys
    ("GET", USER + "/auth_keys"): "User:listUserAuthKeys",
    ("POST", USER + "/auth_keys"): "User:generateUserAuthKey",
    ("GET", USER + "/auth_keys/{auth_key_id}"): "User:getUserAuthKey",
    ("DELETE", USER + "/auth_keys/{auth_key_id}"): "User:deleteUserAuthKey",
    ("PUT", USER + "/auth_keys/{auth_key_id}/source_networks"): (
        "User:updateUserAuthKeySourceNetworks"
    ),
    # Latchkey's own AuthKey lifecycle (docs/authkeys.md)
    ("PUT", USER + "/auth_keys/{auth_key_id}/deactivate"): "User:deactivateUserAuthKey",
    ("PUT", USER + "/auth_keys/{auth_key_id}/activate"): "User:activateUserAuthKey",
    ("POST", USER + "/auth_keys/{auth_key_id}/roll"): "User:rollUserAuthKey",
    ("DELETE", USER + "/auth_keys/{auth_key_id}/roll"): "User:cancelUserAuthKeyRoll",
    # §4.6 inline and default permissions
    ("GET", USER + "/permission"): "User:getUserPermission",
    ("PUT", USER + "/permission"): "User:updateUserPermission",
    ("DELETE", USER + "/permission"): "User:deleteUserPermission",
    ("GET", OP + "/users/default_permissions"): "User:getDefaultPermissions",
    ("PUT", OP + "/users/default_permissions"): "User:updateDefaultPermissions",
    ("DELETE", OP + "/users/default_permissions"): "User:deleteDefaultPermissions",
    # §4.10 trust policy (switch user), and Latchkey's own switched-session operations
    ("GET", USER + "/trust_policy"): "User:getUserTrustPolicy",
    ("PUT", USER + "/trust_policy"): "User:updateUserTrustPolicy",
    ("DELETE", USER + "/trust_policy"): "User:deleteUserTrustPolicy",
    ("GET", USER + "/switched_sessions"): "User:listUserSwitchedSessions",
    ("DELETE", USER + "/switched_sessions"): "User:revokeUserSwitchedSessions",
    # §4.7 roles (attach, detach and listUserRoles are tagged Role although under /users/)
    ("GET", OP + "/roles"): "Role:listRoles",
    ("POST", OP + "/roles/{role_id}"): "Role:createRole",
    ("GET", OP + "/roles/{role_id}"): "Role:getRole",
    ("PUT", OP + "/roles/{role_id}"): "Role:updateRole",
    ("DELETE", OP + "/roles/{role_id}"): "Role:deleteRole",
    ("GET", OP + "/roles/{role_id}/users"): "Role:listRoleAttachedUsers",
    ("GET", OP + "/roles/{role_id}/versions"): "Role:listRoleVersions",
    ("GET", USER + "/roles"): "Role:listUserRoles",
    ("POST", USER + "/roles"): "Role:attachRole",
    ("DELETE", USER + "/roles/{role_id}"): "Role:detachRole",
    # §4.8 credential sets (no operator ID in these paths)
    ("GET", "/credentials"): "Credential:listCredentials",
    ("POST", "/credentials/{credentials_id}"): "Credential:createCredential",
    ("PUT", "/credentials/{credentials_id}"): "Credential:updateCredential",
    ("DELETE", "/credentials/{credentials_id}"): "Credential:deleteCredential",
    # §4.9 audit log
    ("GET", "/audit_logs/api"): "AuditLog:getApiAuditLogs",
    # §4.10 MFA (TOTP): the root account's and a SAM user's
    ("POST", OP + "/mfa"): "Operator:enableMFA",
    ("POST", OP + "/mfa/verify"): "Operator:verifyMFA",
    ("GET", OP + "/mfa"): "Operator:getMFAStatus",
    ("DELETE", OP + "/mfa"): "Operator:revokeMFA",
    ("POST", USER + "/mfa"): "User:enableUserMFA",
    ("POST", USER + "/mfa/verify"): "User:verifyUserMFA",
    ("GET", USER + "/mfa"): "User:getUserMFAStatus",
    ("DELETE", USER + "/mfa"): "User:revokeUserMFA",
    # Latchkey's own: a signed checkpoint of the caller's audit chain (docs/audit.md)
    ("GET", "/audit_logs/checkpoint"): "AuditLog:getAuditCheckpoint",
}

# Operations called without any credential (tests/routes.py exempts their routes): the
# contract's password reset (§4.1), and the console pages that are their twins. They are
# throttled instead of authorized; the console page calls the same service as the API.
UNAUTHENTICATED_OPERATIONS: dict[tuple[str, str], str] = {
    ("POST", "/auth/password_reset_token/issue"): "Auth:issuePasswordResetToken",
    ("POST", "/auth/password_reset_token/verify"): "Auth:verifyPasswordResetToken",
}
# The OAuth endpoints outside /v1 (issue 15; tests/routes.py exempts their routes because
# the AuthKey in the request is the credential): what the calling key's principal must be
# allowed, checked by tests/api/test_oauth_introspect.py against this table.
OAUTH_OPERATIONS: dict[tuple[str, str], str] = {
    ("POST", "/oauth/introspect"): "OAuth:introspectToken",
    ("POST", "/oauth/revoke"): "OAuth:revokeToken",
}
UNAUTHENTICATED_CONSOLE_TWINS: dict[str, tuple[str, str]] = {
    "login/forgot/": ("POST", "/auth/password_reset_token/issue"),
    "login/reset/": ("POST", "/auth/password_reset_token/verify"),
}

# No statement may grant these to a SAM user (DESIGN.md "Permissions"; docs/permissions.md).
ROOT_ONLY_OPERATIONS = frozenset(
    {
        "Operator:listOperatorAuthKeys",
        "Operator:generateOperatorAuthKey",
        "Operator:deleteOperatorAuthKey",
        "Operator:updateOperatorAuthKeySourceNetworks",
        "Operator:deactivateOperatorAuthKey",
        "Operator:activateOperatorAuthKey",
        "Operator:rollOperatorAuthKey",
        "Operator:cancelOperatorAuthKeyRoll",
        "Operator:updateAuthKeyLifetimePolicy",
        "Operator:revokeOperatorAuthTokens",
        "Operator:updateOperatorPassword",
        "Operator:enableMFA",
        "Operator:verifyMFA",
        "Operator:getMFAStatus",
        "Operator:revokeMFA",
        "Operator:issueMFARevokingToken",
        "Operator:verifyMFARevokingToken",
        "Operator:updateMFARequirement",
        "Operator:registerPasskey",
        "Operator:deletePasskey",
        "Operator:getSupportAccess",
        "Operator:grantSupportAccess",
        "Operator:revokeSupportAccess",
    }
)
# Allowed whatever the statements say: "can be called regardless of any permission settings".
ALWAYS_ALLOWED_OPERATIONS = frozenset({"Auth:logout"})


@dataclass(frozen=True)
class ConsoleAction:
    """What a console URL must require, and the API operation it is the twin of."""

    requires: tuple[str, ...]  # every one of these must be allowed
    twin: tuple[str, str] | None  # (method, contract path) of API_OPERATIONS, or None
    reason: str = ""  # why there is no twin (required when twin is None)


def twin(method: str, path: str) -> ConsoleAction:
    return ConsoleAction((API_OPERATIONS[(method, path)],), (method, path))


def console_only(reason: str, *requires: str) -> ConsoleAction:
    return ConsoleAction(tuple(requires), None, reason)


POLICY_READS = ("User:getUserPermission", "Role:listUserRoles", "User:getDefaultPermissions")
S = "security/"
U = S + "users/<name:user_name>/"

# Console URL patterns (as in the URL configuration) -> what they must require.
CONSOLE_ACTIONS: dict[str, ConsoleAction] = {
    # Users
    S + "users/": twin("GET", OP + "/users"),
    S + "users/new": twin("POST", USER),
    U: twin("GET", USER),
    U + "update": twin("PUT", USER),
    U + "delete": twin("DELETE", USER),
    U + "password": twin("POST", USER + "/password"),
    U + "password/change": twin("PUT", USER + "/password"),
    U + "password/delete": twin("DELETE", USER + "/password"),
    # AuthKeys: the root account's own (AuthKeys tab) and a SAM user's
    S + "authkeys/": twin("GET", OP + "/auth_keys"),
    S + "authkeys/new": console_only(
        "the generate dialog's form (no data): part of generating a key",
        "Operator:generateOperatorAuthKey",
    ),
    S + "authkeys/generate": twin("POST", OP + "/auth_keys"),
    S + "authkeys/<keyid:auth_key_id>/revoke": twin("DELETE", OP + "/auth_keys/{auth_key_id}"),
    S + "authkeys/<keyid:auth_key_id>/sources": twin(
        "PUT", OP + "/auth_keys/{auth_key_id}/source_networks"
    ),
    S + "authkeys/<keyid:auth_key_id>/deactivate": twin(
        "PUT", OP + "/auth_keys/{auth_key_id}/deactivate"
    ),
    S + "authkeys/<keyid:auth_key_id>/activate": twin(
        "PUT", OP + "/auth_keys/{auth_key_id}/activate"
    ),
    S + "authkeys/<keyid:auth_key_id>/roll": twin("POST", OP + "/auth_keys/{auth_key_id}/roll"),
    S + "authkeys/<keyid:auth_key_id>/cancel-roll": twin(
        "DELETE", OP + "/auth_keys/{auth_key_id}/roll"
    ),
    S + "authkeys/lifetime": console_only(
        "the operator setting 'longest lifetime of new AuthKeys' has no API (root only)",
        "Operator:updateAuthKeyLifetimePolicy",
    ),
    U + "authentication": twin("GET", USER + "/auth_keys"),
    U + "authkeys/new": console_only(
        "the generate dialog's form (no data): part of generating a key",
        "User:generateUserAuthKey",
    ),
    U + "authkeys/generate": twin("POST", USER + "/auth_keys"),
    U + "authkeys/<keyid:auth_key_id>/revoke": twin("DELETE", USER + "/auth_keys/{auth_key_id}"),
    U + "authkeys/<keyid:auth_key_id>/sources": twin(
        "PUT", USER + "/auth_keys/{auth_key_id}/source_networks"
    ),
    U + "authkeys/<keyid:auth_key_id>/deactivate": twin(
        "PUT", USER + "/auth_keys/{auth_key_id}/deactivate"
    ),
    U + "authkeys/<keyid:auth_key_id>/activate": twin(
        "PUT", USER + "/auth_keys/{auth_key_id}/activate"
    ),
    U + "authkeys/<keyid:auth_key_id>/roll": twin("POST", USER + "/auth_keys/{auth_key_id}/roll"),
    U + "authkeys/<keyid:auth_key_id>/cancel-roll": twin(
        "DELETE", USER + "/auth_keys/{auth_key_id}/roll"
    ),
    # Roles
    S + "roles/": twin("GET", OP + "/roles"),
    S + "roles/new": twin("POST", OP + "/roles/{role_id}"),
    S + "roles/<name:role_id>/": twin("GET", OP + "/roles/{role_id}"),
    S + "roles/<name:role_id>/update": twin("PUT", OP + "/roles/{role_id}"),
    S + "roles/<name:role_id>/users": twin("GET", OP + "/roles/{role_id}/users"),
    S + "roles/<name:role_id>/delete": twin("DELETE", OP + "/roles/{role_id}"),
    S + "reports/auditor-role": twin("POST", OP + "/roles/{role_id}"),
    # Permissions
    S + "default-permissions/": twin("GET", OP + "/users/default_permissions"),
    S + "default-permissions/update": twin("PUT", OP + "/users/default_permissions"),
    S + "default-permissions/delete": twin("DELETE", OP + "/users/default_permissions"),
    U + "permissions": twin("GET", USER + "/permission"),
    U + "permissions/update": twin("PUT", USER + "/permission"),
    U + "permissions/delete": twin("DELETE", USER + "/permission"),
    U + "trust-policy": twin("GET", USER + "/trust_policy"),
    U + "trust-policy/update": twin("PUT", USER + "/trust_policy"),
    U + "trust-policy/delete": twin("DELETE", USER + "/trust_policy"),
    U + "switched-sessions": twin("GET", USER + "/switched_sessions"),
    U + "switched-sessions/end": twin("DELETE", USER + "/switched_sessions"),
    S + "switch-user/": twin("POST", "/auth/switch_user"),
    U + "roles": twin("GET", USER + "/roles"),
    U + "roles/attach": twin("POST", USER + "/roles"),
    U + "roles/<name:role_id>/detach": twin("DELETE", USER + "/roles/{role_id}"),
    U + "permissions/effective": console_only(
        "shows the inline permission, the attached roles' documents and the defaults: "
        "it needs the three API reads of that data",
        "User:getEffectivePermission",
        *POLICY_READS,
    ),
    U + "permissions/simulate": console_only(
        "decides calls from the inline permission, the roles and the defaults: it needs "
        "the three API reads of that data",
        "User:simulatePermission",
        *POLICY_READS,
    ),
    # Credential sets and groups
    S + "credentials/": twin("GET", "/credentials"),
    S + "credentials/new": twin("POST", "/credentials/{credentials_id}"),
    S + "credentials/fields": console_only(
        "the create dialog's fields for a type (no data): part of creating a set",
        "Credential:createCredential",
    ),
    S + "credentials/<name:credentials_id>/update": twin("PUT", "/credentials/{credentials_id}"),
    S + "credentials/<name:credentials_id>/delete": twin("DELETE", "/credentials/{credentials_id}"),
    S + "groups/": console_only("groups have no API in the contract", "Group:listGroups"),
    S + "groups/new": console_only("groups have no API in the contract", "Group:createGroup"),
    S + "groups/<name:group_name>/update": console_only(
        "groups have no API in the contract", "Group:updateGroup"
    ),
    S + "groups/<name:group_name>/delete": console_only(
        "groups have no API in the contract", "Group:deleteGroup"
    ),
    # Second factors: root's account page and a SAM user's MFA tab
    S + "account/mfa/": twin("GET", OP + "/mfa"),
    S + "account/mfa/enable": twin("POST", OP + "/mfa"),
    S + "account/mfa/verify": twin("POST", OP + "/mfa/verify"),
    S + "account/mfa/revoke": twin("DELETE", OP + "/mfa"),
    S + "account/mfa/requirement": console_only(
        "the operator setting 'require MFA for SAM users' console sign-in' has no API in "
        "the contract (root only)",
        "Operator:updateMFARequirement",
    ),
    S + "account/passkeys/options": console_only(
        "passkeys (WebAuthn) are beyond the contract: no API (root only)",
        "Operator:registerPasskey",
    ),
    S + "account/passkeys/register": console_only(
        "passkeys (WebAuthn) are beyond the contract: no API (root only)",
        "Operator:registerPasskey",
    ),
    S + "account/passkeys/<int:passkey_id>/delete": console_only(
        "passkeys (WebAuthn) are beyond the contract: no API (root only)", "Operator:deletePasskey"
    ),
    U + "passkeys/options": console_only(
        "passkeys (WebAuthn) are beyond the contract: no API", "User:registerUserPasskey"
    ),
    U + "passkeys/register": console_only(
        "passkeys (WebAuthn) are beyond the contract: no API", "User:registerUserPasskey"
    ),
    U + "passkeys/<int:passkey_id>/delete": console_only(
        "passkeys (WebAuthn) are beyond the contract: no API", "User:deleteUserPasskey"
    ),
    U + "mfa": twin("GET", USER + "/mfa"),
    U + "mfa/enable": twin("POST", USER + "/mfa"),
    U + "mfa/verify": twin("POST", USER + "/mfa/verify"),
    U + "mfa/revoke": twin("DELETE", USER + "/mfa"),
    # Audit, reports, support
    S + "audit/": twin("GET", "/audit_logs/api"),
    S + "audit/export.csv": twin("GET", "/audit_logs/api"),
    S + "audit/checkpoint.json": twin("GET", "/audit_logs/checkpoint"),
    S + "audit/settings": console_only(
        "the audit settings (record successful reads) have no API in the contract",
        "AuditLog:updateAuditSettings",
    ),
    S + "reports/credentials/": console_only(
        "the credential report has no API", "Report:getCredentialReport"
    ),
    S + "reports/credentials.csv": console_only(
        "the credential report has no API", "Report:getCredentialReport"
    ),
    S + "support/": console_only(
        "support access has no API (root only)", "Operator:getSupportAccess"
    ),
    S + "support/grant": console_only(
        "support access has no API (root only)", "Operator:grantSupportAccess"
    ),
    S + "support/withdraw": console_only(
        "support access has no API (root only)", "Operator:revokeSupportAccess"
    ),
}
