"""Login throttling and lockout count the client's real address: rotating X-Forwarded-For never
buys a fresh bucket, unless the operator configured proxies that write it; and failures lock out
a username from every address, and an address for every username."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from reserve.access.client import client_address
from tests.users import PASSWORD

pytestmark = pytest.mark.django_db
TOKEN = "/api/v1/auth/token/"


def _token(client: APIClient, username: str, password: str, forwarded: str = "", peer: str = "127.0.0.1") -> int:
    extra: dict[str, Any] = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    body = {"username": username, "password": password}
    return client.post(TOKEN, body, format="json", REMOTE_ADDR=peer, **extra).status_code


def test_rotating_x_forwarded_for_is_still_throttled(users: dict[str, Any]) -> None:
    # given the default rate of 10 a minute, and a client that writes a new header each time
    client = APIClient()
    # when it asks eleven times
    statuses = [_token(client, "auditor-1", PASSWORD, forwarded=f"10.0.0.{n}") for n in range(11)]
    # then the eleventh is throttled all the same
    assert statuses == [200] * 10 + [429]


@override_settings(AXES_FAILURE_LIMIT=3)
def test_failures_lock_the_username_out_from_any_address(users: dict[str, Any]) -> None:
    client = APIClient()
    # given three wrong passwords for one user, each from another peer address (the third locks)
    assert [_token(client, "auditor-1", "wrong", peer=f"192.0.2.{n}") for n in range(3)] == [401, 401, 429]
    # then the right password from a fourth address is refused: the username is locked
    assert _token(client, "auditor-1", PASSWORD, peer="192.0.2.99") == 429


@override_settings(AXES_FAILURE_LIMIT=3)
def test_failures_lock_the_address_out_for_any_username(users: dict[str, Any]) -> None:
    client = APIClient()
    # given three wrong passwords from one address, each for another username, under rotating headers
    names = ("operator-1", "approver-1", "policy_admin-1")
    statuses = [_token(client, name, "wrong", forwarded=f"198.51.100.{n}") for n, name in enumerate(names)]
    assert statuses == [401, 401, 429]
    # then a fourth user's right password from that address is refused
    assert _token(client, "auditor-1", PASSWORD, forwarded="198.51.100.200") == 429
    # and the same user from another address is not
    assert _token(client, "auditor-1", PASSWORD, peer="192.0.2.7") == 200


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "127.0.0.1"),  # no trusted proxy: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # what the client prepended is ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "127.0.0.1"),  # fewer entries than proxies: not from our proxies
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(proxies: int, forwarded: str, expected: str) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXIES=proxies):
        assert client_address(request) == expected
