"""SAM users: the service functions that the console and the API both call."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.identifiers import validate_name
from accounts.models import Operator, Principal
from security import audit


class UserExists(Exception):
    pass


def sam_users(operator: Operator):
    return Principal.objects.filter(operator=operator, kind=Principal.Kind.SAM)


def get_sam_user(operator: Operator, user_name: str) -> Principal | None:
    """Return the operator's SAM user of that name, or None (other tenants never match)."""
    return sam_users(operator).filter(user_name=user_name).first()


def validate_description(description: str) -> None:
    if len(description) > 1000:
        raise ValidationError("The description is too long (at most 1000 characters).")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in description):
        raise ValidationError("The description contains control characters.")


@transaction.atomic
def create_user(
    request: HttpRequest | None, actor: Principal, user_name: str, description: str = ""
) -> Principal:
    validate_name(user_name)
    validate_description(description)
    try:
        with transaction.atomic():
            user = Principal.objects.create_sam_user(actor.operator, user_name, description)
    except IntegrityError as exc:
        raise UserExists(f"A user named {user_name} already exists.") from exc
    audit.record(
        request, "User:createUser", operator=actor.operator, principal=actor, target=user_name
    )
    return user


@transaction.atomic
def update_description(
    request: HttpRequest | None, actor: Principal, user: Principal, description: str
) -> None:
    validate_description(description)
    user.description = description
    user.save(update_fields=["description", "updated_at"])
    audit.record(
        request, "User:updateUser", operator=actor.operator, principal=actor, target=user.user_name
    )


@transaction.atomic
def set_password(
    request: HttpRequest | None, actor: Principal, user: Principal, password: str, api: str
) -> None:
    """Set a principal's password after the validators accept it (ValidationError if not)."""
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password", "password_changed_at", "updated_at"])
    audit.record(
        request, api, operator=actor.operator, principal=actor, target=user.user_name or user.email
    )


@transaction.atomic
def remove_password(request: HttpRequest | None, actor: Principal, user: Principal) -> None:
    user.set_unusable_password()
    user.save(update_fields=["password", "password_changed_at", "updated_at"])
    audit.record(
        request,
        "User:deleteUserPassword",
        operator=actor.operator,
        principal=actor,
        target=user.user_name,
    )


@transaction.atomic
def delete_user(request: HttpRequest | None, actor: Principal, user: Principal) -> None:
    name = user.user_name
    user.delete()
    audit.record(request, "User:deleteUser", operator=actor.operator, principal=actor, target=name)
