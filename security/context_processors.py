"""Template context of the product: the switch user menu and banner."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from security import switching


def switch_user(request: HttpRequest) -> dict:
    """Return the banner's data while switched, and the menu's targets (read when shown)."""
    switched = switching.console_switched(request)
    user = getattr(request, "user", None)

    def targets() -> list:
        if switched is not None or user is None or not user.is_authenticated:
            return []
        if not getattr(user, "operator_id", None):
            return []
        return switching.targets_of(user)

    return {"switched": switched, "switch_targets": SimpleLazyObject(targets)}
