"""Groups (minimal): per-service destinations that may use one of the operator's credential sets.

A group exists here so that a credential set has a user: a set referenced by a group's
service configuration cannot be deleted (see credentials.delete_credential_set).

Attaching a credential set to a destination is a use of that set: whatever the platform
sends there will carry the set's secrets. So it is authorized as such, by the same policy
call as every operation, under `Credential:useCredential` with the set's ID as the
`credentials_id` path variable; group permissions alone never point a set anywhere. A
service configuration left exactly as it was needs no such permission (editing another
service of the group does not re-point it). The audit entry of every create, update and
delete records each service's destination and set before and after.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import policy
from accounts.context import CallContext
from accounts.identifiers import is_valid_name, name_problem
from accounts.models import Principal
from accounts.permissions import register_operation
from console import secretscan
from security import audit, credentials, destinations
from security.models import AuditEntry, CredentialSet, Group, GroupServiceConfig

USE_API = "Credential:useCredential"
register_operation(USE_API)


class GroupInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(" ".join(errors.values()))


@dataclass(frozen=True)
class Destination:
    """One service's configuration as submitted or stored: a URL and a set ID (or "")."""

    url: str
    credentials_id: str = ""


def groups_of(operator_id: str) -> QuerySet[Group]:
    """Return the operator's groups with their services and credential sets, by name."""
    services = GroupServiceConfig.objects.select_related("credential_set").order_by("service")
    return (
        Group.objects.filter(operator_id=operator_id)
        .prefetch_related(Prefetch("services", queryset=services))
        .order_by("name")
    )


def listed_groups(operator_id: str) -> list[Group]:
    """Return groups_of(operator_id) with each service's `shown_url` (no stored userinfo)."""
    listed = list(groups_of(operator_id))
    for group in listed:
        for config in group.services.all():
            config.shown_url = destinations.shown(config.destination_url)
    return listed


def get_group(operator_id: str, name: str) -> Group | None:
    if not is_valid_name(name):
        return None
    return groups_of(operator_id).filter(name=name).first()


# --- the use of a credential set ----------------------------------------------------------


def may_use(request: HttpRequest | None, actor: Principal, credentials_id: str) -> bool:
    """Return whether actor may attach the set with this ID to a destination."""
    path_vars = {"credentials_id": credentials_id}
    if request is not None:
        ctx = CallContext.from_request(request, actor, USE_API, path_vars)
    else:
        ctx = CallContext(actor, USE_API, source_ip="", method="POST", path_vars=path_vars)
    return policy.is_allowed(ctx)


def usable_sets(request: HttpRequest | None, actor: Principal) -> list[CredentialSet]:
    """Return the operator's credential sets that actor may attach to a destination."""
    return [
        cs
        for cs in credentials.credential_sets(actor.operator_id)
        if may_use(request, actor, cs.credentials_id)
    ]


def _deny_use(request: HttpRequest | None, actor: Principal, credentials_id: str, where: str):
    audit.record(
        request,
        USE_API,
        operator=actor.operator_id,
        principal=actor,
        outcome=AuditEntry.Outcome.DENIED,
        target=credentials_id,
        details={"destination": where},
    )


# --- validation ---------------------------------------------------------------------------


def stored_destinations(group: Group | None) -> dict[str, Destination]:
    """Return {service: Destination} as the group holds them now ({} for no group)."""
    if group is None:
        return {}
    return {
        config.service: Destination(
            config.destination_url,
            config.credential_set.credentials_id if config.credential_set else "",
        )
        for config in group.services.select_related("credential_set")
    }


def _unchanged(stored: Destination | None, wanted: Destination) -> bool:
    """Return whether wanted leaves the stored configuration pointing where it did.

    Dropping a stored user name and password (which the dialog never shows) does not
    re-point a destination.
    """
    if stored is None:
        return False
    return wanted in (stored, Destination(destinations.shown(stored.url), stored.credentials_id))


def _checked(
    request: HttpRequest | None,
    actor: Principal,
    group_name: str,
    configs: dict[str, tuple[str, str]],
    stored: dict[str, Destination],
) -> dict[str, Destination]:
    """Return the configured services, validated and with every set's use authorized.

    Raise GroupInvalid naming each refused field. A refused use is audited (denied) here,
    outside the transaction that would have written the group, so that it stays recorded.
    """
    result: dict[str, Destination] = {}
    errors: dict[str, str] = {}
    for service, (url, credentials_id) in configs.items():
        if service not in GroupServiceConfig.Service.values:
            errors["__all__"] = f"Unknown service {service}."
            continue
        url, credentials_id = (url or "").strip(), credentials_id or ""
        if not url:
            if credentials_id:
                errors[f"{service}_url"] = "Give a destination URL to use a credential set."
            continue
        wanted = Destination(url, credentials_id)
        if _unchanged(stored.get(service), wanted):
            result[service] = wanted  # left as it was: neither re-checked nor re-pointed
            continue
        try:
            destinations.validate(url)
        except destinations.DestinationInvalid as exc:
            errors[f"{service}_url"] = str(exc)
            continue
        # Decided on the ID before any look-up, so that the answer reveals nothing about
        # sets the actor may not use.
        if credentials_id and not may_use(request, actor, credentials_id):
            _deny_use(request, actor, credentials_id, f"{group_name}/{service}")
            errors[f"{service}_credentials"] = (
                f"You do not have permission for {USE_API} on this credential set."
            )
            continue
        result[service] = wanted
    if errors:
        raise GroupInvalid(errors)
    return result


def _locked_sets(operator_id: str, wanted: dict[str, Destination]) -> dict[str, CredentialSet]:
    """Return {service: its credential set}, locked so that a delete of it waits for us."""
    locked: dict[str, CredentialSet] = {}
    errors: dict[str, str] = {}
    for service, destination in wanted.items():
        if not destination.credentials_id:
            continue
        cs = (
            CredentialSet.objects.select_for_update()
            .filter(operator_id=operator_id, credentials_id=destination.credentials_id)
            .first()
            if is_valid_name(destination.credentials_id)
            else None
        )
        if cs is None:
            errors[f"{service}_credentials"] = "No credential set with this ID."
        else:
            locked[service] = cs
    if errors:
        raise GroupInvalid(errors)
    return locked


def _write_services(group: Group, wanted: dict[str, Destination], sets: dict) -> None:
    group.services.exclude(service__in=list(wanted)).delete()
    for service, destination in wanted.items():
        GroupServiceConfig.objects.update_or_create(
            group=group,
            service=service,
            defaults={"destination_url": destination.url, "credential_set": sets.get(service)},
        )


def _summary(destinations_by_service: dict[str, Destination]) -> dict:
    """Return the audit form of a group's services (URLs without any stored userinfo)."""
    return {
        service: {"url": destinations.shown(d.url), "credentialsId": d.credentials_id}
        for service, d in sorted(destinations_by_service.items())
    }


def _audit(request, actor: Principal, api: str, name: str, before: dict, after: dict) -> None:
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        target=name,
        details={"before": _summary(before), "after": _summary(after)},
    )


# --- commands -----------------------------------------------------------------------------


def create_group(
    request: HttpRequest | None,
    actor: Principal,
    name: str,
    configs: dict[str, tuple[str, str]],
) -> Group:
    if not is_valid_name(name):
        raise GroupInvalid({"name": name_problem(name, "group name")})
    if secretscan.contains_secret(name):
        raise GroupInvalid({"name": secretscan.message("group name", secretscan.first_kind(name))})
    wanted = _checked(request, actor, name, configs, stored={})
    with transaction.atomic():
        sets = _locked_sets(actor.operator_id, wanted)
        try:
            with transaction.atomic():
                group = Group.objects.create(operator_id=actor.operator_id, name=name)
        except IntegrityError:
            raise GroupInvalid({"name": f"A group named {name} already exists."}) from None
        _write_services(group, wanted, sets)
        _audit(request, actor, "Group:createGroup", name, {}, wanted)
    return group


GONE = "This group was deleted meanwhile."


def update_group(
    request: HttpRequest | None,
    actor: Principal,
    group: Group,
    configs: dict[str, tuple[str, str]],
) -> Group:
    before = stored_destinations(group)
    wanted = _checked(request, actor, group.name, configs, stored=before)
    with transaction.atomic():
        # What _checked took as unchanged must still be so when it is written, and the
        # group must still be there (its services would point at a deleted row).
        if Group.objects.select_for_update().filter(pk=group.pk).first() is None:
            raise GroupInvalid({"__all__": GONE})
        if stored_destinations(group) != before:
            raise GroupInvalid(
                {"__all__": "Someone changed this group meanwhile. Reload it and try again."}
            )
        sets = _locked_sets(actor.operator_id, wanted)
        _write_services(group, wanted, sets)
        Group.objects.filter(pk=group.pk).update(updated_at=timezone.now())
        _audit(request, actor, "Group:updateGroup", group.name, before, wanted)
    return group


@transaction.atomic
def delete_group(request: HttpRequest | None, actor: Principal, group: Group) -> None:
    # Locked first, as an update locks it: the two queue instead of racing.
    if Group.objects.select_for_update().filter(pk=group.pk).first() is None:
        return  # deleted meanwhile: already what was asked
    name, before = group.name, stored_destinations(group)
    group.delete()
    _audit(request, actor, "Group:deleteGroup", name, before, {})
