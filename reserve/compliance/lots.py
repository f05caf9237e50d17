"""Lots: every posted inflow becomes a lot (acquisition time, amount, category, provenance), and
every posted outflow takes from its wallet's lots by a stated method: the lots the transfer names,
in their order (specific identification), else the oldest first (FIFO). A move between our wallets
carries the lots it took, with their acquisition time and provenance, to the destination. The
database keeps both kept as written and a lot from giving more than it holds
(reserve/sql/0085_lots.sql); this module is the one place that chooses which lots an outflow takes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from config.errors import Conflict, ValidationFailed
from ledger.models import JournalTransaction
from policy.types import arriving_parts
from reserve.compliance.models import Lot, LotConsumption
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer, TransferDirection, TransferStatus


@dataclass(frozen=True)
class LotTake:
    lot: Lot
    sats: int


def lots_open(*, wallet_id: int, lock: bool = False) -> QuerySet[Lot]:
    """The wallet's lots with something left (`left_sats`), oldest first (FIFO order)."""
    lots = Lot.objects.filter(wallet_id=wallet_id)
    if lock:
        # Every posting that takes from the wallet's lots locks its row first, so two of them queue
        # here and the second sees what the first took (the database refuses a lot given twice).
        list(Wallet.objects.select_for_update().filter(pk=wallet_id).values_list("pk", flat=True))
    return lots.annotate(taken_sats=Coalesce(Sum("consumptions__amount_sats"), 0)).order_by("acquired_at", "id")


def lots_report(*, held: bool | None = None) -> QuerySet[Lot]:
    """Every lot with what it gave (`taken_sats`) and what is left (`left_sats`), per wallet oldest
    first; `held` True keeps the lots with something left, False those given up entirely."""
    lots = (
        Lot.objects.select_related("wallet")
        .annotate(taken_sats=Coalesce(Sum("consumptions__amount_sats"), 0))
        .annotate(left_sats=F("amount_sats") - F("taken_sats"))
        .order_by("wallet_id", "acquired_at", "id")
    )
    return lots if held is None else lots.filter(lots_held(held))


def lots_held(held: bool) -> Q:
    """Of a `lots_report` queryset: the lots with something left (True), or given up entirely (False)."""
    return Q(amount_sats__gt=F("taken_sats")) if held else Q(amount_sats=F("taken_sats"))


def _left(lot: Lot) -> int:
    return lot.amount_sats - lot.taken_sats  # type: ignore[attr-defined]


def lots_taken(*, wallet_id: int, sats: int, lot_ids: Sequence[int] = (), lock: bool = False) -> list[LotTake]:
    """What `sats` leaving the wallet take: the named lots in their order, then (for whatever they
    no longer cover) the oldest open ones; as far as the open lots go."""
    open_lots = [lot for lot in lots_open(wallet_id=wallet_id, lock=lock) if _left(lot) > 0]
    by_id = {lot.pk: lot for lot in open_lots}
    named = [by_id[lot_id] for lot_id in lot_ids if lot_id in by_id]
    ordered = named + [lot for lot in open_lots if lot not in named]
    takes, wanted = [], sats
    for lot in ordered:
        if wanted <= 0:
            break
        take = min(_left(lot), wanted)
        takes.append(LotTake(lot, take))
        wanted -= take
    return takes


def lots_choice_check(*, wallet_id: int | None, sats: int, lot_ids: Sequence[int], field: str = "lots") -> list[int]:
    """The lots a proposal names, checked: of its source wallet, open, each once, and together
    covering amount and fee. Errors name `field`."""
    chosen = list(lot_ids)
    if not chosen:
        return []
    if wallet_id is None:
        raise ValidationFailed.for_field(field, "only a transfer out of one of our wallets names lots")
    if any(isinstance(lot_id, bool) or not isinstance(lot_id, int) for lot_id in chosen):
        raise ValidationFailed.for_field(field, "must be a list of lot ids")
    if len(set(chosen)) != len(chosen):
        raise ValidationFailed.for_field(field, "names a lot twice")
    found = {lot.pk: lot for lot in lots_open(wallet_id=wallet_id).filter(pk__in=chosen)}
    foreign = [lot_id for lot_id in chosen if lot_id not in found]
    if foreign:
        raise ValidationFailed.for_field(field, f"lots {foreign} are not lots of the source wallet")
    spent = [lot_id for lot_id in chosen if _left(found[lot_id]) <= 0]
    if spent:
        raise ValidationFailed.for_field(field, f"lots {spent} have nothing left")
    covered = sum(_left(found[lot_id]) for lot_id in chosen)
    if covered < sats:
        raise ValidationFailed.for_field(
            field, f"the named lots hold {covered} sats; the transfer takes {sats} (amount and fee)"
        )
    return chosen


def transfer_lots_post(transfer: Transfer, *, journal: JournalTransaction) -> None:
    """The lots a transfer's posting `journal` takes and makes, in the posting's database
    transaction: an outflow takes amount and fee from its source; what reaches a wallet of ours
    becomes lots there, keeping the provenance of the lots it came from (the part no lot covered
    is a lot of the transfer's own category and reference)."""
    if (
        LotConsumption.objects.filter(journal_transaction=journal).exists()
        or Lot.objects.filter(journal_transaction=journal).exists()
    ):
        return  # this posting's lots are recorded already
    takes: list[LotTake] = []
    if transfer.direction != TransferDirection.INBOUND:
        assert transfer.source_wallet_id is not None
        takes = lots_taken(
            wallet_id=transfer.source_wallet_id,
            sats=transfer.amount_sats + transfer.fee_sats,
            lot_ids=transfer.lot_ids,
            lock=True,
        )
        LotConsumption.objects.bulk_create(
            LotConsumption(lot=take.lot, transfer=transfer, journal_transaction=journal, amount_sats=take.sats)
            for take in takes
        )
    if transfer.destination_wallet_id is None:
        return
    # The amount arrives; the fee, paid last, is what the last lots taken lose.
    parts = arriving_parts([take.sats for take in takes], transfer.amount_sats)
    lots = [
        Lot(
            wallet_id=transfer.destination_wallet_id,
            transfer=transfer,
            journal_transaction=journal,
            origin=take.lot,
            acquired_at=take.lot.acquired_at,
            amount_sats=moved,
            category=take.lot.category,
            provenance_reference=take.lot.provenance_reference,
        )
        for take, moved in zip(takes, parts, strict=True)
        if moved
    ]
    arriving = transfer.amount_sats - sum(parts)
    if arriving > 0:
        assert transfer.occurred_at is not None
        lots.append(
            Lot(
                wallet_id=transfer.destination_wallet_id,
                transfer=transfer,
                journal_transaction=journal,
                acquired_at=transfer.occurred_at,
                amount_sats=arriving,
                category=transfer.category,
                provenance_reference=transfer.provenance_reference,
            )
        )
    Lot.objects.bulk_create(lots)


def transfer_lots_reverse(transfer: Transfer, *, journal: JournalTransaction, reversal: JournalTransaction) -> None:
    """The posting `journal` was reversed (its block left the chain): what it took goes back to its
    lots, and what is left of the lots it made is taken by the reversal."""
    for lot in lots_open(wallet_id=transfer.destination_wallet_id or 0, lock=True).filter(journal_transaction=journal):
        if _left(lot) > 0:
            LotConsumption.objects.create(
                lot=lot, transfer=transfer, journal_transaction=reversal, amount_sats=_left(lot)
            )
    for taken in LotConsumption.objects.filter(journal_transaction=journal, restores__isnull=True):
        LotConsumption.objects.create(
            lot_id=taken.lot_id,
            transfer=transfer,
            journal_transaction=reversal,
            amount_sats=-taken.amount_sats,
            restores=taken,
        )


@transaction.atomic
def lots_backfill() -> int:
    """The lots of the books kept before lots were (reserve migration 0085): every transfer posted and
    still on the chain, replayed in posting order, takes and makes its lots as a posting now would.
    Once only, before anything posts again: refused when any lot exists. Returns the transfers replayed."""
    if Lot.objects.exists():
        raise Conflict.for_field("lots", "lots exist already: the backfill runs once, before new postings")
    posted = (
        Transfer.objects.filter(status__in=(TransferStatus.CONFIRMED, TransferStatus.FINAL))
        .exclude(journal_transaction=None)
        .select_related("journal_transaction")
        .order_by("journal_transaction__sequence")
    )
    count = 0
    for transfer in posted:
        assert transfer.journal_transaction is not None
        transfer_lots_post(transfer, journal=transfer.journal_transaction)
        count += 1
    return count
