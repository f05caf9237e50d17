"""Where a report stands on the chain: the time, block height and block hash it is stated at.

Blocks come from the headers the scanner verified (`ChainBlock`, the active chain of the
configured network); where the scanner has not seen a block, from the block recorded with
the postings of that height.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from config.errors import ValidationFailed
from ledger.models import JournalTransaction
from reserve.reconciliation.models import BlockStatus, ChainBlock


@dataclass(frozen=True)
class ChainPoint:
    as_of: datetime | None  # the time the report is stated at (the block's time for a height)
    height: int | None  # the block height (the highest block known at `as_of` for a time)
    block_hash: str | None  # the hash of that block, None when no record of it exists


def _blocks() -> QuerySet[ChainBlock]:
    return ChainBlock.objects.filter(network=settings.BITCOIN_NETWORK, status=BlockStatus.ACTIVE)


def _booked_hash(height: int) -> tuple[str | None, datetime | None]:
    row = (
        JournalTransaction.objects.filter(block_height=height, block_hash__isnull=False)
        .order_by("sequence")
        .values_list("block_hash", "occurred_at")
        .first()
    )
    return (row[0], row[1]) if row else (None, None)


def height_moment(height: int) -> datetime | None:
    """When the books last moved at or below block `height` (None: they never did): the moment a
    report at that height judges membership at when no block record gives the block's time."""
    return (
        JournalTransaction.objects.filter(block_height__lte=height)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )


def chain_point_at_height(height: int) -> ChainPoint:
    if height < 0:
        raise ValidationFailed.for_field("height", "must be a block height >= 0")
    block = _blocks().filter(height=height).values_list("hash", "block_time_at").first()
    if block is not None:
        return ChainPoint(as_of=block[1], height=height, block_hash=block[0])
    if not (
        _blocks().filter(height__gt=height).exists()
        or JournalTransaction.objects.filter(block_height__gte=height).exists()
    ):
        # Above the tip a report would be a page of nulls stated at a block nobody has seen.
        tip = chain_tip_height()
        raise ValidationFailed.for_field(
            "height",
            "no block is known yet" if tip is None else f"is above the highest verified block ({tip})",
        )
    block_hash, occurred_at = _booked_hash(height)
    return ChainPoint(as_of=occurred_at, height=height, block_hash=block_hash)


def chain_point_at_time(at: datetime) -> ChainPoint:
    """The highest block at or before `at` (scanned headers first, then the books)."""
    if timezone.is_naive(at):
        raise ValidationFailed.for_field("as_of", "needs a time zone (e.g. 2026-03-01T00:00:00Z)")
    block = _blocks().filter(block_time_at__lte=at).order_by("-height").values_list("height", "hash").first()
    if block is not None:
        return ChainPoint(as_of=at, height=block[0], block_hash=block[1])
    height = JournalTransaction.objects.filter(occurred_at__lte=at, block_height__isnull=False).aggregate(
        top=Max("block_height")
    )["top"]
    if height is None:
        return ChainPoint(as_of=at, height=None, block_hash=None)
    return ChainPoint(as_of=at, height=int(height), block_hash=_booked_hash(int(height))[0])


def chain_point(*, at: datetime | None = None, height: int | None = None) -> ChainPoint:
    """Exactly one of `at` and `height`, or neither for now."""
    if at is not None and height is not None:
        raise ValidationFailed.for_field("height", "give as_of or height, not both")
    if height is not None:
        return chain_point_at_height(height)
    return chain_point_at_time(at or timezone.now())


def chain_tip_height() -> int | None:
    """The highest block the service knows of (scanned or booked)."""
    scanned = _blocks().aggregate(top=Max("height"))["top"]
    booked = JournalTransaction.objects.aggregate(top=Max("block_height"))["top"]
    known = [int(value) for value in (scanned, booked) if value is not None]
    return max(known) if known else None
