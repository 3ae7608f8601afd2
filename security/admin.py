"""Django admin for installation administrators: staff accounts, and nothing of a tenant.

Operators, their principals and everything they own are not registered (the site refuses
them: security/adminsite.py). Quotas are set on the site's write-only quota page.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.models import StaffAccount
from security import staff

# The only query-string lookups a changelist accepts, each with the values its filter offers:
# Django's default allows a lookup on every local field (`?password__startswith=`), an
# oracle on whatever the row holds, and passes any value on to the database.
_ROLES = frozenset(StaffAccount.StaffRole.values)
_FLAGS = frozenset({"0", "1", "True", "False"})
ALLOWED_LOOKUPS = {
    "staff_role": _ROLES,
    "staff_role__exact": _ROLES,
    "is_active": _FLAGS,
    "is_active__exact": _FLAGS,
}


@admin.register(StaffAccount)
class StaffAccountAdmin(admin.ModelAdmin):
    list_display = ("handle", "staff_role", "is_active", "last_login", "created_at")
    list_filter = ("staff_role", "is_active")
    search_fields = ("handle",)
    ordering = ("handle",)
    fields = ("handle", "staff_role", "is_active", "last_login", "created_at")
    readonly_fields = ("handle", "last_login", "created_at")
    show_full_result_count = False

    def get_object(self, request: HttpRequest, object_id, from_field=None):
        # The admin's <path:object_id> takes any text; one that cannot be a primary key
        # (NUL, which PostgreSQL refuses in a query, 10 kB ...) is a missing account.
        if not str(object_id).isdigit():
            return None
        return super().get_object(request, object_id, from_field)

    def get_queryset(self, request: HttpRequest):
        return StaffAccount.objects.all()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        return value in ALLOWED_LOOKUPS.get(lookup, ())

    def get_readonly_fields(self, request: HttpRequest, obj: StaffAccount | None = None):
        if obj is not None and obj.pk == request.user.pk:
            return (*self.readonly_fields, "staff_role", "is_active")
        return self.readonly_fields

    # Rights come from the staff role, never from Django's model permissions or superuser.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return staff.is_installation_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: StaffAccount | None = None) -> bool:
        return staff.is_installation_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: StaffAccount | None = None) -> bool:
        return staff.is_installation_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # `manage.py createstaff` / `createsuperuser` (they set the password)

    def has_delete_permission(self, request: HttpRequest, obj: StaffAccount | None = None) -> bool:
        return False  # deactivate instead: the audit trail keeps naming the account

    def save_model(self, request: HttpRequest, obj: StaffAccount, form, change: bool) -> None:
        try:
            staff.update_staff_account(request, request.user, obj, obj.staff_role, obj.is_active)
        except staff.OwnAccount as exc:
            raise PermissionDenied(str(exc)) from exc
