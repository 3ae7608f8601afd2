"""The one JSON API instance under /v1: the kit's JsonApi, the product's TokenAuth, every router.

Project glue (like console/urls.py): it may import every layer; nothing imports it but the
root URL configuration.
"""

from console.api import JsonApi
from security.api_access import TokenAuth
from security.api_audit import router as audit_router
from security.api_auth import router as auth_router
from security.api_authkeys import router as authkeys_router
from security.api_credentials import router as credentials_router
from security.api_mfa import router as mfa_router
from security.api_openapi import api_name_of
from security.api_roles import router as roles_router
from security.api_users import router as users_router

api = JsonApi(
    title="Latchkey API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    operation_id=api_name_of,
)

for router in (
    auth_router,
    users_router,
    authkeys_router,
    roles_router,
    credentials_router,
    audit_router,
    mfa_router,
):
    api.add_router("", router)
