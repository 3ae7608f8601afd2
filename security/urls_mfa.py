"""Second factors in the console, under /security/: root's account page and a SAM user's."""

from django.urls import path

from security import views_mfa as views

urlpatterns = [
    path("account/mfa/", views.account_mfa, name="account-mfa"),
    path("account/mfa/enable", views.account_mfa_enable, name="account-mfa-enable"),
    path("account/mfa/verify", views.account_mfa_verify, name="account-mfa-verify"),
    path("account/mfa/revoke", views.account_mfa_revoke, name="account-mfa-revoke"),
    path("account/mfa/requirement", views.account_mfa_requirement, name="account-mfa-requirement"),
    path("users/<name:user_name>/mfa", views.user_mfa, name="user-mfa"),
    path("users/<name:user_name>/mfa/enable", views.user_mfa_enable, name="user-mfa-enable"),
    path("users/<name:user_name>/mfa/verify", views.user_mfa_verify, name="user-mfa-verify"),
    path("users/<name:user_name>/mfa/revoke", views.user_mfa_revoke, name="user-mfa-revoke"),
]
