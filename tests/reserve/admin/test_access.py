"""Access: the TOTP gate in front of the admin for privileged roles, django-axes' login lockout,
and the accounts page (roles, TOTP status, audited role changes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from reserve.access.enrolment import enrolment_code_issue
from reserve.audit.models import AuditEvent
from tests.reserve.admin.conftest import make_user
from tests.users import PASSWORD

pytestmark = pytest.mark.django_db


def code(device: TOTPDevice) -> str:
    """The code an authenticator app shows now, computed from the device's key."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


@override_settings(REQUIRE_TWO_FACTOR=True)
def test_a_privileged_user_passes_only_after_verifying_a_totp_code(
    approver: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given
    device = TOTPDevice.objects.create(user=approver, name="phone", confirmed=True)
    client = signed_in(approver)
    transfers = reverse("admin:reserve_transfer_changelist")
    # when
    blocked = client.get(transfers)
    # then
    assert blocked.status_code == 302
    assert blocked["Location"] == f"{reverse('two_factor_verify')}?next=%2Fadmin%2Freserve%2Ftransfer%2F"
    # when: a wrong code
    wrong = client.post(reverse("two_factor_verify"), {"token": f"{(int(code(device)) + 1) % 10**6:06d}"})
    # then
    assert wrong.status_code == 400
    assert client.get(transfers).status_code == 302
    # ...and the same session gets nothing from the API either
    refused = client.get("/api/v1/transfers/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "two_factor_required"
    # when: the current code (the device throttles after a failure, so wait out its delay)
    time.sleep(1.1)
    verified = client.post(reverse("two_factor_verify"), {"token": code(device), "next": transfers})
    # then
    assert verified.status_code == 302 and verified["Location"] == transfers
    assert client.get(transfers).status_code == 200
    assert client.get("/api/v1/transfers/").status_code == 200


@override_settings(REQUIRE_TWO_FACTOR=True)
def test_without_a_device_the_user_enrols_first_with_an_issued_code(
    operator: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given: an account administrator issued a code and handed it over
    issued = enrolment_code_issue(actor=None, user=operator)
    client = signed_in(operator)
    # when
    blocked = client.get(reverse("admin:index"))
    asked = client.get(blocked["Location"])
    # then: asked for the code, shown no secret yet
    assert blocked["Location"].startswith(reverse("two_factor_enrol"))
    assert "enrolment_code" in asked.content.decode() and "secret" not in asked.context
    # when
    redeemed = client.post(reverse("two_factor_enrol"), {"enrolment_code": issued.lower().replace("-", " ")})
    enrolment = client.get(redeemed["Location"])
    # then
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    page = enrolment.content.decode()
    assert "otpauth://totp/Reserve%20Ledger%3Aolga?secret=" in page
    assert enrolment.context["secret"] in page
    assert "<svg" in page  # the QR code of the otpauth URI
    # when
    confirmed = client.post(reverse("two_factor_enrol"), {"token": code(device)})
    # then
    device.refresh_from_db()
    assert confirmed.status_code == 302 and device.confirmed
    assert client.get(reverse("admin:index")).status_code == 200


@override_settings(REQUIRE_TWO_FACTOR=True)
def test_auditors_are_not_asked_and_the_gate_is_off_by_default(
    auditor: Any, operator: Any, signed_in: Callable[[Any], Client]
) -> None:
    # then
    assert signed_in(auditor).get(reverse("admin:index")).status_code == 200
    with override_settings(REQUIRE_TWO_FACTOR=False):
        assert signed_in(operator).get(reverse("admin:index")).status_code == 200


def test_five_bad_passwords_lock_the_account_out(operator: Any) -> None:
    # given
    client = Client()
    login = reverse("admin:login")
    # when
    for _ in range(5):
        assert client.post(login, {"username": "olga", "password": "wrong"}).status_code in (200, 429)
    locked = client.post(login, {"username": "olga", "password": PASSWORD})
    # then
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_accounts_page_shows_roles_and_who_has_two_factor(
    operator: Any, approver: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given
    TOTPDevice.objects.create(user=approver, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=operator, name="unfinished", confirmed=False)
    root = signed_in(make_user("root", superuser=True))
    # when
    response = root.get(reverse("admin:auth_user_changelist"))
    # then
    rows = {user.username: user for user in response.context["cl"].result_list}
    assert response.status_code == 200
    assert (rows["ana"].has_totp, rows["olga"].has_totp) == (True, False)
    assert "approver" in response.content.decode()


def test_role_changes_made_in_the_admin_are_audited(approver: Any, signed_in: Callable[[Any], Client]) -> None:
    # given
    root = make_user("root", superuser=True)
    client = signed_in(root)
    operator_group = Group.objects.get(name="operator")
    approver_group = Group.objects.get(name="approver")
    data = {
        "username": "ana",
        "is_active": "on",
        "is_staff": "on",
        "groups": [str(approver_group.pk), str(operator_group.pk)],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    # when
    response = client.post(reverse("admin:auth_user_change", args=[approver.pk]), data)
    # then
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(action="account.change", object_id=str(approver.pk))
    assert event.actor == root
    assert event.before is not None and event.after is not None
    assert (event.before["groups"], event.after["groups"]) == (["approver"], ["approver", "operator"])


@override_settings(REQUIRE_TWO_FACTOR=True)
def test_an_api_token_for_a_privileged_user_needs_a_totp_code(approver: Any, auditor: Any) -> None:
    # given
    device = TOTPDevice.objects.create(user=approver, name="phone", confirmed=True)
    client = Client()
    url = "/api/v1/auth/token/"
    # when: password alone
    refused = client.post(url, {"username": approver.username, "password": PASSWORD}, content_type="application/json")
    # then: no token, and the error names the missing field
    assert refused.status_code == 400
    assert "otp_token" in refused.json()["error"]["fields"]
    # when: a wrong code
    wrong_code = f"{(int(code(device)) + 1) % 10**6:06d}"
    wrong = client.post(
        url,
        {"username": approver.username, "password": PASSWORD, "otp_token": wrong_code},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    # when: the current code (the device throttles after a failure, so wait out its delay)
    time.sleep(1.1)
    issued = client.post(
        url,
        {"username": approver.username, "password": PASSWORD, "otp_token": code(device)},
        content_type="application/json",
    )
    assert issued.status_code == 200 and issued.json()["token"]
    # and an auditor (read-only) is not asked for a code
    auditor_token = client.post(
        url, {"username": auditor.username, "password": PASSWORD}, content_type="application/json"
    )
    assert auditor_token.status_code == 200
