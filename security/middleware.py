"""Console middleware of the product: switched console sessions end with their cause."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from security import switching


class SwitchedSessionMiddleware:
    """Sign out a switched console session on the first request after it ended.

    A console switch (security/switching.py) is backed by a switched API session, so every
    event that ends one (the source revoked or deleted, the target's trust policy changed,
    "end switched sessions") ends the other, in every worker, on the next request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/v1/"):
            switching.check_console_switch(request)
        return self.get_response(request)
