"""A reorg costs what it touches, not the wallet's history (issue 12): following a one-block
reorg that drops one booking takes the same queries on a wallet with 3 outputs of history as on
one with 60, because the affected wallets and bookings are found from the dropped blocks: no
query per transfer, output or discrepancy of the history. Counted in queries, not seconds
(bench/reorg.py has the seconds; the rows a query reads are the planner's, which on tables this
small scans them whole)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reserve.chain.blocks import Outpoint
from reserve.custody.models import Agency
from reserve.reconciliation.follower import wallet_scan
from reserve.transfers.models import Transfer
from tests.regtest.keys import WalletKey
from tests.reserve.chain.memory_source import MemorySource
from tests.reserve.conftest import fake_hash
from tests.reserve.reconciliation.conftest import FEE_SATS, Coin, key_wallet, pay
from tests.users import make_user

pytestmark = pytest.mark.django_db

OUTSIDE = WalletKey("reorg cost outside payer")


def _reorg_queries(chain: MemorySource, operator: Any, agency: Agency, *, history: int) -> list[str]:
    """The queries of the scan that follows a one-block reorg dropping one booking, on a new wallet
    with `history` outputs already booked."""
    key = WalletKey(f"reorg cost wallet {history}")
    wallet = key_wallet(operator, agency, f"reorg-cost-{history}", key, birthday_height=chain.block_count() + 1)
    coin = Coin(Outpoint(fake_hash(f"reorg cost coin {history}"), 0), 2_000 * (history + 1) + FEE_SATS, OUTSIDE)
    chain.mine(pay([coin], [(key.p2wpkh_script, 1_000 + number) for number in range(history)]))
    wallet_scan(wallet=wallet, source=chain)
    extra = Coin(Outpoint(fake_hash(f"reorg cost extra {history}"), 0), 5_000 + FEE_SATS, OUTSIDE)
    chain.mine(pay([extra], [(key.p2wpkh_script, 5_000)]))
    wallet_scan(wallet=wallet, source=chain)
    # a longer branch without the last block
    chain.mine(parent_hash=chain.mine(parent_hash=chain.best[-2]))
    with CaptureQueriesContext(connection) as queries:
        result = wallet_scan(wallet=wallet, source=chain)
    assert result.reorgs == 1
    assert Transfer.objects.filter(destination_wallet=wallet, status="reorged").count() == 1
    assert Transfer.objects.filter(destination_wallet=wallet, status="confirmed").count() == history
    return [query["sql"] for query in queries.captured_queries]


def test_a_one_block_reorg_takes_the_same_queries_whatever_the_wallet_history():
    # given
    chain = MemorySource()
    operator = make_user("rhea", "operator")
    agency = Agency.objects.create(name="Treasury", kind="ministry")
    # when
    small = _reorg_queries(chain, operator, agency, history=3)
    large = _reorg_queries(chain, operator, agency, history=60)
    # then
    assert len(large) == len(small)
