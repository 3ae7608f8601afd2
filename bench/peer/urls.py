"""Two listings, one per peer: each authenticates (one query) and reads (one query).

That is the shape of Latchkey's authenticated `GET /v1/operators/{id}/auth_keys`: the
credential check, then the caller's keys.
"""

from django.contrib.auth.models import AnonymousUser
from django.urls import path
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import HasAPIKey


class ApiKeyList(APIView):
    """The live API keys, behind djangorestframework-api-key's HasAPIKey."""

    authentication_classes: list = []
    permission_classes = [HasAPIKey]

    def get(self, request: Request) -> Response:
        keys = APIKey.objects.filter(revoked=False).values("prefix", "name", "created")
        return Response(
            [{"id": k["prefix"], "name": k["name"], "created": k["created"]} for k in keys]
        )


class TokenList(APIView):
    """The caller's tokens, behind DRF's TokenAuthentication."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        assert not isinstance(request.user, AnonymousUser)
        tokens = Token.objects.filter(user=request.user).values("user_id", "created")
        return Response([{"id": t["user_id"], "created": t["created"]} for t in tokens])


urlpatterns = [
    path("apikey/keys", ApiKeyList.as_view()),
    path("token/keys", TokenList.as_view()),
]
