"""Django admin for installation staff: operators and their quotas."""

from django.contrib import admin
from django.db.models import Count

from accounts.identifiers import OPERATOR_ID_RE
from accounts.models import Operator
from security import audit


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "credential_sets", "credential_quota")
    search_fields = ("id",)
    ordering = ("id",)
    fields = ("id", "created_at", "credential_quota")
    readonly_fields = ("id", "created_at")

    def get_object(self, request, object_id, from_field=None):
        # The admin's <path:object_id> takes any text; one that cannot be an operator ID
        # (NUL, which PostgreSQL refuses in a query, 10 kB ...) is a missing operator.
        if not OPERATOR_ID_RE.match(str(object_id)):
            return None
        return super().get_object(request, object_id, from_field)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_credential_sets=Count("credential_sets"))

    @admin.display(description="Credential sets", ordering="n_credential_sets")
    def credential_sets(self, operator: Operator) -> int:
        return operator.n_credential_sets

    def has_add_permission(self, request) -> bool:
        return False  # operators are created by sign-up or `manage.py createoperator`

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Operator, form, change: bool) -> None:
        before = (
            Operator.objects.filter(pk=obj.pk).values_list("credential_quota", flat=True).first()
        )
        super().save_model(request, obj, form, change)
        if "credential_quota" in form.changed_data:
            audit.record(
                request,
                "Installation:setQuota",
                operator=obj,
                principal=request.user,
                target=obj.pk,
                details={"credentials": {"from": before, "to": obj.credential_quota}},
            )
