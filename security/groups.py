"""Groups (minimal): per-service destinations that may use one of the operator's credential sets.

A group exists here so that a credential set has a user: a set referenced by a group's
service configuration cannot be deleted (see credentials.delete_credential_set).
"""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.identifiers import NAME_RULE, is_valid_name
from accounts.models import Principal
from console import secretscan
from security import audit
from security.models import CredentialSet, Group, GroupServiceConfig

URL_MAX = 2000
_url_validator = URLValidator(schemes=["http", "https"])


class GroupInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(" ".join(errors.values()))


def groups_of(operator_id: str) -> QuerySet[Group]:
    """Return the operator's groups with their services and credential sets, by name."""
    services = GroupServiceConfig.objects.select_related("credential_set").order_by("service")
    return (
        Group.objects.filter(operator_id=operator_id)
        .prefetch_related(Prefetch("services", queryset=services))
        .order_by("name")
    )


def get_group(operator_id: str, name: str) -> Group | None:
    if not is_valid_name(name):
        return None
    return groups_of(operator_id).filter(name=name).first()


def _validated_configs(
    operator_id: str, configs: dict[str, tuple[str, str]]
) -> tuple[dict[str, tuple[str, CredentialSet | None]], dict[str, str]]:
    """Return {service: (url, locked credential set or None)} for the configured services."""
    result: dict[str, tuple[str, CredentialSet | None]] = {}
    errors: dict[str, str] = {}
    for service, (url, credentials_id) in configs.items():
        if service not in GroupServiceConfig.Service.values:
            errors["__all__"] = f"Unknown service {service}."
            continue
        url = (url or "").strip()
        if not url:
            if credentials_id:
                errors[f"{service}_url"] = "Give a destination URL to use a credential set."
            continue
        if len(url) > URL_MAX:
            errors[f"{service}_url"] = f"The URL is too long (at most {URL_MAX} characters)."
            continue
        try:
            _url_validator(url)
        except ValidationError:
            errors[f"{service}_url"] = "Enter an http:// or https:// URL."
            continue
        if secretscan.contains_secret(url):
            errors[f"{service}_url"] = secretscan.message("URL", secretscan.first_kind(url))
            continue
        cs = None
        if credentials_id:
            # Locked so that a concurrent delete of the set waits for this change.
            cs = (
                CredentialSet.objects.select_for_update()
                .filter(operator_id=operator_id, credentials_id=credentials_id)
                .first()
                if is_valid_name(credentials_id)
                else None
            )
            if cs is None:
                errors[f"{service}_credentials"] = "No credential set with this ID."
                continue
        result[service] = (url, cs)
    return result, errors


def _write_services(group: Group, configs: dict[str, tuple[str, CredentialSet | None]]) -> None:
    group.services.exclude(service__in=list(configs)).delete()
    for service, (url, cs) in configs.items():
        GroupServiceConfig.objects.update_or_create(
            group=group,
            service=service,
            defaults={"destination_url": url, "credential_set": cs},
        )


def _summary(configs: dict[str, tuple[str, CredentialSet | None]]) -> dict:
    return {
        service: {"credentialsId": cs.credentials_id if cs else ""}
        for service, (_url, cs) in configs.items()
    }


@transaction.atomic
def create_group(
    request: HttpRequest | None,
    actor: Principal,
    name: str,
    configs: dict[str, tuple[str, str]],
) -> Group:
    if not is_valid_name(name):
        raise GroupInvalid({"name": f"Use {NAME_RULE}"})
    if secretscan.contains_secret(name):
        raise GroupInvalid({"name": secretscan.message("group name", secretscan.first_kind(name))})
    clean, errors = _validated_configs(actor.operator_id, configs)
    if errors:
        raise GroupInvalid(errors)
    try:
        with transaction.atomic():
            group = Group.objects.create(operator_id=actor.operator_id, name=name)
    except IntegrityError:
        raise GroupInvalid({"name": f"A group named {name} already exists."}) from None
    _write_services(group, clean)
    audit.record(
        request,
        "Group:createGroup",
        operator=actor.operator_id,
        principal=actor,
        target=name,
        details=_summary(clean),
    )
    return group


@transaction.atomic
def update_group(
    request: HttpRequest | None,
    actor: Principal,
    group: Group,
    configs: dict[str, tuple[str, str]],
) -> Group:
    clean, errors = _validated_configs(actor.operator_id, configs)
    if errors:
        raise GroupInvalid(errors)
    _write_services(group, clean)
    Group.objects.filter(pk=group.pk).update(updated_at=timezone.now())
    audit.record(
        request,
        "Group:updateGroup",
        operator=actor.operator_id,
        principal=actor,
        target=group.name,
        details=_summary(clean),
    )
    return group


@transaction.atomic
def delete_group(request: HttpRequest | None, actor: Principal, group: Group) -> None:
    name = group.name
    group.delete()
    audit.record(
        request, "Group:deleteGroup", operator=actor.operator_id, principal=actor, target=name
    )
