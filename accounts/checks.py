"""System checks: a signing-key list that cannot sign fails `manage.py check`, not /v1/auth."""

import time

from django.conf import settings
from django.core.checks import Error

from accounts import tokens


def signing_keys(app_configs: object = None, **kwargs: object) -> list[Error]:
    """Return an error when LATCHKEY_JWT_KEYS is malformed or no key may sign today."""
    try:
        keys = tokens.parse_keys(settings.LATCHKEY_JWT_KEYS)
    except ValueError as exc:
        return [Error(str(exc), id="latchkey.E001")]
    now = int(time.time())
    if not any(key.signs_from <= now for key in keys):
        first = min(key.signs_from for key in keys)
        return [
            Error(
                "LATCHKEY_JWT_KEYS: no key may sign before "
                f"{tokens.format_signs_from(first)}; keep the current key listed until then.",
                id="latchkey.E002",
            )
        ]
    return []
