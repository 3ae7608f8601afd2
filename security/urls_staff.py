"""Staff URLs under /staff/: support staff only (their own sign-in), never tenants."""

from django.urls import path

from security import views_support

urlpatterns: list = [
    path("", views_support.staff_home, name="staff-home"),
    path("login/", views_support.staff_login, name="staff-login"),
    path("logout/", views_support.staff_logout, name="staff-logout"),
    path("authkeys/", views_support.staff_authkeys, name="staff-authkeys"),
    path("authkeys/<keyid:key_id>/revoke", views_support.staff_revoke, name="staff-revoke"),
    path("operators/", views_support.staff_operators, name="staff-operators"),
    path("operators/<opid:operator_id>/", views_support.staff_operator, name="staff-operator"),
]
