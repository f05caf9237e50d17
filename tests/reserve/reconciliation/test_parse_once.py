"""The follower parses each block once: one scan per block fetched, no whole-block
deserialization, and gap extension re-matches the recorded outputs instead of scanning again."""

from __future__ import annotations

from typing import Any

import pytest
from bitcoin.core import CBlock, COutPoint, CTransaction, CTxIn, CTxOut, lx
from bitcoin.core.script import CScript

from reserve.chain import follow
from reserve.chain.blocks import Outpoint, ScannedBlock, Watchlist
from reserve.custody.descriptors import descriptor_preview
from reserve.custody.models import Agency, WatchedScript
from reserve.custody.services import wallet_register
from reserve.reconciliation.follower import wallet_scan
from reserve.reconciliation.models import UtxoStatus, WalletUtxo
from tests.regtest.keys import WalletKey
from tests.reserve.chain.memory_source import MemorySource
from tests.reserve.conftest import TPUB_A, fake_hash
from tests.reserve.reconciliation.conftest import FEE_SATS, Coin, pay, txid_of
from tests.users import make_user

pytestmark = pytest.mark.django_db

DESCRIPTOR = f"wpkh([73c5da0a/84h/1h/0h]{TPUB_A}/<0;1>/*)"


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hash of every block the follower scans; a whole-block deserialization fails the test."""
    scanned: list[str] = []
    real_scan = follow.scan_block

    def counting_scan(raw: bytes, watchlist: Watchlist) -> ScannedBlock:
        block = real_scan(raw, watchlist)
        scanned.append(block.hash)
        return block

    def no_whole_block(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a whole block was deserialized")

    monkeypatch.setattr(follow, "scan_block", counting_scan)
    monkeypatch.setattr(CBlock, "deserialize", no_whole_block)
    return scanned


def test_each_block_is_fetched_and_scanned_once_even_when_the_gap_grows_within_it(scans: list[str]) -> None:
    # given: a descriptor wallet watching receive indexes 0..2 (gap limit 3)
    chain = MemorySource()
    operator = make_user("olga", "operator")
    wallet = wallet_register(
        name="gap-cold",
        agency=Agency.objects.create(name="Mining Agency", kind="other"),
        kind="mining_payout",
        network="regtest",
        gap_limit=3,
        birthday_height=1,
        descriptors=[DESCRIPTOR],
        actor=operator,
    )
    receive = {
        derived.index: derived
        for derived in descriptor_preview(descriptor=DESCRIPTOR, network="regtest", count=8)
        if derived.chain == 0
    }
    assert set(WatchedScript.objects.filter(wallet=wallet, chain=0).values_list("index", flat=True)) == {0, 1, 2}
    # when: one block pays index 2 (watched), index 4 (watched only once index 2 is seen used)
    # and then spends the index-4 output to an outsider; two empty blocks around it
    outside = WalletKey("parse-once outsider")
    to_two = pay(
        [Coin(Outpoint(fake_hash("outside"), 0), 1_000_000 + FEE_SATS, outside)],
        [(receive[2].script_pubkey, 1_000_000)],
    )
    to_four = pay(
        [Coin(Outpoint(fake_hash("outside 2"), 0), 600_000 + FEE_SATS, outside)], [(receive[4].script_pubkey, 600_000)]
    )
    # (the in-memory chain checks no signatures: the spend of index 4 need not be signed)
    spends_four = CTransaction(
        [CTxIn(COutPoint(lx(txid_of(to_four)), 0))], [CTxOut(590_000, CScript(outside.p2wpkh_script))], nVersion=2
    )
    chain.mine()
    busy = chain.mine(to_two, to_four, spends_four)
    chain.mine()
    result = wallet_scan(wallet=wallet, source=chain)

    # then: three blocks, each fetched and scanned exactly once
    assert result.blocks_scanned == 3
    assert scans == chain.best[1:4] == chain.raw_blocks_fetched()
    # and the output to index 4 was found by re-matching within the busy block, and the window grew past it
    utxos = {(u.txid, u.vout): u for u in WalletUtxo.objects.filter(wallet=wallet)}
    assert set(utxos) == {(txid_of(to_two), 0), (txid_of(to_four), 0)}
    assert {u.block.hash for u in utxos.values()} == {busy}
    # and so was its spend later in the same block
    assert utxos[(txid_of(to_two), 0)].status == UtxoStatus.UNSPENT
    assert (utxos[(txid_of(to_four), 0)].status, utxos[(txid_of(to_four), 0)].spent_by_txid) == (
        UtxoStatus.SPENT,
        txid_of(spends_four),
    )
    assert set(WatchedScript.objects.filter(wallet=wallet, chain=0).values_list("index", flat=True)) == set(range(8))
