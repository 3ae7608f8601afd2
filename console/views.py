"""The health endpoint: the one view of the kit (it knows nothing of the product)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer load balancers: the process is up (no database round trip)."""
    return JsonResponse({"status": "ok"})
