"""Authentication backends: root (email + password), SAM users (operator + name + password),
and installation staff (handle + password, per role).

Unknown accounts and accounts without a password cost the same hash as a wrong password,
so that response time does not reveal which accounts exist (ASVS 6.3.8).
"""

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import Principal


def _burn_hash(password: str) -> None:
    Principal().set_password(password)


def _check(principal: Principal | None, password: str) -> Principal | None:
    if principal is None or not principal.has_usable_password() or not principal.is_active:
        _burn_hash(password)
        return None
    return principal if principal.check_password(password) else None


class RootBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        email: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> Principal | None:
        if not isinstance(email, str) or not isinstance(password, str):
            return None
        root = Principal.objects.filter(
            kind=Principal.Kind.ROOT, handle=f"root:{email.strip().lower()}"
        ).first()
        return _check(root, password)


class SamUserBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        operator_id: str | None = None,
        user_name: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> Principal | None:
        if not all(isinstance(v, str) for v in (operator_id, user_name, password)):
            return None
        user = Principal.objects.filter(
            kind=Principal.Kind.SAM, handle=f"sam:{operator_id.strip()}:{user_name}"
        ).first()
        return _check(user, password)


class StaffBackend(ModelBackend):
    """Installation staff sign in with their handle, on their role's own sign-in page.

    The credentials name the role (`staff_role`), so that a support account cannot sign
    in to the admin site nor an administrator to the support pages, and `staff_handle`
    rather than Django's `username`, so that no stock form (the admin's own login form,
    say) reaches this backend past the throttles of accounts/signin.py.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        staff_handle: str | None = None,
        staff_role: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> Principal | None:
        if not all(isinstance(v, str) for v in (staff_handle, staff_role, password)):
            return None
        staff = Principal.objects.filter(
            kind=Principal.Kind.STAFF, staff_role=staff_role, handle=staff_handle
        ).first()
        return _check(staff, password)
