"""The admin's login page: a right password on an account without staff status says so."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reserve.access.login import NOT_STAFF_MESSAGE
from tests.users import PASSWORD, make_user

pytestmark = pytest.mark.django_db

WRONG_PASSWORD_TEXT = "Please enter the correct username and password"


def test_a_policy_admin_without_staff_status_is_told_so_not_wrong_password() -> None:
    # given: a policy administrator who works through the API (no staff status)
    make_user("pia", "policy_admin", staff=False)
    client = Client()
    # when
    response = client.post(reverse("admin:login"), {"username": "pia", "password": PASSWORD})
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "no staff status" in page and NOT_STAFF_MESSAGE.split(",")[0] in page
    assert WRONG_PASSWORD_TEXT not in page
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_on_a_non_staff_account_reveals_nothing_about_staff_status() -> None:
    # given
    make_user("pia", "policy_admin", staff=False)
    client = Client()
    # when
    response = client.post(reverse("admin:login"), {"username": "pia", "password": "not it"})
    # then
    page = response.content.decode()
    assert WRONG_PASSWORD_TEXT in page
    assert "no staff status" not in page
    assert "_auth_user_id" not in client.session


def test_a_staff_account_still_signs_in() -> None:
    # given
    make_user("olga", "operator", staff=True)
    client = Client()
    # when
    response = client.post(reverse("admin:login"), {"username": "olga", "password": PASSWORD})
    # then
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
