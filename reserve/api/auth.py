"""API tokens: issued for a username and password (throttled), stored hashed with an expiry, revocable."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from config.errors import ValidationFailed
from reserve.access.client import client_address
from reserve.access.two_factor import totp_device_matching, two_factor_required
from reserve.api.base import BAD_REQUEST, FORBIDDEN, UNAUTHENTICATED, ApiMixin, ErrorSerializer, StrictInputSerializer
from reserve.api.permissions import request_roles


class ClientScopedRateThrottle(ScopedRateThrottle):
    """Counts per client address as access/client.py decides it, never per a header's raw value."""

    def get_ident(self, request: Request) -> str:
        return client_address(request)


class TokenCreateApi(ApiMixin, APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "token"

    class TokenCreateInputSerializer(StrictInputSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
        otp_token = serializers.CharField(
            max_length=12,
            required=False,
            help_text="TOTP code; required for operator, approver and policy_admin accounts when two-factor is on",
        )

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
            429: OpenApiResponse(
                ErrorSerializer, description="Too many attempts from this address, or the account is locked out"
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.TokenCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credentials = dict(serializer.validated_data)
        otp_token = credentials.pop("otp_token", "")
        user = authenticate(request._request, **credentials)
        if getattr(request._request, "axes_locked_out", False):
            # Answer in the API's error shape; django-axes' middleware would put its HTML page here.
            request._request.axes_locked_out = False  # type: ignore[attr-defined]
            raise exceptions.Throttled(
                wait=get_cool_off(request._request).total_seconds(),
                detail="This account is locked after too many failed logins; try again later.",
            )
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Unknown username or wrong password.")
        # A token must not be a way around the second factor the admin demands of these roles.
        if two_factor_required(user) and (not otp_token or totp_device_matching(user=user, token=otp_token) is None):
            raise ValidationFailed.for_field(
                "otp_token", "a valid TOTP code from your enrolled device is required for this account"
            )
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
