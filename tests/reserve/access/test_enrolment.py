"""Way 2 of issue 11: whoever holds only a privileged user's password cannot enrol a second factor.

Enrolment takes a one-time code issued by someone else (an administrator in the admin, or the
server's shell), bound to the user, valid once and until it expires, stored only as a hash."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.errors import PermissionDenied
from reserve.access.enrolment import enrolment_code_issue, enrolment_code_redeem
from reserve.access.models import EnrolmentCode
from reserve.audit.models import AuditEvent
from tests.users import PASSWORD, make_user

ENROL = "two_factor_enrol"


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


def _password_login(username: str) -> Client:
    """What the password thief can do: log in through the admin's own form."""
    client = Client()
    response = client.post(reverse("admin:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


@pytest.mark.django_db
@override_settings(REQUIRE_TWO_FACTOR=True)
def test_the_password_alone_is_shown_no_secret_and_cannot_confirm_a_device(operator: Any) -> None:
    # given
    thief = _password_login(operator.username)
    # when
    page = thief.get(reverse(ENROL))
    guessed = thief.post(reverse(ENROL), {"token": "123456"})
    wrong_code = thief.post(reverse(ENROL), {"enrolment_code": "2345-6789-ABCD-EFGH"})
    # then
    assert page.status_code == 200 and "secret" not in page.context and "otpauth://" not in page.content.decode()
    assert guessed.status_code == 400 and "enrolment_code" in guessed.context["form"].errors
    assert wrong_code.status_code == 400
    assert "wrong, used or expired" in wrong_code.context["form"].errors["enrolment_code"][0]
    assert not TOTPDevice.objects.filter(user=operator).exists()
    assert thief.get(reverse("admin:index")).status_code == 302


@pytest.mark.django_db
@override_settings(REQUIRE_TWO_FACTOR=True)
def test_a_code_works_once_only_for_its_user_and_not_after_it_expires(operator: Any, approver: Any) -> None:
    # given
    for_approver = enrolment_code_issue(actor=None, user=approver)
    expiring = enrolment_code_issue(actor=None, user=operator, ttl=timedelta(hours=1))
    EnrolmentCode.objects.filter(user=operator).update(
        issued_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(seconds=1)
    )
    # then: another user's code, and an expired one, enrol nothing
    assert enrolment_code_redeem(user=operator, code=for_approver) is None
    assert enrolment_code_redeem(user=operator, code=expiring) is None
    # when: a fresh code, used twice
    fresh = enrolment_code_issue(actor=None, user=operator)
    first = enrolment_code_redeem(user=operator, code=fresh)
    second = enrolment_code_redeem(user=operator, code=fresh)
    # then
    assert first is not None and second is None
    # ...and a new code revokes the unused ones issued before it
    older = enrolment_code_issue(actor=None, user=approver)
    enrolment_code_issue(actor=None, user=approver)
    assert enrolment_code_redeem(user=approver, code=older) is None
    assert enrolment_code_redeem(user=approver, code=for_approver) is None


@pytest.mark.django_db
def test_codes_are_stored_only_as_hashes(operator: Any) -> None:
    # when
    issued = enrolment_code_issue(actor=None, user=operator).replace("-", "")
    # then: no column of the table holds the code
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(c)::text FROM reserve_enrolmentcode c")
        rows = [row[0] for row in cursor.fetchall()]
    assert rows and not any(issued in row or issued.lower() in row for row in rows)


@pytest.mark.django_db
def test_only_an_administrator_other_than_the_user_issues_a_code(operator: Any, approver: Any) -> None:
    # given
    administrator = make_user("ada", superuser=True, staff=True)
    # when / then: an operator cannot issue one for a colleague, an administrator not for themselves
    with pytest.raises(PermissionDenied) as refused:
        enrolment_code_issue(actor=operator, user=approver)
    assert refused.value.fields == {"user": ["only an account administrator may issue enrolment codes"]}
    with pytest.raises(PermissionDenied):
        enrolment_code_issue(actor=administrator, user=administrator)
    assert not EnrolmentCode.objects.exists()
    # when
    enrolment_code_issue(actor=administrator, user=approver)
    # then: issued and audited
    event = AuditEvent.objects.get(action="account.enrolment_code_issue")
    assert event.actor == administrator and event.object_id == str(approver.pk)


@pytest.mark.django_db
@override_settings(REQUIRE_TWO_FACTOR=True)
def test_the_admin_action_shows_the_code_once_and_refuses_operators(operator: Any, approver: Any) -> None:
    # given
    administrator = make_user("ada", superuser=True, staff=True)
    TOTPDevice.objects.create(user=administrator, name="phone", confirmed=True)
    admin_client = Client()
    admin_client.force_login(administrator)
    device = TOTPDevice.objects.get(user=administrator)
    admin_client.post(reverse("two_factor_verify"), {"token": _code(device)})
    changelist = reverse("admin:auth_user_changelist")
    # when
    response = admin_client.post(
        changelist, {"action": "issue_enrolment_code", "_selected_action": [approver.pk]}, follow=True
    )
    # then
    shown = [str(message) for message in response.context["messages"]]
    assert len(shown) == 1 and shown[0].startswith("Enrolment code for ana (valid 24 h, once): ")
    code = shown[0].rsplit(" ", 1)[1]
    assert enrolment_code_redeem(user=approver, code=code) is not None
    # ...and an operator (who may not even see accounts) issues nothing
    TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    operator_client = Client()
    operator_client.force_login(operator)
    operator_client.post(reverse("two_factor_verify"), {"token": _code(TOTPDevice.objects.get(user=operator))})
    operator_client.post(changelist, {"action": "issue_enrolment_code", "_selected_action": [approver.pk]})
    assert EnrolmentCode.objects.filter(user=approver).count() == 1


@pytest.mark.django_db
@override_settings(REQUIRE_TWO_FACTOR=True)
def test_a_secret_seen_before_is_not_the_one_confirmed(operator: Any) -> None:
    # given: a device left unconfirmed (e.g. created before codes were required)
    stale = TOTPDevice.objects.create(user=operator, name="stale", confirmed=False)
    client = _password_login(operator.username)
    # when: the thief posts the stale secret's code without a redeemed enrolment code
    refused = client.post(reverse(ENROL), {"token": _code(stale)})
    # then
    assert refused.status_code == 400
    assert not TOTPDevice.objects.filter(user=operator, confirmed=True).exists()
    # when: the real user redeems a code; the stale device is replaced by a fresh secret
    code = enrolment_code_issue(actor=None, user=operator)
    client.post(reverse(ENROL), {"enrolment_code": code})
    # then
    assert not TOTPDevice.objects.filter(pk=stale.pk).exists()
    assert client.post(reverse(ENROL), {"token": _code(stale)}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_code_enrol_once(operator: Any) -> None:
    # given
    code = enrolment_code_issue(actor=None, user=operator)
    start = threading.Barrier(2)
    results: list[object] = []

    def redeem() -> None:
        start.wait()
        try:
            results.append(enrolment_code_redeem(user=operator, code=code))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert sorted(result is None for result in results) == [False, True]


@pytest.mark.django_db
def test_the_server_shell_issues_a_code_and_names_an_unknown_user(operator: Any) -> None:
    # when
    out = StringIO()
    call_command("issue_enrolment_code", operator.username, "--hours", "2", stdout=out)
    # then
    code = out.getvalue().strip().rsplit(" ", 1)[1]
    assert enrolment_code_redeem(user=operator, code=code) is not None
    with pytest.raises(CommandError, match="username: no user 'nobody'"):
        call_command("issue_enrolment_code", "nobody")
