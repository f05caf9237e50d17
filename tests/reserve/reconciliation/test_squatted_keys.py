"""Way 5 of issue 11 through the real booking path: a decoy squatting the key of an observed
movement (inserted directly, as a client could before client keys were fenced off) does not
swallow the movement when reconciliation sees it on a live regtest chain."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from reserve.custody.services import agency_create
from reserve.reconciliation.models import Discrepancy
from reserve.reconciliation.services import wallet_reconcile
from reserve.transfers.models import Transfer
from reserve.transfers.services import KEY_CONFLICT
from tests.regtest.keys import WalletKey
from tests.reserve.reconciliation.conftest import Payer, key_wallet, mine, pay, txid_of
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_a_squatted_observed_key_does_not_swallow_the_movement(segwit_chain: Any) -> None:
    # given: a perimeter wallet, and a donation to it that nobody proposed, not yet mined
    source, payer = segwit_chain.source, Payer(segwit_chain, 100)
    operator = make_user("squatter", "operator")
    agency = agency_create(name="Treasury", kind="ministry", actor=operator)
    hot_key = WalletKey("squat hot")
    hot = key_wallet(operator, agency, "squat-hot", hot_key, birthday_height=source.block_count() + 1, kind="hot")
    donation = pay([payer.coin()], [(hot_key.p2wpkh_script, 1_500_000)], change=segwit_chain.miner_key)
    txid = txid_of(donation)
    # and a decoy draft holding the key the booking will use for it
    decoy = Transfer.objects.create(
        direction="inbound",
        category="donation",
        amount_sats=1,
        destination_wallet=hot,
        proposer=operator,
        idempotency_key=f"observed:{txid}:0:inbound::{hot.pk}",
    )
    # when: the donation is mined and the wallet reconciled
    mine(source, donation)
    run = wallet_reconcile(wallet=hot, source=source)
    # then: the movement is booked and posted, the books match the chain
    booked = Transfer.objects.get(observed=True, txid=txid)
    assert (booked.status, booked.amount_sats) == ("confirmed", 1_500_000)
    assert JournalTransaction.objects.filter(txid=txid).count() == 1
    assert run.chain_balance_sats == run.ledger_balance_sats == account_balance(account=hot.ledger_account) == 1_500_000
    # and the clash is visible on the discrepancy the operators resolve
    [inflow] = Discrepancy.objects.filter(wallet=hot)
    assert (inflow.kind, inflow.transfer_id) == ("unrecorded_inflow", booked.pk)
    assert KEY_CONFLICT in inflow.detail and f"#{decoy.pk}" in inflow.detail
    decoy.refresh_from_db()
    assert (decoy.status, decoy.observed, decoy.amount_sats) == ("draft", False, 1)
    # when: a rescan from the birthday
    again = wallet_reconcile(wallet=hot, source=source)
    # then: nothing is booked twice
    assert again.ledger_balance_sats == 1_500_000
    assert Transfer.objects.filter(txid=txid).count() == 1
