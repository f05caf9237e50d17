"""The ends rule exists as a named-error check (transfers/ends.py) and as the database's
constraint; for every combination of ends the two must agree, so neither can drift alone."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from config.errors import ValidationFailed
from reserve.custody.models import Wallet
from reserve.custody.services import counterparty_create
from reserve.transfers.ends import transfer_ends_check
from reserve.transfers.models import Transfer, TransferDirection
from tests.reserve.conftest import REGTEST_EXTERNAL

# (source, destination, address, counterparty): None/absent or which one is given.
COMBINATIONS = list(
    itertools.product(
        TransferDirection.values,
        (None, "cold"),
        (None, "vault", "cold"),
        ("", REGTEST_EXTERNAL),
        (False, True),
    )
)


def _service_accepts(ends: dict[str, Any]) -> bool:
    try:
        transfer_ends_check(**ends)
    except ValidationFailed:
        return False
    return True


def _database_accepts(ends: dict[str, Any], proposer: Any) -> bool:
    try:
        with transaction.atomic():
            Transfer.objects.create(
                direction=ends["direction"],
                category="other",  # allowed in every direction (test_category_direction.py)
                amount_sats=1,
                source_wallet=ends["source_wallet"],
                destination_wallet=ends["destination_wallet"],
                external_address=ends["external_address"],
                counterparty=ends["counterparty"],
                proposer=proposer,
            )
    except IntegrityError:
        return False
    return True


@pytest.mark.django_db
def test_the_service_and_the_database_accept_exactly_the_same_ends(
    operator: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given every combination of ends for every direction
    party = counterparty_create(name="Exchange", actor=operator)
    wallets = {None: None, "cold": cold_wallet, "vault": vault_wallet}
    disagreements = []
    accepted = 0
    for direction, source, destination, address, has_party in COMBINATIONS:
        ends = {
            "direction": direction,
            "source_wallet": wallets[source],
            "destination_wallet": wallets[destination],
            "external_address": address,
            "counterparty": party if has_party else None,
        }
        # when both forms of the rule judge it
        by_service, by_database = _service_accepts(ends), _database_accepts(ends, operator)
        accepted += by_service
        if by_service != by_database:
            disagreements.append((direction, source, destination, bool(address), has_party, by_service))
    # then they agree on each, and each direction has some accepted shape
    assert disagreements == []
    assert accepted >= len(TransferDirection.values)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("direction", "source", "destination", "field"),
    [
        ("inbound", None, None, "destination_wallet"),
        ("inbound", "cold", "vault", "source_wallet"),
        ("outbound", None, None, "source_wallet"),
        ("outbound", "cold", "vault", "destination_wallet"),
        ("outbound", "cold", None, "external_address"),
        ("internal", "cold", "cold", "destination_wallet"),
    ],
)
def test_a_wrong_end_is_refused_naming_its_field(
    cold_wallet: Wallet, vault_wallet: Wallet, direction: str, source: str | None, destination: str | None, field: str
) -> None:
    wallets = {None: None, "cold": cold_wallet, "vault": vault_wallet}
    with pytest.raises(ValidationFailed) as refused:
        transfer_ends_check(
            direction=direction,
            source_wallet=wallets[source],
            destination_wallet=wallets[destination],
            external_address="",
            counterparty=None,
        )
    assert field in refused.value.fields
