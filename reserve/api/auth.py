"""API tokens: issued for a username and password (throttled), stored hashed with an expiry, revocable."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from reserve.api.base import BAD_REQUEST, FORBIDDEN, UNAUTHENTICATED, ApiMixin, ErrorSerializer, StrictInputSerializer
from reserve.api.permissions import request_roles


class TokenCreateApi(ApiMixin, APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    class TokenCreateInputSerializer(StrictInputSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})

    class TokenCreateOutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown only once")
        expiry = serializers.DateTimeField(allow_null=True)
        username = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())

    def get_authenticate_header(self, request: Request) -> str:
        return "Token"

    @extend_schema(
        tags=["auth"],
        auth=[],
        request=TokenCreateInputSerializer,
        responses={
            200: TokenCreateOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description="Account locked after repeated failures"),
            429: OpenApiResponse(ErrorSerializer, description="Too many attempts; retry later"),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.TokenCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request._request, **serializer.validated_data)
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Unknown username or wrong password.")
        instance, token = AuthToken.objects.create(user=user)
        request.user = user
        output = {"token": token, "expiry": instance.expiry, "username": user.get_username()}
        return Response(self.TokenCreateOutputSerializer(output | {"roles": sorted(request_roles(request))}).data)


class TokenRevokeApi(ApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["auth"], request=None, responses={204: None, 401: UNAUTHENTICATED, 403: FORBIDDEN})
    def post(self, request: Request) -> Response:
        """Revoke the token this request was made with (all of the user's tokens with `?all=true`)."""
        if request.query_params.get("all") == "true":
            AuthToken.objects.filter(user=request.user).delete()
        elif isinstance(request.auth, AuthToken):
            request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
