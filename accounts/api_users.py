"""JSON API: users (see ../shared/soracom-api.md)."""

from ninja import Router

router = Router()
