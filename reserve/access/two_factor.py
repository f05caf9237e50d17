"""Two-factor login (TOTP, django-otp) for the admin's privileged accounts.

With settings.REQUIRE_TWO_FACTOR (on in production), operators, approvers, policy
administrators and superusers reach the admin only once this session was verified with a
confirmed TOTP device; without one they are sent to enrol first, which takes a one-time code
an administrator issued (access/enrolment.py), not the password alone. Failed passwords are
throttled by django-axes; failed codes by the device's own throttling.
"""

from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.widgets import UnfoldAdminTextInputWidget

from reserve.access.enrolment import enrolment_code_redeem
from reserve.access.models import EnrolmentCode
from reserve.access.roles import APPROVER, OPERATOR, POLICY_ADMIN, user_roles

PRIVILEGED_ROLES = frozenset({OPERATOR, APPROVER, POLICY_ADMIN})
VERIFY_URL_NAME = "two_factor_verify"
ENROL_URL_NAME = "two_factor_enrol"
ENROLMENT_SESSION_KEY = "two_factor_enrolment_code"
# How long after redeeming a code the session may confirm its device.
ENROLMENT_WINDOW = timedelta(minutes=30)


def two_factor_required(user: Any) -> bool:
    """Whether `user` must present a TOTP code to use the admin (under REQUIRE_TWO_FACTOR)."""
    if not settings.REQUIRE_TWO_FACTOR or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or user_roles(user) & PRIVILEGED_ROLES)


def totp_enrolment_start(*, user: Any) -> TOTPDevice:
    """A fresh unconfirmed device (a new secret) for `user`, replacing any earlier unconfirmed one,
    so a secret shown before a code was redeemed can never be confirmed."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Reserve Ledger admin", confirmed=False)


def totp_device_matching(*, user: Any, token: str, enrolling: bool = False) -> TOTPDevice | None:
    """The user's confirmed device (when enrolling: the one being enrolled, then confirmed) that
    accepts `token`, or None. Each device throttles repeated failures itself. Usable by any
    login path (e.g. an API token endpoint) that must ask privileged users for a code."""
    for device in TOTPDevice.objects.filter(user=user, confirmed=not enrolling).order_by("pk"):
        if device.verify_token(token.strip()):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            return device
    return None


def totp_verify(*, request: HttpRequest, token: str, enrolling: bool = False) -> bool:
    """Check `token` for the signed-in user and, if it matches, mark the session verified."""
    device = totp_device_matching(user=request.user, token=token, enrolling=enrolling)
    if device is None:
        return False
    otp_login(request, device)
    return True


def session_verified(user: Any) -> bool:
    """Whether this request's session passed two-factor (django_otp's OTPMiddleware tells)."""
    verified = getattr(user, "is_verified", None)
    return bool(verified and verified())


class AdminTwoFactorMiddleware:
    """Sends an unverified privileged user from any admin page to verify (or enrol). The API
    refuses the same session in its authentication (api/authentication.py), where it knows how
    the request was authenticated. Sits after django_otp's OTPMiddleware, which tells whether
    the session was verified."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._gate(request) or self.get_response(request)

    def _gate(self, request: HttpRequest) -> HttpResponse | None:
        if not settings.REQUIRE_TWO_FACTOR:
            return None
        open_paths = {reverse(name) for name in ("admin:login", "admin:logout", VERIFY_URL_NAME, ENROL_URL_NAME)}
        on_admin = request.path.startswith(reverse("admin:index")) and request.path not in open_paths
        if not on_admin or not two_factor_required(request.user) or session_verified(request.user):
            return None
        enrolled = TOTPDevice.objects.filter(user=request.user, confirmed=True).exists()
        target = reverse(VERIFY_URL_NAME if enrolled else ENROL_URL_NAME)
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")


class TokenForm(forms.Form):
    token = forms.CharField(
        label="6-digit code from your authenticator app",
        max_length=8,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("admin:index")


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> TemplateResponse:
    page = {**admin.site.each_context(request), "next": _next_url(request), **context}
    return TemplateResponse(request, template, page, status=400 if context["form"].errors else 200)


@never_cache
@login_required(login_url="admin:login")
def verify_view(request: HttpRequest) -> HttpResponse:
    if not TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return redirect(f"{reverse(ENROL_URL_NAME)}?{urlencode({'next': _next_url(request)})}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_verify(request=request, token=form.cleaned_data["token"]):
            return redirect(_next_url(request))
        form.add_error("token", "This code is wrong or expired; wait for the next one and try again.")
    return _page(request, "reserve/two_factor/verify.html", {"form": form, "title": "Two-factor verification"})


def _qr_svg(uri: str) -> str:
    # Drawn here rather than by an outside service, so the secret never leaves this page.
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff")
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the URI is encoded as modules, not text


class EnrolmentCodeForm(forms.Form):
    enrolment_code = forms.CharField(
        label="Enrolment code from your account administrator",
        max_length=32,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "off"}),
    )


def _enrolment_in_progress(request: HttpRequest) -> TOTPDevice | None:
    """The device this session may confirm: only after this session redeemed an enrolment code,
    within ENROLMENT_WINDOW of redeeming it."""
    code_id = request.session.get(ENROLMENT_SESSION_KEY)
    if code_id is None:
        return None
    user: Any = request.user
    redeemed = EnrolmentCode.objects.filter(
        pk=code_id, user=user, used_at__gt=timezone.now() - ENROLMENT_WINDOW
    ).exists()
    if not redeemed:
        request.session.pop(ENROLMENT_SESSION_KEY, None)
        return None
    return TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("-pk").first()


@never_cache
@login_required(login_url="admin:login")
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Step one asks for the enrolment code an administrator issued; only a session that
    redeemed one is shown a secret (step two) and may confirm it."""
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return redirect(f"{reverse(VERIFY_URL_NAME)}?{urlencode({'next': _next_url(request)})}")
    device = _enrolment_in_progress(request)
    if device is None:
        code_form = EnrolmentCodeForm(request.POST or None)
        if request.method == "POST" and code_form.is_valid():
            redeemed = enrolment_code_redeem(user=request.user, code=code_form.cleaned_data["enrolment_code"])
            if redeemed is not None:
                totp_enrolment_start(user=request.user)
                request.session[ENROLMENT_SESSION_KEY] = redeemed.pk
                return redirect(f"{reverse(ENROL_URL_NAME)}?{urlencode({'next': _next_url(request)})}")
            code_form.add_error(
                "enrolment_code",
                "This enrolment code is wrong, used or expired; ask an account administrator for a new one.",
            )
        context = {"form": code_form, "title": "Set up two-factor login"}
        return _page(request, "reserve/two_factor/enrol.html", context)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_verify(request=request, token=form.cleaned_data["token"], enrolling=True):
            request.session.pop(ENROLMENT_SESSION_KEY, None)
            return redirect(_next_url(request))
        form.add_error("token", "This code does not match the secret above; check the app's clock and try again.")
    context = {
        "form": form,
        "title": "Set up two-factor login",
        "otpauth_uri": device.config_url,
        "qr_svg": _qr_svg(device.config_url),
        "secret": b32encode(device.bin_key).decode(),
    }
    return _page(request, "reserve/two_factor/enrol.html", context)
