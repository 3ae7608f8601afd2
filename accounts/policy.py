"""Authorization: one call decides every API operation and every console action.

Interim rule until the permission engine lands (issue 4 replaces `is_allowed`): root may
call everything; a SAM user may call the operations on itself that every user may call.
"""

from accounts.context import CallContext

# Operations that only the root account may perform; no statement can grant them.
ROOT_ONLY: frozenset[str] = frozenset(
    {
        "Operator:listOperatorAuthKeys",
        "Operator:generateOperatorAuthKey",
        "Operator:deleteOperatorAuthKey",
        "Operator:updateOperatorPassword",
        "Operator:enableMFA",
        "Operator:verifyMFA",
        "Operator:revokeMFA",
        "Operator:revokeOperatorAuthTokens",
        "Operator:grantSupportAccess",
        "Operator:revokeSupportAccess",
    }
)

# Calls any authenticated principal may make about itself (the interim rule).
_SELF_SERVICE: frozenset[str] = frozenset(
    {
        "Auth:logout",
        "User:getUser",
        "User:hasUserPassword",
        "User:updateUserPassword",
        "User:listUserAuthKeys",
        "User:getUserAuthKey",
    }
)


def is_allowed(ctx: CallContext) -> bool:
    """Return whether the principal in ctx may call ctx.api."""
    principal = ctx.principal
    if principal.is_root:
        return True
    if not principal.is_sam or ctx.api in ROOT_ONLY:
        return False
    if ctx.api == "Auth:logout":
        return True
    return ctx.api in _SELF_SERVICE and ctx.path_vars.get("user_name") == principal.user_name
