"""Approval-bound signing, one service per step: build the PSBT of an approved transfer and
reserve its coins, accept custodians' signatures (refusals recorded with their reason),
broadcast through the node with the txid recorded first, and recover a broadcast a crash
interrupted. What is built: reserve/transfers/psbt_build.py; what is accepted:
reserve/transfers/psbt_verify.py; which coins: reserve/transfers/coins.py."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from embit.descriptor import Descriptor
from embit.psbt import PSBT
from embit.transaction import Transaction

from config.errors import Conflict, NotFound, ValidationFailed
from config.transient import outermost
from reserve.access.roles import require_permission
from reserve.audit.services import audit_record, snapshot
from reserve.chain.blocks import Watchlist
from reserve.chain.errors import NodeRpcError
from reserve.chain.follow import verified_block
from reserve.chain.rpc import RpcChainSource
from reserve.custody.addresses import parse_address
from reserve.custody.descriptors import descriptor_child, descriptor_parse
from reserve.custody.models import Wallet, WatchedScript
from reserve.reconciliation.models import WalletUtxo
from reserve.transfers.coins import SELECTION_RULE, selectable_coins
from reserve.transfers.models import (
    BuiltPsbt,
    PsbtStatus,
    SignatureUpload,
    Transfer,
    TransferDirection,
    TransferStatus,
    UtxoReservation,
)
from reserve.transfers.psbt_build import (
    DUST_SATS,
    SIGNABLE_KINDS,
    ChangeOutput,
    SpendableCoin,
    coinbase_immature,
    fee_for,
    psbt_assemble,
    transaction_vsize,
)
from reserve.transfers.psbt_verify import (
    PsbtRefused,
    cosigner_fingerprints,
    psbt_combine,
    psbt_finalize,
    psbt_signatures,
)
from reserve.transfers.services import transfer_lock, transfer_mark_broadcast

MAX_FEE_RATE_SAT_PER_VB = 10_000
MAX_INPUTS = 500


def live_psbt(transfer: Transfer) -> BuiltPsbt | None:
    return BuiltPsbt.objects.filter(transfer=transfer).exclude(status=PsbtStatus.SUPERSEDED).first()


# ---- build ---------------------------------------------------------------------------------


def _fee_rate(source: RpcChainSource, fee_rate_sat_per_vb: int | None) -> tuple[int, str]:
    if fee_rate_sat_per_vb is not None:
        if isinstance(fee_rate_sat_per_vb, bool) or not isinstance(fee_rate_sat_per_vb, int):
            raise ValidationFailed.for_field("fee_rate_sat_per_vb", "must be a whole number of sat/vB")
        if not 1 <= fee_rate_sat_per_vb <= MAX_FEE_RATE_SAT_PER_VB:
            raise ValidationFailed.for_field("fee_rate_sat_per_vb", f"must be between 1 and {MAX_FEE_RATE_SAT_PER_VB}")
        return fee_rate_sat_per_vb * 1000, "operator"
    estimate = source.fee_rate_sat_per_kvb()
    if estimate is None:
        raise ValidationFailed.for_field(
            "fee_rate_sat_per_vb", "the node has no fee estimate (estimatesmartfee): set a fee rate"
        )
    return max(estimate, 1000), "estimatesmartfee"


class _Descriptors:
    """The wallet's parsed descriptors and the derivation of each watched script, read once."""

    def __init__(self, wallet: Wallet) -> None:
        self.wallet = wallet
        self.parsed = {
            row.pk: descriptor_parse(descriptor=row.descriptor, network=wallet.network)
            for row in wallet.descriptors.all()
        }

    def child(self, script: WatchedScript) -> tuple[str, Descriptor] | None:
        if script.descriptor_id is None or script.chain is None:
            return None  # a single address: the service knows no key to ask a signature of
        parsed = self.parsed[script.descriptor_id]
        return parsed.kind, descriptor_child(parsed=parsed, chain=script.chain, index=script.index)


class _Transactions:
    """Previous transactions, read from verified blocks of the node (one fetch per block)."""

    def __init__(self, source: RpcChainSource) -> None:
        self.source = source
        self.blocks: dict[str, Any] = {}

    def of(self, utxo: WalletUtxo) -> tuple[Transaction, bool]:
        """The transaction that created `utxo`, and whether it is the block's coinbase."""
        block = self.blocks.get(utxo.block.hash)
        if block is None:
            block = verified_block(
                self.source,
                height=utxo.block_height,
                block_hash=utxo.block.hash,
                watchlist=Watchlist(),
                parent_hash=None,
                parent=None,
            )
            self.blocks[utxo.block.hash] = block
        tx_index = block.txids.index(utxo.txid)
        tx = Transaction.parse(block.tx_bytes(tx_index))
        if tx.txid().hex() != utxo.txid:
            raise Conflict(f"the node's block {utxo.block.hash} does not hold {utxo.txid} as scanned")
        return tx, tx_index == 0


def _destination_script(transfer: Transfer) -> bytes:
    if transfer.direction == TransferDirection.INTERNAL:
        assert transfer.destination_wallet is not None
        script = next_unused_script(transfer.destination_wallet, chain=0)
        return bytes(script.script_pubkey)
    if not transfer.external_address:
        raise Conflict(
            f"transfer {transfer.pk} names a counterparty but no address: the service pays only an approved address",
            fields={"external_address": ["is empty"]},
        )
    wallet = transfer.source_wallet
    assert wallet is not None
    return parse_address(address=transfer.external_address, network=wallet.network).script_pubkey


def next_unused_script(wallet: Wallet, *, chain: int) -> WatchedScript:
    """The wallet's first derived script of `chain` that nothing paid and no live PSBT pays."""
    promised = {
        bytes(script)
        for script in BuiltPsbt.objects.filter(transfer__source_wallet=wallet)
        .exclude(status=PsbtStatus.SUPERSEDED)
        .values_list("change_script", flat=True)
    }
    for script in WatchedScript.objects.filter(
        wallet=wallet, descriptor__isnull=False, chain=chain, used=False
    ).order_by("index"):
        if bytes(script.script_pubkey) not in promised:
            return script
    raise Conflict(
        f"wallet {wallet.name} has no unused derived address on chain {chain}: extend its gap limit",
        fields={"wallet": ["no unused address"]},
    )


def _select(
    *, transfer: Transfer, source: RpcChainSource, rate: int, destination: bytes, tip_height: int
) -> tuple[list[tuple[WalletUtxo, SpendableCoin]], ChangeOutput | None, int, int]:
    """Largest-first until amount + fee is covered (with change, or without when the rest is dust
    and still within the approved fee). Returns the coins, the change, the fee and the vsize."""
    wallet = transfer.source_wallet
    assert wallet is not None
    descriptors, transactions = _Descriptors(wallet), _Transactions(source)
    scripts = {bytes(s.script_pubkey): s for s in WatchedScript.objects.filter(wallet=wallet)}
    change_script = next_unused_script(wallet, chain=1)
    change_kind_child = descriptors.child(change_script)
    assert change_kind_child is not None
    chosen: list[tuple[WalletUtxo, SpendableCoin]] = []
    total = 0
    fee = vsize = 0
    for utxo in selectable_coins(wallet=wallet, tip_height=tip_height).iterator():
        derived = descriptors.child(scripts[bytes(utxo.script_pubkey)])
        if derived is None or derived[0] not in SIGNABLE_KINDS:
            continue
        prev_tx, coinbase = transactions.of(utxo)
        if coinbase and coinbase_immature(block_height=utxo.block_height, tip_height=tip_height):
            continue
        coin = SpendableCoin(
            txid=utxo.txid,
            vout=utxo.vout,
            value_sats=utxo.value_sats,
            script_pubkey=bytes(utxo.script_pubkey),
            kind=derived[0],
            child=derived[1],
            prev_tx=prev_tx,
        )
        chosen.append((utxo, coin))
        total += utxo.value_sats
        if len(chosen) > MAX_INPUTS:
            break
        coins = [c for _, c in chosen]
        vsize = transaction_vsize(coins, [destination, bytes(change_script.script_pubkey)])
        fee = fee_for(rate_sat_per_kvb=rate, vsize=vsize)
        rest = total - transfer.amount_sats - fee
        if rest >= DUST_SATS:
            change = ChangeOutput(
                script_pubkey=bytes(change_script.script_pubkey),
                value_sats=rest,
                child=change_kind_child[1],
                kind=change_kind_child[0],
            )
            return chosen, change, fee, vsize
        vsize = transaction_vsize(coins, [destination])
        fee = fee_for(rate_sat_per_kvb=rate, vsize=vsize)
        without_change = total - transfer.amount_sats
        if fee <= without_change <= transfer.fee_sats:
            return chosen, None, without_change, vsize
    raise Conflict(
        f"wallet {wallet.name}'s selectable coins ({len(chosen)}, {total} sats; none immature, under "
        f"{tip_height} depth, reserved or frozen) cannot pay {transfer.amount_sats} sats plus a fee of "
        f"{fee} sats at {rate / 1000:g} sat/vB",
        fields={"amount_sats": ["more than the selectable coins pay"]},
        code="insufficient_coins",
    )


def transfer_psbt_build(
    *, transfer: Transfer, actor: Any, source: RpcChainSource, fee_rate_sat_per_vb: int | None = None
) -> BuiltPsbt:
    """Build (once) the unsigned PSBT of an approved outbound or internal transfer and reserve its
    coins. An approved outbound or internal transfer's `fee_sats` is the most its transaction may
    pay (the policy judged amount plus that fee): the build pays the fee at the rate, refused (400
    naming `fee_sats`, with the numbers) when that exceeds it or the approval allowed none; once
    mined the books hold the fee paid. Building again returns the live PSBT."""
    require_permission(actor, "execute_transfer", action="build a transfer's PSBT")
    rate, rate_source = _fee_rate(source, fee_rate_sat_per_vb)
    with transaction.atomic():
        locked = transfer_lock(transfer)
        if locked.status != TransferStatus.APPROVED or locked.direction == TransferDirection.INBOUND:
            raise Conflict(
                f"transfer {locked.pk} is {locked.status} {locked.direction}: only an approved outbound or "
                "internal transfer gets a PSBT",
                fields={"status": [f"is {locked.status}"]},
            )
        existing = live_psbt(locked)
        if existing is not None:
            return existing
        if locked.fee_sats == 0:
            raise ValidationFailed.for_field(
                "fee_sats",
                "the approval allows no fee, and no transaction is mined without one: propose the transfer "
                "again with the most the custodians may pay",
            )
        # One build per wallet at a time; the unique live reservation per coin is the backstop.
        assert locked.source_wallet_id is not None
        wallet = Wallet.objects.select_for_update().get(pk=locked.source_wallet_id)
        if not wallet.descriptors.exists():
            raise Conflict(
                f"wallet {wallet.name} has no descriptor: the service cannot name the keys that sign",
                fields={"source_wallet": ["has no descriptor"]},
            )
        tip_height = source.block_count()
        destination = _destination_script(locked)
        chosen, change, fee, vsize = _select(
            transfer=locked, source=source, rate=rate, destination=destination, tip_height=tip_height
        )
        if fee > locked.fee_sats:
            raise ValidationFailed(
                f"fee_sats: at {rate / 1000:g} sat/vB ({rate_source}) this {vsize} vB transaction costs {fee} "
                f"sats, above the {locked.fee_sats} sats the approval allowed",
                fields={"fee_sats": [f"{fee} needed, {locked.fee_sats} approved"]},
                code="fee_above_approval",
            )
        coins = [coin for _, coin in chosen]
        psbt = psbt_assemble(
            coins=coins,
            destination_script=destination,
            amount_sats=locked.amount_sats,
            change=change,
            locktime=tip_height,
        )
        unsigned = bytes(psbt.serialize())
        built = BuiltPsbt.objects.create(
            transfer=locked,
            unsigned=unsigned,
            combined=unsigned,
            unsigned_tx=bytes(psbt.tx.serialize()),
            txid=psbt.tx.txid().hex(),
            fee_sats=fee,
            fee_rate_sat_per_kvb=rate,
            fee_rate_source=rate_source,
            vsize=vsize,
            selection_rule=SELECTION_RULE,
            change_vout=1 if change else None,
            change_script=change.script_pubkey if change else b"",
            threshold=max(coin.threshold for coin in coins),
            created_by=actor,
        )
        UtxoReservation.objects.bulk_create(
            [UtxoReservation(utxo=utxo, transfer=locked, psbt=built) for utxo, _ in chosen]
        )
        audit_record(
            actor=actor,
            action="transfer.psbt_build",
            instance=built,
            before=None,
            after=snapshot(built) | {"coins": [f"{utxo.txid}:{utxo.vout}" for utxo, _ in chosen]},
        )
    return built


# ---- signatures ----------------------------------------------------------------------------


class SignaturesRefused(Conflict):
    """A refused upload; `settle()` keeps its record once the refused work has rolled back."""

    code = "psbt_refused"

    def __init__(self, reason: str, *, psbt: BuiltPsbt, raw: bytes, actor: Any) -> None:
        super().__init__(f"PSBT refused: {reason}", fields={"psbt": [reason]})
        self.reason, self.psbt, self.raw, self.actor = reason, psbt, raw, actor
        self.upload: SignatureUpload | None = None

    def settle(self) -> None:
        if self.upload is not None and SignatureUpload.objects.filter(pk=self.upload.pk).exists():
            return
        self.upload = SignatureUpload.objects.create(
            psbt=self.psbt, uploaded_by=self.actor, uploaded=self.raw, accepted=False, reason=self.reason
        )
        audit_record(
            actor=self.actor,
            action="transfer.psbt_refused",
            instance=self.upload,
            before=None,
            after={"psbt": self.psbt.pk, "transfer": self.psbt.transfer_id, "reason": self.reason},
        )


def signing_progress(built: BuiltPsbt) -> dict[str, Any]:
    """Who has signed so far (cosigner fingerprints, per input) and how many are needed."""
    per_input = cosigner_fingerprints(PSBT.parse(bytes(built.combined)))
    signed = sorted(set.intersection(*per_input)) if per_input else []
    return {
        "signed_by": signed,
        "signed_per_input": [sorted(fingerprints) for fingerprints in per_input],
        "needed": built.threshold,
        "complete": all(len(fingerprints) >= built.threshold for fingerprints in per_input),
    }


def transfer_psbt_sign(*, transfer: Transfer, actor: Any, raw: bytes) -> BuiltPsbt:
    """Accept a (partially) signed PSBT for the transfer's live PSBT: every field as built, every
    signature valid; its signatures are combined with the ones accepted before. Anything else is
    refused with the reason (`SignaturesRefused`), recorded and audited; nothing is combined."""
    require_permission(actor, "execute_transfer", action="upload a signed PSBT")
    refusal: SignaturesRefused | None = None
    with transaction.atomic():
        locked = transfer_lock(transfer)
        built = live_psbt(locked)
        if built is None or built.status not in (PsbtStatus.BUILT, PsbtStatus.SIGNED):
            raise Conflict(
                f"transfer {locked.pk} has no PSBT waiting for signatures",
                fields={"psbt": ["nothing to sign"]},
            )
        built = BuiltPsbt.objects.select_for_update().get(pk=built.pk)
        try:
            signatures = psbt_signatures(raw=raw, built_raw=bytes(built.unsigned), built_tx=bytes(built.unsigned_tx))
        except PsbtRefused as refused:
            refusal = SignaturesRefused(refused.reason, psbt=built, raw=raw, actor=actor)
        else:
            before = snapshot(built)
            previous = cosigner_fingerprints(PSBT.parse(bytes(built.combined)))
            built.combined = psbt_combine(combined_raw=bytes(built.combined), signatures=signatures)
            now = cosigner_fingerprints(PSBT.parse(bytes(built.combined)))
            added = sorted(set().union(*now) - set().union(*previous))
            progress = signing_progress(built)
            if progress["complete"]:
                built.status = PsbtStatus.SIGNED
            built.updated_at = timezone.now()
            built.save()
            upload = SignatureUpload.objects.create(
                psbt=built, uploaded_by=actor, uploaded=raw, accepted=True, signers=added
            )
            audit_record(
                actor=actor,
                action="transfer.psbt_sign",
                instance=built,
                before=before,
                after=snapshot(built) | {"upload": upload.pk, "signers": added},
            )
    if refusal is not None:
        if outermost():
            refusal.settle()
        raise refusal
    return built


# ---- broadcast -----------------------------------------------------------------------------


def _send_and_record(built_id: int, *, tx: Transaction | None, actor: Any, source: RpcChainSource) -> Transfer | None:
    """Under the PSBT's row lock (a recovery run skips a PSBT being sent): unless the node already
    holds the transaction, send it; then the transfer is broadcast. None when another run has it."""
    with transaction.atomic():
        built = (
            BuiltPsbt.objects.select_for_update(skip_locked=True)
            .filter(pk=built_id, status=PsbtStatus.BROADCASTING)
            .select_related("transfer")
            .first()
        )
        if built is None:
            return None
        if tx is not None or not source.in_mempool(built.txid):
            signed = tx or psbt_finalize(combined_raw=bytes(built.combined), threshold=built.threshold)
            try:
                source.send_raw_transaction(bytes(signed.serialize()))
            except NodeRpcError as error:
                raise Conflict(
                    f"the node refused transaction {built.txid}: {error}; it stays recorded as broadcasting "
                    "until the node holds it or an operator marks the transfer failed",
                    fields={"psbt": [str(error)]},
                    code="broadcast_refused",
                ) from None
        transfer = transfer_mark_broadcast(transfer=built.transfer, actor=actor, txid=built.txid)
        built.status = PsbtStatus.BROADCAST
        built.broadcast_at = built.updated_at = timezone.now()
        built.save()
        return transfer


def transfer_psbt_broadcast(*, transfer: Transfer, actor: Any, source: RpcChainSource) -> Transfer:
    """Finalize the fully signed PSBT, record its txid (committed), then hand it to the node; the
    transfer becomes broadcast once the node holds it. A crash after the txid is recorded is
    recovered by `psbt_broadcasts_recover`, which never sends what the node already has."""
    require_permission(actor, "execute_transfer", action="broadcast a transfer")
    if not outermost():
        raise RuntimeError("broadcast commits the txid before it calls the node: call it outside a transaction")
    with transaction.atomic():
        locked = transfer_lock(transfer)
        built = live_psbt(locked)
        if built is None or built.status != PsbtStatus.SIGNED or locked.status != TransferStatus.APPROVED:
            status = built.status if built else "not built"
            raise Conflict(
                f"transfer {locked.pk} has no fully signed PSBT to broadcast (its PSBT is {status})",
                fields={"psbt": [f"is {status}"]},
            )
        tx = psbt_finalize(combined_raw=bytes(built.combined), threshold=built.threshold)
        if tx.txid().hex() != built.txid:
            raise Conflict(f"the finalized transaction {tx.txid().hex()} is not the built {built.txid}")
        before = snapshot(built)
        built.status = PsbtStatus.BROADCASTING
        built.updated_at = timezone.now()
        built.save()
        audit_record(
            actor=actor, action="transfer.psbt_broadcasting", instance=built, before=before, after=snapshot(built)
        )
    sent = _send_and_record(built.pk, tx=tx, actor=actor, source=source)
    if sent is None:  # a recovery run took it over meanwhile
        locked.refresh_from_db()
        return locked
    return sent


def psbt_broadcasts_recover(*, source: RpcChainSource) -> list[int]:
    """Every PSBT whose txid was recorded but whose broadcast was not (a crash, a refused send):
    if the node already holds the transaction, the broadcast is recorded without sending again;
    else it is sent. A transfer the chain confirmed meanwhile needs nothing more. Returns the
    transfers recovered."""
    recovered = []
    for built in BuiltPsbt.objects.filter(status=PsbtStatus.BROADCASTING).select_related("transfer"):
        if built.transfer.status != TransferStatus.APPROVED:
            BuiltPsbt.objects.filter(pk=built.pk).update(status=PsbtStatus.BROADCAST, updated_at=timezone.now())
            continue
        try:
            transfer = _send_and_record(built.pk, tx=None, actor=None, source=source)
        except Conflict:
            continue
        if transfer is not None:
            recovered.append(transfer.pk)
    return recovered


def transfer_psbt(*, transfer_id: int) -> BuiltPsbt:
    """The transfer's live PSBT (built, signed so far, or broadcast)."""
    built = BuiltPsbt.objects.filter(transfer_id=transfer_id).exclude(status=PsbtStatus.SUPERSEDED).first()
    if built is None:
        raise NotFound(f"transfer {transfer_id} has no PSBT")
    return built
