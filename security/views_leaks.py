"""POST /v1/leaks/github: GitHub secret scanning's reports of leaked AuthKey secrets.

No Latchkey credential: the ECDSA signature of the raw body under a key the installation
trusts is the credential (security/leaks.py). Refusals change nothing: 413 for a body over
LATCHKEY_LEAK_MAX_BODY_BYTES, 401 for a missing or unknown key identifier or a signature
that does not verify (checked before the body is parsed), 400 for a body that is not a
report, 429 once a source address has sent too many bad signatures. The body is never
logged: it holds the reported tokens.
"""

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts import throttle
from console.net import client_ip, throttle_source
from security import leaks

KEY_ID_HEADER = "HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER"
SIGNATURE_HEADER = "HTTP_GITHUB_PUBLIC_KEY_SIGNATURE"


def _error(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"code": code, "message": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _bucket(request: HttpRequest) -> throttle.Bucket:
    source = throttle_source(client_ip(request))
    return throttle.Bucket(f"leak-ip|{source}", settings.LATCHKEY_LEAK_BAD_SIGNATURES_PER_IP)


@csrf_exempt  # not a browser form: the signature authenticates the request
@require_POST
def github(request: HttpRequest) -> HttpResponse:
    """Take GitHub secret scanning's report of leaked secrets; answer each token's label."""
    limit = settings.LATCHKEY_LEAK_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if length < 0:
        return _error(400, "LKY0400", "Invalid Content-Length.")
    if length > limit:
        return _error(413, "LKY0413", f"Request body over {limit} bytes.")
    bucket = _bucket(request)
    wait, _ = throttle.check([bucket])
    if wait:
        return _error(429, "LKY0429", "Too many bad signatures.", **{"Retry-After": str(wait)})
    body = request.body
    if len(body) > limit:
        return _error(413, "LKY0413", f"Request body over {limit} bytes.")
    try:
        leaks.verify_signature(
            body, request.META.get(KEY_ID_HEADER, ""), request.META.get(SIGNATURE_HEADER, "")
        )
    except leaks.BadSignature:
        throttle.record_failure([bucket])
        return _error(401, "LKY0401", "The signature is missing, unknown or not valid.")
    try:
        items = leaks.parse_report(json.loads(body))
    except RecursionError:  # a signed body nested thousands deep: refused, never a 500
        return _error(400, "LKY0400", "The body is nested too deeply.")
    except (ValueError, leaks.BadReport) as exc:
        message = str(exc) if isinstance(exc, leaks.BadReport) else "The body is not JSON."
        return _error(400, "LKY0400", message)
    return JsonResponse(leaks.intake(request, items), safe=False)
