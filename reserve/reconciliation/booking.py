"""What a block's transactions mean for a wallet's books: match them to transfers, confirm
those, record the movements nobody proposed, and open a discrepancy per difference.

A movement is booked by the wallet whose coins it spends (that wallet knows the inputs and
so the fee); a receiving wallet books only what comes from outside the registered wallets.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from bitcoin.core import CTransaction
from bitcoin.core.script import OP_0, OP_EQUAL, OP_HASH160, CScript, CScriptInvalidError
from django.db import transaction
from django.db.models import Q

from config.errors import ApplicationError
from ledger.services import balances_hold
from policy.selectors import policy_scopes_governed
from policy.services import lock_scopes
from policy.types import PolicyScope
from reserve.chain.follow import VerifiedBlock, WatchedOutput
from reserve.custody.addresses import address_from_script
from reserve.custody.models import Wallet, WatchedScript
from reserve.outbox.services import outbox_enqueue
from reserve.reconciliation.models import (
    ChainBlock,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    ReconciliationRun,
    UtxoStatus,
    WalletUtxo,
)
from reserve.transfers.models import Transfer, TransferDirection, TransferStatus
from reserve.transfers.services import (
    KEY_CONFLICT,
    transfer_confirm,
    transfer_detect_mismatch,
    transfer_record_observed,
)

logger = logging.getLogger(__name__)

# Transfers the chain may still confirm: approved (txid not yet known), broadcast, or
# confirmed once before on a branch that a reorg dropped.
AWAITING_CHAIN = (TransferStatus.APPROVED, TransferStatus.BROADCAST, TransferStatus.REORGED)


@dataclass
class BlockBookings:
    matched: int = 0
    observed: int = 0
    discrepancies: list[int] = field(default_factory=list)

    def add(self, other: BlockBookings) -> None:
        self.matched += other.matched
        self.observed += other.observed
        self.discrepancies.extend(other.discrepancies)


def discrepancy_open(
    *,
    wallet: Wallet,
    kind: str,
    detail: str,
    run: ReconciliationRun | None,
    txid: str = "",
    vout: int | None = None,
    **values: Any,
) -> Discrepancy:
    """Open a discrepancy, or refresh the open one of the same wallet, kind and output."""
    existing = (
        Discrepancy.objects.select_for_update()
        .filter(wallet=wallet, kind=kind, txid=txid, vout=vout, status=DiscrepancyStatus.OPEN)
        .first()
    )
    if existing is not None:
        for name, value in values.items():
            setattr(existing, name, value)
        existing.detail = detail
        existing.save()
        return existing
    return Discrepancy.objects.create(wallet=wallet, kind=kind, txid=txid, vout=vout, detail=detail, run=run, **values)


def _hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _input_script_candidates(tx: CTransaction, index: int) -> list[bytes]:
    """The output scripts an input may have spent, read from its scriptSig and witness
    (P2WPKH, P2WSH, P2SH, P2PKH); enough to tell which registered wallet paid."""
    witness: list[bytes] = []
    if not tx.wit.is_null():
        witness = [bytes(item) for item in tx.wit.vtxinwit[index].scriptWitness.stack]
    try:
        pushes = [bytes(item) for item in tx.vin[index].scriptSig if isinstance(item, bytes)]
    except CScriptInvalidError:
        pushes = []  # an unparsable scriptSig tells us nothing
    candidates = []
    if witness:
        if len(witness) == 2 and len(witness[1]) == 33:
            candidates.append(bytes(CScript([OP_0, _hash160(witness[1])])))
        candidates.append(bytes(CScript([OP_0, hashlib.sha256(witness[-1]).digest()])))
    if pushes:
        candidates.append(bytes(CScript([OP_HASH160, _hash160(pushes[-1]), OP_EQUAL])))
        if len(pushes) == 2 and len(pushes[1]) in (33, 65):
            pubkey_hash = _hash160(pushes[1])
            candidates.append(b"\x76\xa9\x14" + pubkey_hash + b"\x88\xac")
    return candidates


@dataclass
class _Leg:
    vout: int
    value_sats: int
    destination_wallet: Wallet | None
    address: str


def _owner_of_scripts(network: str, scripts: list[bytes]) -> dict[bytes, Wallet]:
    rows = WatchedScript.objects.filter(wallet__network=network, script_pubkey__in=scripts).select_related("wallet")
    return {bytes(row.script_pubkey): row.wallet for row in rows}


def _confirm(transfer: Transfer, *, txid: str, vout: int | None, block_row: ChainBlock, fee_sats: int | None) -> str:
    """Confirm in a savepoint; returns '' or why the books refused it (e.g. a policy denial)."""
    try:
        with transaction.atomic():
            transfer_confirm(
                transfer=transfer,
                txid=txid,
                vout=vout,
                block_height=block_row.height,
                block_hash=block_row.hash,
                occurred_at=block_row.block_time_at,
                fee_sats=fee_sats,
            )
    except ApplicationError as error:
        # The block's transaction commits: what the refusal must leave (its policy evaluation)
        # is written now, outside the savepoint that rolled the confirmation back.
        error.settle()
        return error.message
    return ""


def _observe(
    *,
    wallet: Wallet,
    direction: str,
    txid: str,
    vout: int,
    value_sats: int,
    block_row: ChainBlock,
    source_wallet: Wallet | None = None,
    destination_wallet: Wallet | None = None,
    address: str = "",
    fee_sats: int = 0,
    category: str = "other",
) -> tuple[Transfer | None, str]:
    """Book a movement nobody proposed; returns (transfer, '') or (None, why the books refused
    it), so a movement the ledger cannot take (e.g. more than the books hold) is reported
    instead of stopping the scan at this block."""
    try:
        with transaction.atomic():
            transfer, _breaches = transfer_record_observed(
                direction=direction,
                amount_sats=value_sats,
                txid=txid,
                vout=vout,
                block_height=block_row.height,
                block_hash=block_row.hash,
                occurred_at=block_row.block_time_at,
                source_wallet=source_wallet,
                destination_wallet=destination_wallet,
                external_address=address,
                fee_sats=fee_sats,
                category=category,
            )
    except ApplicationError as error:
        error.settle()
        return None, error.message
    if transfer.status == TransferStatus.REORGED:
        # Seen before on a dropped branch and mined again: book it again.
        refused = _confirm(transfer, txid=txid, vout=vout, block_row=block_row, fee_sats=None)
        if refused:
            return None, refused
    return transfer, ""


def _observe_unproposed(
    bookings: BlockBookings, *, kind: str, detail: str, run: Any, **movement: Any
) -> Transfer | None:
    """Book a movement nobody proposed (or one whose transfer could not be confirmed) as
    observed, and open its discrepancy: the detail says why the books refused it, or that its
    key was held by another record. Returns the observed transfer, None when refused."""
    observed, refused = _observe(**movement)
    if observed is None:
        detail = f"{detail}; the books refused it: {refused}"
    else:
        if observed.status_reason.startswith(KEY_CONFLICT):
            detail = f"{detail}; {observed.status_reason}"
        bookings.observed += 1
    discrepancy = discrepancy_open(
        wallet=movement["wallet"],
        kind=kind,
        txid=movement["txid"],
        vout=movement["vout"],
        run=run,
        transfer=observed,
        block_height=movement["block_row"].height,
        actual_sats=movement["value_sats"],
        detail=detail,
    )
    bookings.discrepancies.append(discrepancy.pk)
    return observed


def _payers(*, wallet: Wallet, tx: CTransaction) -> set[Wallet]:
    """The other registered wallets that paid `tx` (they book it, knowing its inputs)."""
    if tx.is_coinbase():
        return set()
    candidates = [script for index in range(len(tx.vin)) for script in _input_script_candidates(tx, index)]
    return {owner for owner in _owner_of_scripts(wallet.network, candidates).values() if owner.pk != wallet.pk}


class _InflowCandidates:
    """The transfers a step's inflows may confirm, read once per step rather than per output:
    those naming the transaction, then approved inbound ones without a txid (matched by amount).
    Within a step nothing else changes them; one confirmed leaves the list."""

    def __init__(self, wallet: Wallet) -> None:
        self.wallet = wallet
        self._by_txid: dict[str, list[Transfer]] = {}
        self._unnumbered: list[Transfer] | None = None

    def match(self, txid: str, output: WatchedOutput) -> Transfer | None:
        if txid not in self._by_txid:
            self._by_txid[txid] = list(
                Transfer.objects.filter(
                    destination_wallet=self.wallet, txid=txid, status__in=AWAITING_CHAIN, observed=False
                ).order_by("pk")
            )
        named = next((each for each in self._by_txid[txid] if each.vout in (output.vout, None)), None)
        if named is not None:
            return named
        if self._unnumbered is None:
            self._unnumbered = list(
                Transfer.objects.filter(
                    direction=TransferDirection.INBOUND,
                    destination_wallet=self.wallet,
                    txid="",
                    status=TransferStatus.APPROVED,
                ).order_by("pk")
            )
        return next((each for each in self._unnumbered if each.amount_sats == output.value_sats), None)

    def confirmed(self, transfer: Transfer) -> None:
        for candidates in (*self._by_txid.values(), self._unnumbered or []):
            if transfer in candidates:
                candidates.remove(transfer)


def _book_inflow(
    *,
    wallet: Wallet,
    tx: CTransaction,
    txid: str,
    output: WatchedOutput,
    block_row: ChainBlock,
    run: Any,
    candidates: _InflowCandidates,
) -> BlockBookings:
    """One output paying `wallet` from outside the registered wallets: confirm the transfer that
    expects it, or record it as observed, with its discrepancy."""
    bookings = BlockBookings()
    coinbase = tx.is_coinbase()
    transfer = candidates.match(txid, output)
    if transfer is not None:
        refused = _confirm(transfer, txid=txid, vout=output.vout, block_row=block_row, fee_sats=None)
        if not refused:
            candidates.confirmed(transfer)
            bookings.matched += 1
            return bookings
        transfer.refresh_from_db()  # as the rolled-back savepoint left it, for the next output
        detail = f"transfer #{transfer.pk} matches this inflow but could not be confirmed: {refused}"
    else:
        detail = f"{output.value_sats} sats received in {txid}:{output.vout} that no transfer proposed"
    _observe_unproposed(
        bookings,
        kind=DiscrepancyKind.UNRECORDED_INFLOW,
        detail=detail,
        run=run,
        wallet=wallet,
        direction=TransferDirection.INBOUND,
        txid=txid,
        vout=output.vout,
        value_sats=output.value_sats,
        block_row=block_row,
        destination_wallet=wallet,
        category="mining_reward" if coinbase else "other",
    )
    return bookings


def _legs(*, wallet: Wallet, tx: CTransaction) -> tuple[list[_Leg], int]:
    """The outputs that leave `wallet` (to another wallet or outside) and the total of all outputs."""
    scripts = [bytes(out.scriptPubKey) for out in tx.vout]
    owners = _owner_of_scripts(wallet.network, scripts)
    legs = []
    for vout, (out, script) in enumerate(zip(tx.vout, scripts, strict=True)):
        owner = owners.get(script)
        if owner is not None and owner.pk == wallet.pk:
            continue  # change
        if owner is None:
            try:
                address = address_from_script(script_pubkey=script, network=wallet.network)
            except ValueError:
                continue  # OP_RETURN and other non-standard outputs carry no value anyone holds
        legs.append(_Leg(vout, int(out.nValue), owner, "" if owner else address))
    return legs, sum(int(out.nValue) for out in tx.vout)


def _pays(transfer: Transfer, leg: _Leg) -> bool:
    """Does the transfer go where this output goes (one of our wallets, or an outside address)?"""
    if leg.destination_wallet is not None:
        return transfer.destination_wallet_id == leg.destination_wallet.pk
    return transfer.destination_wallet_id is None and transfer.external_address == leg.address


def _book_outflow(
    *,
    wallet: Wallet,
    tx: CTransaction,
    txid: str,
    spent: list[WalletUtxo],
    block_row: ChainBlock,
    run: Any,
) -> BlockBookings:
    bookings = BlockBookings()
    legs, outputs_total = _legs(wallet=wallet, tx=tx)
    # The fee is known when every input is this wallet's.
    fee = sum(utxo.value_sats for utxo in spent) - outputs_total if len(spent) == len(tx.vin) else None
    # Observed movements mined again after a reorg are booked again as observed (below), not matched.
    by_txid = list(
        Transfer.objects.filter(source_wallet=wallet, txid=txid, status__in=AWAITING_CHAIN, observed=False).order_by(
            "pk"
        )
    )
    proposed_fees = 0
    fee_to_book = fee
    for leg in legs:
        same_end = [candidate for candidate in by_txid if _pays(candidate, leg)]
        transfer = next((candidate for candidate in same_end if candidate.amount_sats == leg.value_sats), None)
        if transfer is None and not same_end:
            # Recorded before its txid was known: the destination and the amount identify it.
            ends = (
                Q(destination_wallet=leg.destination_wallet)
                if leg.destination_wallet
                else Q(destination_wallet__isnull=True, external_address=leg.address)
            )
            transfer = (
                Transfer.objects.filter(
                    ends, source_wallet=wallet, txid="", amount_sats=leg.value_sats, status=TransferStatus.APPROVED
                )
                .order_by("pk")
                .first()
            )
        if transfer is None and same_end:
            mismatched = same_end[0]
            by_txid.remove(mismatched)
            discrepancy = discrepancy_open(
                wallet=wallet,
                kind=DiscrepancyKind.AMOUNT_MISMATCH,
                txid=txid,
                vout=leg.vout,
                run=run,
                transfer=mismatched,
                block_height=block_row.height,
                expected_sats=mismatched.amount_sats,
                actual_sats=leg.value_sats,
                detail=f"transfer #{mismatched.pk} proposed {mismatched.amount_sats} sats; "
                f"the chain paid {leg.value_sats} in {txid}:{leg.vout}",
            )
            bookings.discrepancies.append(discrepancy.pk)
            transfer_detect_mismatch(
                transfer=mismatched,
                paid_sats=leg.value_sats,
                block_height=block_row.height,
                occurred_at=block_row.block_time_at,
                discrepancy_id=discrepancy.pk,
            )
            continue
        if transfer is not None:
            if transfer in by_txid:
                by_txid.remove(transfer)
            refused = _confirm(transfer, txid=txid, vout=leg.vout, block_row=block_row, fee_sats=fee_to_book)
            if not refused:
                proposed_fees += transfer.fee_sats
                fee_to_book = 0 if fee is not None else None
                bookings.matched += 1
                continue
            detail = f"transfer #{transfer.pk} matches this outflow but could not be confirmed: {refused}"
        else:
            detail = f"{leg.value_sats} sats left in {txid}:{leg.vout} without a proposed transfer"
        observed = _observe_unproposed(
            bookings,
            kind=DiscrepancyKind.UNRECORDED_OUTFLOW,
            detail=detail,
            run=run,
            wallet=wallet,
            direction=TransferDirection.INTERNAL if leg.destination_wallet else TransferDirection.OUTBOUND,
            txid=txid,
            vout=leg.vout,
            value_sats=leg.value_sats,
            block_row=block_row,
            source_wallet=wallet,
            destination_wallet=leg.destination_wallet,
            address=leg.address,
            fee_sats=fee_to_book or 0,
        )
        if observed is not None:
            fee_to_book = 0 if fee is not None else None
    for unmatched in by_txid:
        discrepancy = discrepancy_open(
            wallet=wallet,
            kind=DiscrepancyKind.AMOUNT_MISMATCH,
            txid=txid,
            run=run,
            transfer=unmatched,
            block_height=block_row.height,
            expected_sats=unmatched.amount_sats,
            detail=f"transfer #{unmatched.pk} names {txid}, which pays nothing to its destination",
        )
        bookings.discrepancies.append(discrepancy.pk)
    if fee is not None and bookings.matched and proposed_fees != fee:
        discrepancy = discrepancy_open(
            wallet=wallet,
            kind=DiscrepancyKind.FEE_MISMATCH,
            txid=txid,
            run=run,
            block_height=block_row.height,
            expected_sats=proposed_fees,
            actual_sats=fee,
            detail=f"proposed fee {proposed_fees} sats, paid {fee} sats (the books now hold what was paid)",
        )
        bookings.discrepancies.append(discrepancy.pk)
    return bookings


def _hold_locks(*, wallet: Wallet, transactions: list[CTransaction]) -> None:
    """Take, before the first booking, every lock the step's postings may want, in the one global
    order: the policy scopes of every registered wallet the transactions pay or spend from, then
    the balance rows (theirs and the shared equity and expense accounts) in key order. A step
    books many postings in one database transaction; taken posting by posting, its locks would
    come in the order of the postings and deadlock with an approval taking the same in order."""
    scripts = [bytes(out.scriptPubKey) for tx in transactions for out in tx.vout]
    wallets = {wallet.pk: wallet, **{owner.pk: owner for owner in _owner_of_scripts(wallet.network, scripts).values()}}
    scopes = {PolicyScope("wallet", pk) for pk in wallets}
    scopes.update(PolicyScope("agency", owner.agency_id) for owner in wallets.values() if owner.agency_id)
    if any(owner.in_perimeter for owner in wallets.values()):
        scopes.add(PolicyScope("perimeter"))
    lock_scopes(policy_scopes_governed(scopes=sorted(scopes, key=lambda scope: scope.sort_key)))
    balances_hold(account_ids=[owner.ledger_account_id for owner in wallets.values()])


@dataclass(frozen=True)
class Booking:
    """One unit of a block's booking, committed whole: an output paying the wallet (`output`), a
    transaction spending from it (`spent`: its coins), or an inflow left to the registered
    wallets that paid it (`payers`). `postings` is how many it may post, to size the steps."""

    txid: str
    tx: CTransaction
    output: WatchedOutput | None = None
    spent: tuple[WalletUtxo, ...] = ()
    payers: tuple[Wallet, ...] = ()

    @property
    def postings(self) -> int:
        return len(self.tx.vout) if self.spent else 1


def block_bookings(*, wallet: Wallet, block: VerifiedBlock, block_row: ChainBlock) -> list[Booking]:
    """What the block books for `wallet`, in the block's order: the same list every time it is
    asked of the same block and the same recorded UTXOs, so a booking interrupted between steps
    resumes at the first unit not committed (`ScanCursor.booked_units`)."""
    touching = {output.txid: output.tx_index for output in block.outputs}
    touching.update({spend.txid: spend.tx_index for spend in block.spends})
    spent_by: dict[str, list[WalletUtxo]] = {}
    for utxo in (
        WalletUtxo.objects.filter(wallet=wallet, spent_in_block=block_row)
        .exclude(status=UtxoStatus.REORGED)
        .order_by("pk")
    ):
        spent_by.setdefault(utxo.spent_by_txid, []).append(utxo)
    units: list[Booking] = []
    for txid, tx_index in sorted(touching.items(), key=lambda item: item[1]):
        # Only the transactions that touch the wallet are deserialized, each from its own bytes.
        tx = block.transaction(tx_index)
        if txid in spent_by:
            units.append(Booking(txid, tx, spent=tuple(spent_by[txid])))
        elif payers := _payers(wallet=wallet, tx=tx):
            units.append(Booking(txid, tx, payers=tuple(sorted(payers, key=lambda payer: payer.pk))))
        else:
            units.extend(Booking(txid, tx, output=output) for output in block.outputs if output.txid == txid)
    return units


def bookings_book(*, wallet: Wallet, units: list[Booking], block_row: ChainBlock, run: Any) -> BlockBookings:
    """Book `units` of a block (inside the caller's transaction, one step), their locks taken first."""
    bookings = BlockBookings()
    if not units:
        return bookings
    _hold_locks(wallet=wallet, transactions=[unit.tx for unit in units])
    candidates = _InflowCandidates(wallet)
    for unit in units:
        if unit.spent:
            bookings.add(
                _book_outflow(
                    wallet=wallet, tx=unit.tx, txid=unit.txid, spent=list(unit.spent), block_row=block_row, run=run
                )
            )
        elif unit.payers:
            # The paying wallet books it when its scan reaches this block; ask it to scan now.
            for payer in unit.payers:
                outbox_enqueue(task_name="reserve.reconcile_wallet_task", args=[payer.pk])
        elif unit.output is not None:
            bookings.add(
                _book_inflow(
                    wallet=wallet,
                    tx=unit.tx,
                    txid=unit.txid,
                    output=unit.output,
                    block_row=block_row,
                    run=run,
                    candidates=candidates,
                )
            )
    return bookings
