"""The admin's buttons come from the state machine the services enforce: for every reachable
status, every person action and every role, what `transfer_actions` allows is exactly what the
service then accepts (tried for real and rolled back)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from config.errors import ApplicationError
from reserve.custody.models import Wallet
from reserve.transfers.lifecycle import PERSON_ACTIONS, transfer_actions
from reserve.transfers.models import Transfer
from reserve.transfers.services import (
    transfer_approve,
    transfer_cancel,
    transfer_create,
    transfer_mark_broadcast,
    transfer_mark_failed,
    transfer_propose,
    transfer_reject,
)
from tests.reserve.conftest import REGTEST_EXTERNAL, fake_hash
from tests.reserve.transfers.test_transfers import approve_twice, fund

pytestmark = pytest.mark.django_db

CALLS: dict[str, Callable[[Transfer, Any], Any]] = {
    "approve": lambda t, user: transfer_approve(transfer=t, actor=user),
    "reject": lambda t, user: transfer_reject(transfer=t, actor=user, comment="no"),
    "cancel": lambda t, user: transfer_cancel(transfer=t, actor=user, reason="withdrawn"),
    "mark_broadcast": lambda t, user: transfer_mark_broadcast(transfer=t, actor=user, txid=fake_hash("sent")),
    "mark_failed": lambda t, user: transfer_mark_failed(transfer=t, actor=user, reason="never mined"),
}


class _Undo(Exception):
    pass


def _service_accepts(action: str, transfer: Transfer, user: Any) -> bool:
    try:
        with transaction.atomic():
            CALLS[action](Transfer.objects.get(pk=transfer.pk), user)
            raise _Undo
    except _Undo:
        return True
    except ApplicationError:
        return False


def test_every_action_the_page_allows_is_one_the_service_accepts_and_no_other(
    operator: Any, approver: Any, approver2: Any, auditor: Any, cold_wallet: Wallet
) -> None:
    # given transfers in each status a person can act on, outbound and inbound
    fund(cold_wallet, 10**8, operator, approver, approver2)

    def outbound() -> Transfer:
        return transfer_create(
            actor=operator,
            direction="outbound",
            category="return_to_victims",
            amount_sats=10_000,
            fee_sats=100,
            source_wallet=cold_wallet,
            external_address=REGTEST_EXTERNAL,
        )

    draft = outbound()
    pending = transfer_propose(transfer=outbound(), actor=operator)
    half_approved = transfer_propose(transfer=outbound(), actor=operator)
    transfer_approve(transfer=half_approved, actor=approver)
    approved = approve_twice(transfer_propose(transfer=outbound(), actor=operator), approver, approver2)
    broadcast = transfer_mark_broadcast(
        transfer=approve_twice(transfer_propose(transfer=outbound(), actor=operator), approver, approver2),
        actor=operator,
        txid=fake_hash("b"),
    )
    cancelled = transfer_cancel(transfer=outbound(), actor=operator, reason="typo")
    inbound_approved = approve_twice(
        transfer_propose(
            transfer=transfer_create(
                actor=operator,
                direction="inbound",
                category="forfeiture",
                amount_sats=5,
                destination_wallet=cold_wallet,
                provenance_reference="Order 8",
            ),
            actor=operator,
        ),
        approver,
        approver2,
    )
    transfers = [draft, pending, half_approved, approved, broadcast, cancelled, inbound_approved]
    disagreements, allowed = [], 0
    # when each user asks the page and then tries the service
    for transfer in transfers:
        for user in (operator, approver, approver2, auditor):
            states = transfer_actions(transfer=Transfer.objects.get(pk=transfer.pk), user=user)
            for action in PERSON_ACTIONS:
                page, service = states[action].allowed, _service_accepts(action, transfer, user)
                allowed += page
                if page != service:
                    disagreements.append((transfer.status, transfer.direction, user.username, action, page, service))
    # then they never disagree, and the cases are not all refusals
    assert disagreements == []
    assert allowed >= 8


def test_the_page_shows_the_services_own_refusal(operator: Any, approver: Any, cold_wallet: Wallet) -> None:
    # given a pending transfer that approver has decided on
    transfer = transfer_propose(
        transfer=transfer_create(
            actor=operator,
            direction="inbound",
            category="forfeiture",
            amount_sats=5,
            destination_wallet=cold_wallet,
            provenance_reference="Order 9",
        ),
        actor=operator,
    )
    transfer_approve(transfer=transfer, actor=approver)
    # then the proposer and the approver see why, in the service's words
    assert transfer_actions(transfer=transfer, user=operator)["approve"].offered is False  # no approve permission
    state = transfer_actions(transfer=transfer, user=approver)["approve"]
    assert (state.offered, state.allowed) == (True, False)
    with pytest.raises(ApplicationError) as refused:
        transfer_approve(transfer=transfer, actor=approver)
    assert state.refusal == refused.value.message
