"""Approval-bound signing end to end on a live regtest node: a transfer approved by the quorum is
built into a PSBT from the wallet's own coins, signed by cosigners separately (embit, test keys),
combined, verified, broadcast through the node, mined, booked by txid, and its coins released;
the change lands on the wallet's change branch. Also: which coins are never selected, the fee
bound, and a crash between recording the txid and the node's answer."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.test import Client
from embit.psbt import PSBT
from embit.transaction import SIGHASH

from config.errors import Conflict, PermissionDenied, ValidationFailed
from reserve.audit.models import AuditEvent
from reserve.chain.rpc import RpcChainSource
from reserve.custody.models import WatchedScript
from reserve.custody.services import agency_create, wallet_register
from reserve.reconciliation.models import UtxoStatus, WalletUtxo
from reserve.reconciliation.services import wallet_reconcile
from reserve.tasks import psbt_broadcasts_recover_task
from reserve.transfers.coins import utxo_freeze, utxo_unfreeze
from reserve.transfers.models import BuiltPsbt, PsbtStatus, SignatureUpload, Transfer, UtxoFreeze, UtxoReservation
from reserve.transfers.psbt_verify import psbt_finalize
from reserve.transfers.services import (
    transfer_approve,
    transfer_cancel,
    transfer_create,
    transfer_mark_broadcast,
    transfer_propose,
)
from reserve.transfers.signing import (
    SignaturesRefused,
    psbt_broadcasts_recover,
    signing_progress,
    transfer_psbt_broadcast,
    transfer_psbt_build,
    transfer_psbt_sign,
)
from tests.race import race
from tests.regtest.blocks import generate_to_address
from tests.regtest.keys import WalletKey
from tests.regtest.source import RegtestSource
from tests.reserve.api.conftest import token_client
from tests.reserve.reconciliation.conftest import Payer, mine, pay
from tests.reserve.transfers.signing_keys import COSIGNERS, multisig_descriptor, tr_descriptor, wpkh_descriptor
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

DEPTH = 6
FILLER = WalletKey("signing filler").p2wpkh_address
# Coinbase heights each test pays from (mature at the segwit chain's height 520); disjoint per test.
PAYER_START = {
    "multisig": 100,
    "wpkh": 120,
    "rules": 140,
    "crash": 160,
    "race": 180,
    "taproot": 200,
    "reorg": 220,
    "coinbase": 240,
}


@pytest.fixture
def people(db: None) -> dict[str, Any]:
    return {
        "operator": make_user("olga", "operator"),
        "approver": make_user("ana", "approver"),
        "approver2": make_user("bruno", "approver"),
    }


def funded_wallet(chain: Any, people: dict[str, Any], *, name: str, descriptor: str, values: list[int], start: int):
    """A wallet on `descriptor` holding one coin per value on its receive branch, DEPTH deep, scanned."""
    source = chain.source
    agency = agency_create(name=f"Agency {name}", kind="reserve_fund", actor=people["operator"])
    wallet = wallet_register(
        name=name,
        agency=agency,
        kind="multisig",
        network="regtest",
        gap_limit=5,
        birthday_height=source.block_count() + 1,
        descriptors=[descriptor],
        actor=people["operator"],
    )
    receive = WatchedScript.objects.filter(wallet=wallet, chain=0).order_by("index")
    payer = Payer(chain, start)
    funding = [
        pay([payer.coin()], [(bytes(script.script_pubkey), value)], change=chain.miner_key)
        for script, value in zip(receive, values, strict=False)
    ]
    mine(source, *funding)
    generate_to_address(source, DEPTH - 1, FILLER)
    wallet_reconcile(wallet=wallet, source=source)
    return wallet


def approved(people: dict[str, Any], **fields: Any) -> Transfer:
    transfer = transfer_create(actor=people["operator"], **fields)
    transfer_propose(transfer=transfer, actor=people["operator"])
    transfer_approve(transfer=transfer, actor=people["approver"])
    return transfer_approve(transfer=transfer, actor=people["approver2"])


def outbound(people: dict[str, Any], wallet: Any, amount_sats: int, *, fee_sats: int = 20_000) -> Transfer:
    return approved(
        people,
        direction="outbound",
        category="return_to_victims",
        amount_sats=amount_sats,
        fee_sats=fee_sats,
        source_wallet=wallet,
        external_address=WalletKey(f"victims of {wallet.name}").p2wpkh_address,
        provenance_reference="Restitution order 7",
    )


def bury(source: RegtestSource, wallet: Any) -> None:
    generate_to_address(source, DEPTH, FILLER)
    wallet_reconcile(wallet=wallet, source=source)


def test_two_of_three_multisig_from_approval_to_final(segwit_chain, people, settings):
    # given: a 2-of-3 wsh(sortedmulti) wallet with two coins, an approved outbound transfer of
    # more than either coin
    source = segwit_chain.source
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="vault-multisig",
        descriptor=multisig_descriptor(),
        values=[3_000_000, 2_000_000],
        start=PAYER_START["multisig"],
    )
    transfer = outbound(people, wallet, 4_000_000)

    # when: the PSBT is built at 2 sat/vB
    built = transfer_psbt_build(transfer=transfer, actor=people["operator"], source=source, fee_rate_sat_per_vb=2)

    # then: both coins, largest first; the destination exactly as approved; change to the first
    # change address; every signer field on the inputs; the coins reserved
    psbt = PSBT.parse(bytes(built.unsigned))
    coins = list(WalletUtxo.objects.filter(wallet=wallet).order_by("-value_sats"))
    assert [(i.txid.hex(), i.vout) for i in psbt.inputs] == [(c.txid, c.vout) for c in coins]
    destination = psbt.outputs[0]
    assert (destination.value, destination.script_pubkey.address(network=_regtest())) == (
        4_000_000,
        transfer.external_address,
    )
    first_change = WatchedScript.objects.get(wallet=wallet, chain=1, index=0)
    assert bytes(psbt.outputs[1].script_pubkey.data) == bytes(first_change.script_pubkey)
    assert psbt.outputs[1].value == 5_000_000 - 4_000_000 - built.fee_sats
    assert built.fee_sats == 2 * built.vsize and built.selection_rule == "largest-first"
    for scope in psbt.inputs:
        assert scope.witness_utxo is not None and scope.non_witness_utxo is not None
        assert scope.witness_script is not None
        assert {d.fingerprint.hex() for d in scope.bip32_derivations.values()} == {c.fingerprint for c in COSIGNERS}
    assert set(UtxoReservation.objects.filter(released_at__isnull=True).values_list("utxo_id", flat=True)) == {
        c.pk for c in coins
    }

    # when: an upload that adds an output is refused, recorded with its reason, audited, not combined
    tampered = PSBT.parse(COSIGNERS[1].sign(bytes(built.unsigned)))
    tampered.outputs[0].value += 1
    with pytest.raises(SignaturesRefused) as refused:
        transfer_psbt_sign(transfer=transfer, actor=people["operator"], raw=bytes(tampered.serialize()))
    assert "output 0 pays 4000001 sats, not the built 4000000" in refused.value.message
    [refusal] = SignatureUpload.objects.filter(psbt=built)
    assert (refusal.accepted, refusal.reason) == (False, refused.value.reason)
    assert AuditEvent.objects.filter(action="transfer.psbt_refused", object_id=str(refusal.pk)).exists()
    built.refresh_from_db()
    assert bytes(built.combined) == bytes(built.unsigned)

    # when: two cosigners sign the built PSBT separately and upload in turn
    operator, unsigned = people["operator"], bytes(built.unsigned)
    first = transfer_psbt_sign(transfer=transfer, actor=operator, raw=COSIGNERS[0].sign(unsigned))
    progress_after_one = signing_progress(first)

    # then: one of two needed
    assert (progress_after_one["signed_by"], progress_after_one["needed"]) == ([COSIGNERS[0].fingerprint], 2)
    assert not progress_after_one["complete"] and first.status == PsbtStatus.BUILT

    # when: in the admin, an operator sees who signed, downloads the PSBT file, uploads the second
    # cosigner's file, and broadcasts
    settings.BITCOIN_RPC_URL = segwit_chain.node.rpc_url
    admin = Client()
    admin.force_login(make_user("oscar", "operator", staff=True))
    page = admin.get(f"/admin/reserve/transfer/{transfer.pk}/change/").content.decode()
    assert f'<span class="psbt-signed-by">{COSIGNERS[0].fingerprint}</span>' in page
    assert '<span class="psbt-needed">2</span>' in page and "Upload signed PSBT" in page
    download = admin.get(f"/admin/reserve/transfer/{transfer.pk}/psbt/download/")
    assert download["Content-Disposition"] == f'attachment; filename="transfer-{transfer.pk}.psbt"'
    assert download.content == bytes(first.combined)
    signed_file = SimpleUploadedFile("signed.psbt", COSIGNERS[2].sign(unsigned))
    admin.post(f"/admin/reserve/transfer/{transfer.pk}/psbt/upload/", {"psbt_file": signed_file})
    second = transfer.psbts.get()
    assert signing_progress(second)["signed_by"] == sorted([COSIGNERS[0].fingerprint, COSIGNERS[2].fingerprint])
    assert second.status == PsbtStatus.SIGNED
    assert "Broadcast</button>" in admin.get(f"/admin/reserve/transfer/{transfer.pk}/change/").content.decode()
    admin.post(f"/admin/reserve/transfer/{transfer.pk}/psbt/broadcast/")

    # then: broadcast with the built txid, which the node holds
    transfer.refresh_from_db()
    assert (transfer.status, transfer.txid) == ("broadcast", built.txid)
    assert built.txid in source.mempool_txids()
    generate_to_address(source, 1, FILLER)
    wallet_reconcile(wallet=wallet, source=source)

    # then: booked by txid; the change is the wallet's, on its change branch
    transfer.refresh_from_db()
    assert (transfer.status, transfer.txid, transfer.vout, transfer.fee_sats) == (
        "confirmed",
        built.txid,
        0,
        built.fee_sats,
    )
    change = WalletUtxo.objects.get(wallet=wallet, txid=built.txid)
    assert (change.vout, change.value_sats, change.status) == (1, psbt.outputs[1].value, UtxoStatus.UNSPENT)
    assert bytes(change.script_pubkey) == bytes(first_change.script_pubkey)
    assert UtxoReservation.objects.filter(transfer=transfer, released_at__isnull=True).count() == 2

    # when: buried to the confirmation depth; then final and the coins released
    bury(source, wallet)
    transfer.refresh_from_db()
    assert transfer.status == "final"
    assert not UtxoReservation.objects.filter(transfer=transfer, released_at__isnull=True).exists()


def _regtest() -> dict[str, Any]:
    from embit.networks import NETWORKS

    return NETWORKS["regtest"]


def test_wpkh_internal_consolidation_and_the_fee_the_approval_allows(segwit_chain, people, settings):
    # given: a wpkh wallet with one coin, and an internal transfer to another wallet with a small fee
    source = segwit_chain.source
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="hot-wpkh",
        descriptor=wpkh_descriptor(),
        values=[1_000_000],
        start=PAYER_START["wpkh"],
    )
    other = wallet_register(
        name="cold-destination",
        agency=wallet.agency,
        kind="cold",
        network="regtest",
        gap_limit=3,
        birthday_height=source.block_count() + 1,
        descriptors=[wpkh_descriptor(COSIGNERS[1])],
        actor=people["operator"],
    )
    transfer = approved(
        people,
        direction="internal",
        category="internal_consolidation",
        amount_sats=600_000,
        fee_sats=300,
        source_wallet=wallet,
        destination_wallet=other,
    )

    # when / then: at 5 sat/vB the fee exceeds the approval: a 400 naming the fee with the numbers, nothing held
    with pytest.raises(ValidationFailed) as refused:
        transfer_psbt_build(transfer=transfer, actor=people["operator"], source=source, fee_rate_sat_per_vb=5)
    assert "above the 300 sats the approval allowed" in refused.value.message and "sat/vB" in refused.value.message
    assert refused.value.fields["fee_sats"][0].endswith("needed, 300 approved")
    assert not UtxoReservation.objects.exists()
    # and an approval that allows no fee (the default) can pay none: a 400 naming the fee, nothing held
    feeless = approved(
        people,
        direction="internal",
        category="internal_consolidation",
        amount_sats=100_000,
        source_wallet=wallet,
        destination_wallet=other,
    )
    with pytest.raises(ValidationFailed) as no_fee:
        transfer_psbt_build(transfer=feeless, actor=people["operator"], source=source, fee_rate_sat_per_vb=1)
    assert "allows no fee" in no_fee.value.fields["fee_sats"][0]
    assert not UtxoReservation.objects.exists() and not BuiltPsbt.objects.filter(transfer=feeless).exists()
    # and a fee rate that is not a whole number is a 400 naming the field
    with pytest.raises(ValidationFailed) as bad_rate:
        transfer_psbt_build(transfer=transfer, actor=people["operator"], source=source, fee_rate_sat_per_vb="2")  # type: ignore[arg-type]
    assert "fee_rate_sat_per_vb" in bad_rate.value.fields

    # and without a rate, the node's estimatesmartfee decides; a young regtest chain has none
    assert source.fee_rate_sat_per_kvb() is None
    with pytest.raises(ValidationFailed) as no_estimate:
        transfer_psbt_build(transfer=transfer, actor=people["operator"], source=source)
    assert "estimatesmartfee" in no_estimate.value.fields["fee_rate_sat_per_vb"][0]

    # when: over REST: built at 1 sat/vB, signed by the one key, broadcast, mined
    settings.BITCOIN_RPC_URL = segwit_chain.node.rpc_url
    client, url = token_client(people["operator"]), f"/api/v1/transfers/{transfer.pk}"
    keys = iter(range(100))

    def post(path: str, body: dict[str, Any]) -> Any:
        return client.post(f"{url}/{path}", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{transfer.pk}-{next(keys)}")

    assert client.get(f"{url}/psbt/").status_code == 404
    built_answer = post("psbt/", {"fee_rate_sat_per_vb": 1})
    assert built_answer.status_code == 201, built_answer.json()
    unsigned = base64.b64decode(built_answer.json()["unsigned_psbt"])
    v2 = base64.b64decode(built_answer.json()["psbt_v2"])
    assert PSBT.parse(v2).version == 2 and b"\x06" not in PSBT.parse(v2).unknown
    # the off-path "mark broadcast" takes only the txid of the PSBT built for the transfer
    with pytest.raises(Conflict, match="has a PSBT committing to"):
        transfer_mark_broadcast(transfer=transfer, actor=people["operator"], txid="ab" * 32)
    destination = WatchedScript.objects.get(wallet=other, chain=0, index=0)
    assert bytes(PSBT.parse(unsigned).outputs[0].script_pubkey.data) == bytes(destination.script_pubkey)
    # bad input is a 400 naming the field; nothing is recorded
    assert post("psbt/signatures/", {"psbt": "not base64!"}).json()["error"]["fields"] == {"psbt": ["is not base64"]}
    assert "extra" in post("psbt/signatures/", {"psbt": "cHNidP8=", "extra": 1}).json()["error"]["fields"]
    assert not SignatureUpload.objects.filter(psbt__transfer=transfer).exists()
    # a tampered upload is a 409 with the reason, and its refusal outlives the rolled-back request
    tampered = PSBT.parse(COSIGNERS[0].sign(unsigned))
    tampered.locktime += 1
    answer = post("psbt/signatures/", {"psbt": base64.b64encode(bytes(tampered.serialize())).decode()})
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "psbt_refused")
    [refusal] = SignatureUpload.objects.filter(psbt__transfer=transfer)
    assert not refusal.accepted and refusal.reason.startswith("locktime")
    signed = base64.b64encode(COSIGNERS[0].sign(unsigned)).decode()
    signed_answer = post("psbt/signatures/", {"psbt": signed})
    assert signed_answer.status_code == 200, signed_answer.json()
    assert signed_answer.json()["signatures"] == {
        "signed_by": [COSIGNERS[0].fingerprint],
        "signed_per_input": [[COSIGNERS[0].fingerprint]],
        "needed": 1,
        "complete": True,
    }
    broadcast = client.post(f"{url}/broadcast/", {}, format="json")
    assert (broadcast.status_code, broadcast.json()["status"]) == (200, "broadcast")
    built = transfer.psbts.get()
    generate_to_address(source, 1, FILLER)
    wallet_reconcile(wallet=wallet, source=source)
    wallet_reconcile(wallet=other, source=source)

    # then: confirmed, and the destination wallet holds the amount
    transfer.refresh_from_db()
    assert (transfer.status, transfer.txid) == ("confirmed", built.txid)
    assert WalletUtxo.objects.get(wallet=other, txid=built.txid).value_sats == 600_000


def test_reserved_frozen_and_shallow_coins_are_never_selected(segwit_chain, people):
    # given: three coins; the largest frozen by an operator
    source = segwit_chain.source
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="rules-wpkh",
        descriptor=wpkh_descriptor(COSIGNERS[2]),
        values=[5_000_000, 2_000_000, 1_000_000],
        start=PAYER_START["rules"],
    )
    by_value = {utxo.value_sats: utxo for utxo in WalletUtxo.objects.filter(wallet=wallet)}
    admin = Client()
    admin.force_login(make_user("otto", "operator", staff=True))
    admin.post(f"/admin/reserve/walletutxo/{by_value[5_000_000].pk}/freeze/", {"reason": "disputed provenance"})
    [freeze] = UtxoFreeze.objects.filter(utxo=by_value[5_000_000], unfrozen_at__isnull=True)
    assert AuditEvent.objects.filter(action="utxo.freeze", object_id=str(freeze.pk)).exists()
    first, second, third = (outbound(people, wallet, 900_000) for _ in range(3))

    # when: two transfers are built
    built_first = transfer_psbt_build(transfer=first, actor=people["operator"], source=source, fee_rate_sat_per_vb=1)
    built_second = transfer_psbt_build(transfer=second, actor=people["operator"], source=source, fee_rate_sat_per_vb=1)

    # then: each took one coin, largest unfrozen first, never the same one, nor the frozen coin
    held = {r.psbt_id: r.utxo_id for r in UtxoReservation.objects.filter(released_at__isnull=True)}
    assert held == {built_first.pk: by_value[2_000_000].pk, built_second.pk: by_value[1_000_000].pk}
    # and the database refuses a second live hold on a held coin, also to the service's own role
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reserve_utxoreservation (utxo_id, transfer_id, psbt_id, reserved_at, release_reason)"
            " VALUES (%s, %s, %s, now(), '')",
            [by_value[2_000_000].pk, second.pk, built_second.pk],
        )
    # and the change of each goes to a different change address
    assert bytes(built_first.change_script) != bytes(built_second.change_script)
    # and nothing is left for the third: the frozen coin and coins under the depth do not count
    unused = WatchedScript.objects.get(wallet=wallet, chain=0, index=4)
    shallow = Payer(segwit_chain, PAYER_START["rules"] + 10).coin()
    mine(source, pay([shallow], [(bytes(unused.script_pubkey), 3_000_000)], change=segwit_chain.miner_key))
    wallet_reconcile(wallet=wallet, source=source)
    with pytest.raises(Conflict) as refused:
        transfer_psbt_build(transfer=third, actor=people["operator"], source=source, fee_rate_sat_per_vb=1)
    assert refused.value.code == "insufficient_coins"

    # when: the first transfer is cancelled; then its coin is free again, and the third takes it
    transfer_cancel(transfer=first, actor=people["operator"], reason="superseded by a larger payment")
    assert UtxoReservation.objects.get(psbt=built_first).release_reason.startswith("transfer cancelled")
    built_third = transfer_psbt_build(transfer=third, actor=people["operator"], source=source, fee_rate_sat_per_vb=1)
    assert list(built_third.reservations.values_list("utxo_id", flat=True)) == [by_value[2_000_000].pk]


def test_taproot_wallet_psbt_is_built_signed_and_finalized_offline(segwit_chain, people):
    """bcoin 1.0.2 knows no taproot: the coins are mined into blocks the test builds (consensus lets
    anyone create P2TR outputs), and the spend is verified and finalized here, never broadcast."""
    # given: a tr() wallet with one coin and an approved transfer
    source = segwit_chain.source
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="vault-taproot",
        descriptor=tr_descriptor(),
        values=[900_000],
        start=PAYER_START["taproot"],
    )
    transfer = outbound(people, wallet, 400_000)

    # when: built, signed by the key (SIGHASH_DEFAULT), uploaded
    built = transfer_psbt_build(transfer=transfer, actor=people["operator"], source=source, fee_rate_sat_per_vb=1)
    psbt = PSBT.parse(bytes(built.unsigned))
    [scope] = psbt.inputs
    signed = transfer_psbt_sign(
        transfer=transfer,
        actor=people["operator"],
        raw=COSIGNERS[0].sign(bytes(built.unsigned), sighash=SIGHASH.DEFAULT),
    )

    # then: the taproot signer fields, no non_witness_utxo; complete; the final witness is the one signature
    assert scope.taproot_internal_key is not None and scope.non_witness_utxo is None
    [(_, derivation)] = scope.taproot_bip32_derivations.values()
    assert derivation.fingerprint.hex() == COSIGNERS[0].fingerprint
    assert signed.status == PsbtStatus.SIGNED
    final = psbt_finalize(combined_raw=bytes(signed.combined), threshold=1)
    assert final.txid().hex() == built.txid and [len(item) for item in final.vin[0].witness.items] == [64]


class CrashAfterSending(RpcChainSource):
    """The node takes the transaction, then the process dies before it learns the answer."""

    def send_raw_transaction(self, transaction: bytes | str, **options: Any) -> str:
        super().send_raw_transaction(transaction, **options)
        raise SystemExit("crash")


class CountingSource(RpcChainSource):
    sent = 0

    def send_raw_transaction(self, transaction: bytes | str, **options: Any) -> str:
        type(self).sent += 1
        return super().send_raw_transaction(transaction, **options)


def test_crash_between_recording_the_txid_and_the_answer_is_recovered_without_a_second_send(
    segwit_chain, people, settings
):
    # given: a signed PSBT whose broadcast dies after the node took it
    source = segwit_chain.source
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="crash-wpkh",
        descriptor=wpkh_descriptor(),
        values=[800_000],
        start=PAYER_START["crash"],
    )
    transfer = outbound(people, wallet, 500_000)
    built = transfer_psbt_build(transfer=transfer, actor=people["operator"], source=source, fee_rate_sat_per_vb=1)
    transfer_psbt_sign(transfer=transfer, actor=people["operator"], raw=COSIGNERS[0].sign(bytes(built.unsigned)))
    with pytest.raises(SystemExit), CrashAfterSending(segwit_chain.node.rpc_url) as crashing:
        transfer_psbt_broadcast(transfer=transfer, actor=people["operator"], source=crashing)
    built.refresh_from_db()
    transfer.refresh_from_db()
    assert (built.status, transfer.status) == (PsbtStatus.BROADCASTING, "approved")
    # and meanwhile nobody cancels it (its coins may already be spent on the network)
    with pytest.raises(Conflict, match="is being broadcast"):
        transfer_cancel(transfer=transfer, actor=people["operator"], reason="changed our minds")

    # when: the recovery job runs (as beat runs it: the task, eagerly, on the node of the settings)
    settings.BITCOIN_RPC_URL = segwit_chain.node.rpc_url
    with CountingSource(segwit_chain.node.rpc_url) as counting:
        recovered = psbt_broadcasts_recover(source=counting)
    assert psbt_broadcasts_recover_task.apply().get() == []  # nothing left to recover

    # then: the transfer is broadcast with the built txid, and nothing was sent again
    transfer.refresh_from_db()
    built.refresh_from_db()
    assert recovered == [transfer.pk] and CountingSource.sent == 0
    assert (transfer.status, transfer.txid, built.status) == ("broadcast", built.txid, PsbtStatus.BROADCAST)
    assert built.txid in source.mempool_txids()
    assert not SignatureUpload.objects.filter(accepted=False).exists()
    generate_to_address(source, 1, FILLER)


@pytest.mark.django_db(transaction=True)
def test_two_transfers_built_at_once_never_reserve_the_same_coin(segwit_chain, people):
    # given: a wallet with two coins of one value and two approved transfers that each need one
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="race-wpkh",
        descriptor=wpkh_descriptor(COSIGNERS[1]),
        values=[1_000_000, 1_000_000],
        start=PAYER_START["race"],
    )
    transfers = [outbound(people, wallet, 700_000) for _ in range(2)]

    def build(transfer: Transfer) -> Any:
        with RpcChainSource(segwit_chain.node.rpc_url) as source:
            return transfer_psbt_build(
                transfer=transfer, actor=people["operator"], source=source, fee_rate_sat_per_vb=1
            )

    # when: both are built at the same moment
    results = race(*[lambda transfer=transfer: build(transfer) for transfer in transfers])

    # then: both built, on different coins
    assert all(not isinstance(result, Exception) for result in results), results
    held = list(UtxoReservation.objects.filter(released_at__isnull=True).values_list("utxo_id", flat=True))
    assert len(held) == len(set(held)) == 2


def test_coins_of_a_spend_a_reorg_drops_stay_held_and_are_not_selected_again(segwit_chain, people):
    # given: two coins; a transfer built from the larger, signed, broadcast by the service and mined
    source, operator = segwit_chain.source, people["operator"]
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="reorg-wpkh",
        descriptor=wpkh_descriptor(COSIGNERS[1]),
        values=[3_000_000, 1_000_000],
        start=PAYER_START["reorg"],
    )
    by_value = {utxo.value_sats: utxo for utxo in WalletUtxo.objects.filter(wallet=wallet)}
    spent, later = outbound(people, wallet, 2_000_000), outbound(people, wallet, 500_000)
    built = transfer_psbt_build(transfer=spent, actor=operator, source=source, fee_rate_sat_per_vb=1)
    transfer_psbt_sign(transfer=spent, actor=operator, raw=COSIGNERS[1].sign(bytes(built.unsigned)))
    transfer_psbt_broadcast(transfer=spent, actor=operator, source=source)
    generate_to_address(source, 1, FILLER)
    wallet_reconcile(wallet=wallet, source=source)
    spent.refresh_from_db()
    assert spent.status == "confirmed"

    # when: the block holding the spend leaves the best chain
    source.invalidate_block(source.best_block_hash())
    wallet_reconcile(wallet=wallet, source=source)

    # then: the transfer is reorged, its coin unspent again on the chain but still held for it
    spent.refresh_from_db()
    assert spent.status == "reorged"
    by_value[3_000_000].refresh_from_db()
    assert by_value[3_000_000].status == UtxoStatus.UNSPENT
    assert list(UtxoReservation.objects.filter(released_at__isnull=True).values_list("transfer_id", "utxo_id")) == [
        (spent.pk, by_value[3_000_000].pk)
    ]
    # and another build takes the other coin, never the held one nor the dropped change
    other = transfer_psbt_build(transfer=later, actor=operator, source=source, fee_rate_sat_per_vb=1)
    assert list(other.reservations.values_list("utxo_id", flat=True)) == [by_value[1_000_000].pk]


def test_an_immature_coinbase_is_never_selected_and_an_unfreeze_is_guarded_and_audited(segwit_chain, people):
    # given: a wallet with one coin, frozen, and a larger block reward mined to it DEPTH deep (immature)
    source, operator = segwit_chain.source, people["operator"]
    wallet = funded_wallet(
        segwit_chain,
        people,
        name="coinbase-wpkh",
        descriptor=wpkh_descriptor(COSIGNERS[2]),
        values=[1_000_000],
        start=PAYER_START["coinbase"],
    )
    reward_script = WatchedScript.objects.get(wallet=wallet, chain=0, index=1)
    generate_to_address(source, 1, reward_script.address)
    generate_to_address(source, DEPTH, FILLER)
    wallet_reconcile(wallet=wallet, source=source)
    coin = WalletUtxo.objects.get(wallet=wallet, value_sats=1_000_000)
    reward = WalletUtxo.objects.exclude(pk=coin.pk).get(wallet=wallet)
    assert reward.value_sats > 1_000_000
    freeze = utxo_freeze(utxo_id=coin.pk, actor=operator, reason="court hold")
    transfer = outbound(people, wallet, 500_000)

    # when / then: the only other coin is the immature reward, which no build selects
    with pytest.raises(Conflict) as refused:
        transfer_psbt_build(transfer=transfer, actor=operator, source=source, fee_rate_sat_per_vb=1)
    assert refused.value.code == "insufficient_coins" and "immature" in refused.value.message

    # and an unfreeze needs the permission and a reason; the service's role cannot delete the freeze
    with pytest.raises(PermissionDenied):
        utxo_unfreeze(utxo_id=coin.pk, actor=people["approver"], reason="released")
    with pytest.raises(ValidationFailed) as no_reason:
        utxo_unfreeze(utxo_id=coin.pk, actor=operator, reason=" ")
    assert "reason" in no_reason.value.fields
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM reserve_utxofreeze WHERE id = %s", [freeze.pk])

    # when: an operator unfreezes it with a reason
    released = utxo_unfreeze(utxo_id=coin.pk, actor=operator, reason="hold lifted by the court")

    # then: the freeze is kept, closed and audited; the build now takes that coin, still not the reward
    assert (released.pk, released.unfrozen_by, released.unfreeze_reason) == (
        freeze.pk,
        operator,
        "hold lifted by the court",
    )
    event = AuditEvent.objects.get(action="utxo.unfreeze", object_id=str(freeze.pk))
    assert event.actor == operator
    # and the service's role can neither reopen nor rewrite the closed freeze
    for change in ("unfrozen_at = NULL, unfrozen_by_id = NULL, unfreeze_reason = ''", "reason = 'nothing'"):
        with pytest.raises(IntegrityError, match="only closing"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE reserve_utxofreeze SET {change} WHERE id = %s", [freeze.pk])
    built = transfer_psbt_build(transfer=transfer, actor=operator, source=source, fee_rate_sat_per_vb=1)
    assert list(built.reservations.values_list("utxo_id", flat=True)) == [coin.pk]
