"""The Django admin as the installation administrators' own site: no tenant data, ever.

The admin is a generic browser of rows: a tenant model registered in it hands staff that
tenant's data without a grant and without a trace, and its changelists' query-string
lookups answer for every field of the row, one character at a time (issue 17, item 1).
So the rule is structural, not per field:

- only an active installation administrator passes `has_permission`, on every admin URL
  (support staff and tenants are sent to the sign-in page, whose form refuses them);
- the only model registered is StaffAccount (installation data; security/admin.py), and
  `register` refuses any model that holds or points at tenant data;
- the generic "view on site" redirect (`r/<content type>/<pk>/`), which answers for any
  row of any model, is not routed;
- what administrators legitimately change in a tenant, its credential-set quota, is a
  write-only form (`quotas/`) recorded in that tenant's audit log.
"""

from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from accounts.models import Operator, Principal, StaffAccount
from security import audit, staff
from security.forms_staff import InstallationAdminSignInForm, QuotaForm

# Django's permission groups: staff rights come from the staff role, so groups are not
# offered at all (django.contrib.auth's admin registers them; the site declines quietly).
NOT_OFFERED = (Group,)


def holds_tenant_data(model: type[models.Model]) -> bool:
    """Return whether rows of this model are, belong to or relate to operators or principals."""
    if model is StaffAccount:
        return False  # its manager lists staff accounts only
    if issubclass(model, Operator | Principal):
        return True
    return any(
        f.is_relation
        and f.related_model is not None
        and issubclass(f.related_model, Operator | Principal)
        for f in model._meta.get_fields()
    )


class InstallationAdminSite(admin.AdminSite):
    site_header = "Latchkey installation"
    site_title = "Latchkey admin"
    index_title = "Installation administration"
    site_url = None  # administrators have no other pages; support pages are not theirs
    login_form = InstallationAdminSignInForm
    index_template = "admin/latchkey_index.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return staff.is_installation_admin(request.user)

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        models_ = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        models_ = [m for m in models_ if m not in NOT_OFFERED]
        if not models_:
            return
        refused = [m.__name__ for m in models_ if holds_tenant_data(m)]
        if refused:
            raise ValueError(
                f"{', '.join(refused)} holds tenant data: staff see it only through the "
                "audited support pages (/staff/), never through the admin."
            )
        super().register(models_, admin_class, **options)

    def get_urls(self) -> list:
        urls = [u for u in super().get_urls() if getattr(u, "name", None) != "view_on_site"]
        return [path("quotas/", self.admin_view(self.quota_view), name="quota"), *urls]

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if getattr(form, "retry_after", 0):
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        elif request.method == "POST" and response.status_code == 302:
            if staff.is_installation_admin(request.user):
                staff.remember_device(request, response, request.user)
        return response

    def password_change(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        response = super().password_change(request, extra_context)
        if request.method == "POST" and response.status_code == 302:
            audit.record(
                request,
                "Installation:changeStaffPassword",
                operator=None,
                principal=request.user,
                target=request.user.handle,
            )
        return response

    def quota_view(self, request: HttpRequest) -> HttpResponse:
        """Set an operator's credential-set quota (the form shows nothing of the tenant)."""
        form = QuotaForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and form.apply(request):
            data = form.cleaned_data
            messages.success(
                request,
                f"{data['operator_id']} may now hold up to {data['credentials']} credential "
                "sets; the change and your reason are in its audit log.",
            )
            return redirect("admin:quota")
        context = {
            **self.each_context(request),
            "title": "Set a credential-set quota",
            "form": form,
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "admin/latchkey_quota.html", context, status=status)
