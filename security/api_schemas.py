"""What each /v1 operation answers on success, for the OpenAPI document (soracom-api.md §4).

The handlers shape their answers by hand (no nulls, the contract's odd statuses), so the
success status and body of each operation are declared here, by API name, beside the
contract's response models. tests/api/test_openapi.py fails for a registered operation
without an entry, and compares each declared status with a live call's where it can.
"""

from dataclasses import dataclass

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every error: a flat code and message (soracom-api.md §2)."""

    code: str = Field(examples=["LKY0400"])
    message: str = Field(examples=["Missing field: password."])


class AuthResponse(BaseModel):
    apiKey: str
    operatorId: str
    token: str = Field(description="A JWT (EdDSA) whose payload holds operator.operatorId.")
    userName: str | None = Field(None, description="Only for a SAM user.")


class AuthKeyResponse(BaseModel):
    authKeyId: str
    createDateTime: int = Field(description="UNIX time in seconds.")
    lastUsedDateTime: int | None = Field(None, description="Omitted until the key is used.")
    allowedSourceNetworks: list[str] | None = Field(
        None, description="Latchkey's own: the CIDRs the key works from; omitted when anywhere."
    )
    description: str | None = Field(None, description="Latchkey's own; omitted when unset.")
    status: str | None = Field(
        None,
        description="Latchkey's own: `active` or `inactive` (deactivated).",
        examples=["active"],
    )
    expiryDateTime: int | None = Field(
        None, description="Latchkey's own: UNIX time in seconds; omitted for no expiry."
    )
    revokeDateTime: int | None = Field(
        None, description="Latchkey's own: a roll's scheduled revocation (UNIX time in seconds)."
    )


class GenerateAuthKeyResponse(BaseModel):
    authKeyId: str
    authKey: str = Field(description="The secret: returned by this call only, never again.")


class RollAuthKeyResponse(GenerateAuthKeyResponse):
    rolledAuthKey: str = Field(description="The ID of the key this one replaces.")
    revokeDateTime: int | None = Field(
        None, description="When the old key is revoked; omitted when it was revoked at once."
    )


class ListRolesResponse(BaseModel):
    roleId: str
    roleName: str | None = None
    owner: str | None = Field(None, examples=["operator"])
    description: str | None = None
    createDateTime: int
    updateDateTime: int


class RoleResponse(ListRolesResponse):
    permission: str | None = Field(None, description="A permission document, as a JSON string.")


class UserDetailResponse(BaseModel):
    userName: str
    description: str | None = None
    createDateTime: int
    updateDateTime: int
    hasPassword: bool
    authKeyList: list[AuthKeyResponse]
    roleList: list[ListRolesResponse]


class HasPasswordResponse(BaseModel):
    hasPassword: bool


class GetOperatorResponse(BaseModel):
    operatorId: str
    rootOperatorId: str
    email: str
    description: str
    createDate: str
    updateDate: str


class EnableMFAOTPResponse(BaseModel):
    totpUri: str


class MFAStatusOfUseResponse(BaseModel):
    status: str  # ACTIVE, UNCONFIRMED or INACTIVE


class OperatorMFAVerifyingResponse(BaseModel):
    backupCodes: list[str]


class CreateRoleResponse(BaseModel):
    roleId: str


class GetUserPermissionResponse(BaseModel):
    permission: str


class GetDefaultPermissionsResponse(BaseModel):
    defaultPermissions: str


class CredentialsModel(BaseModel):
    credentialsId: str
    type: str
    description: str | None = None
    credentials: dict = Field(description="Always empty: secrets are never returned.")
    createDateTime: int
    updateDateTime: int
    lastUsedDateTime: int


class APIAuditLogEntry(BaseModel):
    apiKind: str | None = Field(
        None, examples=["/v1/auth"], description="The operation's path template."
    )
    operatorId: str | None = None
    remoteIpAddress: str | None = None
    requestPath: str | None = None
    requestedTimeEpochMs: int | None = None
    userName: str | None = Field(None, description="Empty or absent: the root user.")
    apiName: str | None = Field(None, description="Latchkey's API name (`User:createUser`).")
    actorKind: str | None = None
    actor: str | None = None
    target: str | None = None
    outcome: str | None = Field(None, examples=["allowed", "denied", "failed"])
    userAgent: str | None = None
    requestId: str | None = None
    authKeyId: str | None = None
    reason: str | None = None


class TokenResponse(BaseModel):
    token: str = Field(description="A fresh JWT for the caller's apiKey (the same session).")


class TrustPolicyResponse(BaseModel):
    trustPolicy: str = Field(description="A trust policy document, as a JSON string.")


class SwitchedSessionResponse(BaseModel):
    """Latchkey's addition: a live switched session into the user."""

    sourceSrn: str
    createDateTime: int
    expiryDateTime: int


class AuditCheckpoint(BaseModel):
    """A signed checkpoint of the operator's audit chain (docs/audit.md)."""

    model_config = {"extra": "allow"}


@dataclass(frozen=True)
class Success:
    status: int
    body: type[BaseModel] | None = None  # None: no body (the contract's "—")
    many: bool = False  # a JSON array of `body`
    headers: tuple[str, ...] = ()  # response headers it may carry (HEADERS below)


WARNS = ("X-Latchkey-Warning",)
PAGED = ("x-soracom-next-key",)
HEADERS: dict[str, dict] = {
    "X-Latchkey-Warning": {
        "description": "The document was saved, but these API names match no operation "
        "(Latchkey's addition: Soracom saves such a document silently).",
        "schema": {"type": "string"},
    },
    "x-soracom-next-key": {
        "description": "More follow: send this value back as last_evaluated_key.",
        "schema": {"type": "string"},
    },
}


# API name -> its success answer. An operation of the contract answers what §4 says.
SUCCESS: dict[str, Success] = {
    "Auth:auth": Success(200, AuthResponse),
    "Auth:logout": Success(204),
    "Auth:switchUser": Success(200, AuthResponse),
    "Operator:generateAuthToken": Success(200, TokenResponse),
    "User:getUserTrustPolicy": Success(200, TrustPolicyResponse),
    "User:updateUserTrustPolicy": Success(204),
    "User:deleteUserTrustPolicy": Success(204),
    "User:listUserSwitchedSessions": Success(200, SwitchedSessionResponse, many=True),
    "User:revokeUserSwitchedSessions": Success(204),
    "Auth:issuePasswordResetToken": Success(200),
    "Auth:verifyPasswordResetToken": Success(200),
    "Operator:listOperatorAuthKeys": Success(200, AuthKeyResponse, many=True),
    "Operator:generateOperatorAuthKey": Success(201, GenerateAuthKeyResponse),
    "Operator:deleteOperatorAuthKey": Success(204),
    "Operator:updateOperatorAuthKeySourceNetworks": Success(200, AuthKeyResponse),
    "Operator:revokeOperatorAuthTokens": Success(204),
    "Operator:deactivateOperatorAuthKey": Success(200, AuthKeyResponse),
    "Operator:activateOperatorAuthKey": Success(200, AuthKeyResponse),
    "Operator:rollOperatorAuthKey": Success(201, RollAuthKeyResponse),
    "Operator:cancelOperatorAuthKeyRoll": Success(200, AuthKeyResponse),
    "Operator:getOperator": Success(200, GetOperatorResponse),
    "Operator:updateOperatorPassword": Success(200),
    "User:listUsers": Success(200, UserDetailResponse, many=True, headers=PAGED),
    "User:createUser": Success(201),
    "User:getUser": Success(200, UserDetailResponse),
    "User:updateUser": Success(200),
    "User:deleteUser": Success(204),
    "User:revokeUserAuthTokens": Success(204),
    "User:createUserPassword": Success(201),
    "User:hasUserPassword": Success(200, HasPasswordResponse),
    "User:updateUserPassword": Success(200),
    "User:deleteUserPassword": Success(204),
    "User:listUserAuthKeys": Success(200, AuthKeyResponse, many=True),
    "User:generateUserAuthKey": Success(200, GenerateAuthKeyResponse),
    "User:getUserAuthKey": Success(200, AuthKeyResponse),
    "User:deleteUserAuthKey": Success(204),
    "User:updateUserAuthKeySourceNetworks": Success(200, AuthKeyResponse),
    "User:deactivateUserAuthKey": Success(200, AuthKeyResponse),
    "User:activateUserAuthKey": Success(200, AuthKeyResponse),
    "User:rollUserAuthKey": Success(201, RollAuthKeyResponse),
    "User:cancelUserAuthKeyRoll": Success(200, AuthKeyResponse),
    "User:getUserPermission": Success(200, GetUserPermissionResponse),
    "User:updateUserPermission": Success(200, headers=WARNS),
    "User:deleteUserPermission": Success(204),
    "User:getDefaultPermissions": Success(200, GetDefaultPermissionsResponse),
    "User:updateDefaultPermissions": Success(202, headers=WARNS),
    "User:deleteDefaultPermissions": Success(204),
    "Role:listRoles": Success(200, ListRolesResponse, many=True),
    "Role:createRole": Success(200, CreateRoleResponse, headers=WARNS),
    "Role:getRole": Success(200, RoleResponse),
    "Role:updateRole": Success(200, headers=WARNS),
    "Role:deleteRole": Success(204),
    "Role:listRoleAttachedUsers": Success(200, UserDetailResponse, many=True),
    "Role:listRoleVersions": Success(200, RoleResponse, many=True),
    "Role:listUserRoles": Success(200, RoleResponse, many=True),
    "Role:attachRole": Success(200),
    "Role:detachRole": Success(200),
    "Credential:listCredentials": Success(200, CredentialsModel, many=True),
    "Credential:createCredential": Success(201, CredentialsModel),
    "Credential:updateCredential": Success(200, CredentialsModel),
    "Credential:deleteCredential": Success(204),
    "AuditLog:getApiAuditLogs": Success(200, APIAuditLogEntry, many=True, headers=PAGED),
    "AuditLog:getAuditCheckpoint": Success(200, AuditCheckpoint),
    "Operator:enableMFA": Success(200, EnableMFAOTPResponse),
    "Operator:verifyMFA": Success(200, OperatorMFAVerifyingResponse),
    "Operator:getMFAStatus": Success(200, MFAStatusOfUseResponse),
    "Operator:revokeMFA": Success(204),
    "Operator:issueMFARevokingToken": Success(200),
    "Operator:verifyMFARevokingToken": Success(200),
    "User:enableUserMFA": Success(200, EnableMFAOTPResponse),
    "User:verifyUserMFA": Success(204),
    "User:getUserMFAStatus": Success(200, MFAStatusOfUseResponse),
    "User:revokeUserMFA": Success(204),
}

# Query parameters read from request.GET by hand (so that django-ninja cannot see them).
QUERY: dict[str, list[dict]] = {
    "AuditLog:getApiAuditLogs": [
        {"name": "api_kind", "schema": {"type": "string"}, "example": "/v1/auth"},
        {"name": "from_epoch_ms", "schema": {"type": "integer", "minimum": 0}},
        {"name": "to_epoch_ms", "schema": {"type": "integer", "minimum": 0}},
        {"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        {"name": "last_evaluated_key", "schema": {"type": "string"}},
    ],
}
