"""What a permission decision looks at: who calls, which API, from where, when, on what."""

from dataclasses import dataclass, field
from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Principal
from console.net import client_ip


@dataclass(frozen=True)
class CallContext:
    principal: Principal
    api: str  # "Tag:operationId", e.g. "User:generateUserAuthKey"
    source_ip: str
    method: str
    path_vars: dict[str, str] = field(default_factory=dict)
    now: datetime = field(default_factory=timezone.now)
    # The operator's policy version when known (the API session look-up reads it), so that
    # the policy engine needs no query of its own on the hot path; None: the engine reads it.
    policy_version: int | None = None

    @classmethod
    def from_request(
        cls,
        request: HttpRequest,
        principal: Principal,
        api: str,
        path_vars: dict[str, str],
        policy_version: int | None = None,
    ) -> "CallContext":
        return cls(
            principal=principal,
            api=api,
            source_ip=client_ip(request),
            method=request.method or "GET",
            path_vars={k: str(v) for k, v in path_vars.items()},
            policy_version=policy_version,
        )
