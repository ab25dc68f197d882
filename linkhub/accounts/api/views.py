"""Auth API: exchange credentials for a token; list, create and revoke tokens; consent."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from linkhub.schema import errors

from .. import selectors, services
from ..models import ConsentChange
from .serializers import (
    ApiTokenSerializer,
    ConsentSerializer,
    TokenLoginSerializer,
    TokenResponseSerializer,
)


class TokenLoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token_login"

    def get_authenticate_header(self, request):
        # Makes a failed login a 401 (with WWW-Authenticate), not a 403.
        return "Token"

    @extend_schema(request=TokenLoginSerializer, responses={201: TokenResponseSerializer, **errors(401)})
    def post(self, request):
        data = TokenLoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request, username=data.validated_data["username"], password=data.validated_data["password"]
        )
        if user is None:
            raise AuthenticationFailed("Wrong username or password.")
        token, key = services.api_token_create(user=user, name=data.validated_data["name"])
        return Response({"token": key, "id": token.id, "name": token.name}, status=status.HTTP_201_CREATED)


class TokenListView(APIView):
    @extend_schema(responses=ApiTokenSerializer(many=True))
    def get(self, request):
        return Response(ApiTokenSerializer(selectors.api_token_list(user=request.user), many=True).data)


class TokenRevokeView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int):
        services.api_token_revoke(user=request.user, token_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConsentView(APIView):
    @extend_schema(responses=ConsentSerializer)
    def get(self, request):
        return Response({"training_consent": selectors.training_consent_get(user=request.user)})

    @extend_schema(request=ConsentSerializer, responses=ConsentSerializer)
    def patch(self, request):
        """Choose what your data may train: ``none``, ``own`` or ``shared`` (every change recorded)."""
        return self._set(request)

    @extend_schema(request=ConsentSerializer, responses=ConsentSerializer)
    def put(self, request):
        return self._set(request)

    def _set(self, request):
        data = ConsentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = services.training_consent_set(
            user=request.user,
            actor=request.user,
            consent=data.validated_data["training_consent"],
            source=ConsentChange.Source.API,
        )
        return Response({"training_consent": profile.training_consent})
