"""Mount every API router on the one NinjaAPI instance."""

from accounts.api_auth import router as auth_router
from accounts.api_roles import router as roles_router
from accounts.api_users import router as users_router
from console.api import api
from security.api_audit import router as audit_router
from security.api_authkeys import router as authkeys_router
from security.api_credentials import router as credentials_router

api.add_router("", auth_router)
api.add_router("", users_router)
api.add_router("", authkeys_router)
api.add_router("", roles_router)
api.add_router("", credentials_router)
api.add_router("", audit_router)
