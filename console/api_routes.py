"""Mount every API router on the one NinjaAPI instance."""

from accounts.api_auth import router as auth_router
from console.api import api

api.add_router("", auth_router)
