"""The chain follower: scans the best chain for one wallet from its birthday, block by block.

Each block's effects (its verified header, the wallet's new and spent outputs, watched
scripts derived past the gap limit, transfers confirmed or observed, discrepancies) commit
in one database transaction together with the wallet's scan cursor (blocks that touch
nothing of the wallet, in batches), so a crash at any point leaves whole blocks applied
or none of them; a block with many bookings commits them in steps after its first
transaction, the cursor counting the steps done, so a crash between steps is resumed where it
stopped (or, if the block left the best chain meanwhile, reversed by the reorg). A block whose parent is not
the cursor's block is a reorg: the scanner walks back to the fork point and undoes what
it booked above it (ledger reversals through the transfer services), then rescans.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.errors import ApplicationError
from reserve.chain.errors import BlockVerificationError, ChainError, NodeRpcError, WrongNetwork
from reserve.chain.follow import (
    BlockHeader,
    BlockRefused,
    BlockUnlinked,
    ScannedBlock,
    VerifiedBlock,
    Watchlist,
    header_from_bytes,
    verified_block,
)
from reserve.chain.source import ChainSource
from reserve.custody.models import Wallet, WatchedScript
from reserve.custody.services import wallet_extend_gap
from reserve.outbox.services import outbox_enqueue
from reserve.reconciliation.booking import (
    BlockBookings,
    Booking,
    block_bookings,
    bookings_book,
    discrepancy_open,
)
from reserve.reconciliation.models import (
    BlockStatus,
    ChainBlock,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    ReconciliationRun,
    ScanCursor,
    UtxoStatus,
    WalletUtxo,
)
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import transfer_mark_reorged

logger = logging.getLogger(__name__)

# Answers in a row whose block does not link to the node's own block below it.
MAX_UNLINKED_ANSWERS = 3
# Blocks that touch nothing of the wallet commit together, up to this many at a time.
BATCH_BLOCKS = 50
# A block's bookings commit in steps of about this many postings, each step with the cursor's
# count of bookings done: the balance rows a step locks up front are held for one step (well
# under a second), not for the whole block, and an approval on the wallet waits that long at most.
POSTINGS_PER_STEP = 20


class ScanInterrupted(Exception):
    """Another scan moved this wallet's cursor meanwhile (the per-wallet lock should prevent it)."""


@dataclass
class ScanProgress:
    wallet: Wallet
    height: int
    tip_height: int
    blocks_scanned: int
    started_at_monotonic: float

    @property
    def blocks_per_second(self) -> float:
        elapsed = time.monotonic() - self.started_at_monotonic
        return self.blocks_scanned / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.blocks_per_second
        return (self.tip_height - self.height) / rate if rate > 0 else None


@dataclass
class ScanResult:
    tip_height: int
    tip_hash: str
    blocks_scanned: int = 0
    reorgs: int = 0
    bookings: BlockBookings = field(default_factory=BlockBookings)


ProgressCallback = Callable[[ScanProgress], None]


def _block_time(header_time: int) -> datetime:
    return datetime.fromtimestamp(header_time, tz=UTC)


def scan_cursor(*, wallet: Wallet) -> ScanCursor:
    cursor, _ = ScanCursor.objects.get_or_create(wallet=wallet, defaults={"height": -1, "block_hash": ""})
    return cursor


def _watchlist(wallet: Wallet) -> Watchlist:
    scripts = WatchedScript.objects.filter(wallet=wallet).values_list("script_pubkey", flat=True)
    outpoints = WalletUtxo.objects.filter(wallet=wallet, status=UtxoStatus.UNSPENT).values_list("txid", "vout")
    return Watchlist((bytes(script) for script in scripts), outpoints)


def _lock_network_headers(network: str) -> None:
    # Wallets on one network share one header chain; their scans write it one block at a time.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"reserve:chainblocks:{network}"])


def _header_fields(height: int, block: ScannedBlock) -> dict[str, Any]:
    header = block.header
    return {
        "height": height,
        "header": header.raw,
        "prev_hash": header.prev_hash,
        "merkle_root": header.merkle_root,
        "block_time_at": _block_time(header.time),
        "bits": header.bits,
        "tx_count": block.tx_count,
        "size_bytes": block.size,
    }


def _record_blocks(*, network: str, blocks: list[tuple[int, VerifiedBlock]]) -> None:
    """Store verified headers as the active blocks at their heights; a different active block at
    one of those heights (and every active block above it) left the best chain."""
    _lock_network_headers(network)
    now = timezone.now()
    hashes = [block.hash for _, block in blocks]
    others = ChainBlock.objects.filter(network=network, status=BlockStatus.ACTIVE).exclude(hash__in=hashes)
    displaced = others.filter(height__in=[height for height, _ in blocks]).order_by("height").first()
    if displaced is not None:
        others.filter(height__gte=displaced.height).update(status=BlockStatus.REORGED, reorged_at=now)
    known = dict(ChainBlock.objects.filter(network=network, hash__in=hashes).values_list("hash", "status"))
    for height, block in blocks:
        if known.get(block.hash, BlockStatus.ACTIVE) != BlockStatus.ACTIVE:
            # Back on the best chain, or refused once on a bad answer and now verified.
            ChainBlock.objects.filter(network=network, hash=block.hash).update(
                status=BlockStatus.ACTIVE,
                rejection_reason="",
                verified_at=now,
                reorged_at=None,
                **_header_fields(height, block),
            )
    ChainBlock.objects.bulk_create(
        ChainBlock(network=network, hash=block.hash, verified_at=now, **_header_fields(height, block))
        for height, block in blocks
        if block.hash not in known
    )


def _record_block(*, network: str, height: int, block: VerifiedBlock) -> ChainBlock:
    _record_blocks(network=network, blocks=[(height, block)])
    return ChainBlock.objects.get(network=network, hash=block.hash)


def _record_rejection(*, network: str, height: int, block: ScannedBlock | None, error: BlockVerificationError) -> None:
    """Keep the refused block for operators; it is never scanned."""
    if block is None or error.block_hash != block.hash:
        logger.error("refused block at height %s: %s", height, error.message)
        return
    ChainBlock.objects.update_or_create(
        network=network,
        hash=block.hash,
        defaults={
            **_header_fields(height, block),
            "status": BlockStatus.REJECTED,
            "rejection_reason": error.reason,
            "verified_at": None,
        },
    )
    logger.error("refused block %s at height %s: %s", block.hash, height, error.reason)


def _recorded_header(*, network: str, block_hash: str | None) -> BlockHeader | None:
    """The stored header of `block_hash`, the parent a resumed scan checks the difficulty against."""
    if block_hash is None:
        return None  # a wallet's first block: no parent of ours to derive the difficulty from
    row = ChainBlock.objects.filter(network=network, hash=block_hash).exclude(header=b"").first()
    return header_from_bytes(bytes(row.header)) if row is not None else None


def _lock_cursor(wallet: Wallet, *, height: int, block_hash: str) -> ScanCursor:
    cursor = ScanCursor.objects.select_for_update().get(wallet=wallet)
    if (cursor.height, cursor.block_hash) != (height, block_hash):
        raise ScanInterrupted(
            f"wallet {wallet.name}: cursor moved to {cursor.height} while this scan expected {height}"
        )
    return cursor


def _book_step(
    *, wallet: Wallet, cursor: ScanCursor, units: list[Booking], block_row: ChainBlock, run: ReconciliationRun | None
) -> BlockBookings:
    """Book the next step of the cursor's block (in the caller's transaction, with the cursor
    locked) and count it on the cursor, which the caller saves: the step and its count commit
    together, so a crash between steps leaves whole steps booked and the count says which."""
    done = end = cursor.booked_units
    postings = 0
    while end < len(units) and postings < POSTINGS_PER_STEP:
        postings += units[end].postings
        end += 1
    bookings = bookings_book(wallet=wallet, units=units[done:end], block_row=block_row, run=run)
    finished = end >= len(units)
    cursor.booking_block_hash, cursor.booked_units = ("", 0) if finished else (block_row.hash, end)
    cursor.updated_at = timezone.now()
    return bookings


def _book_remaining(
    *, wallet: Wallet, units: list[Booking], block_row: ChainBlock, run: ReconciliationRun | None
) -> BlockBookings:
    """The steps after the first, each its own transaction; ends when the cursor says the block is booked."""
    bookings = BlockBookings()
    while True:
        with transaction.atomic():
            cursor = ScanCursor.objects.select_for_update().get(wallet=wallet)
            if cursor.booking_block_hash != block_row.hash:
                if cursor.block_hash == block_row.hash and not cursor.booking_block_hash:
                    return bookings  # booked to the end (by this scan, or one that resumed it)
                raise ScanInterrupted(f"wallet {wallet.name}: the cursor left block {block_row.hash} while booking it")
            bookings.add(_book_step(wallet=wallet, cursor=cursor, units=units, block_row=block_row, run=run))
            cursor.save()


def _resume_booking(
    *, wallet: Wallet, source: ChainSource, cursor: ScanCursor, run: ReconciliationRun | None
) -> BlockBookings:
    """Finish the bookings of the cursor's block that a crash interrupted between steps: the block
    again from the node, verified, matched against what the wallet watched when it was first
    applied (its scripts, and its outpoints then unspent: unspent now or spent in this block),
    so it lists the same bookings; the steps committed are skipped, the rest booked."""
    row = ChainBlock.objects.get(network=wallet.network, hash=cursor.block_hash)
    scripts = WatchedScript.objects.filter(wallet=wallet).values_list("script_pubkey", flat=True)
    outpoints = (
        WalletUtxo.objects.filter(wallet=wallet)
        .filter(Q(status=UtxoStatus.UNSPENT) | Q(status=UtxoStatus.SPENT, spent_in_block=row))
        .values_list("txid", "vout")
    )
    block = verified_block(
        source,
        height=cursor.height,
        block_hash=cursor.block_hash,
        watchlist=Watchlist((bytes(script) for script in scripts), outpoints),
        parent_hash=row.prev_hash,
        parent=_recorded_header(network=wallet.network, block_hash=row.prev_hash),
    )
    logger.warning(
        "wallet %s: resuming the bookings of block %s at height %s after %s",
        wallet.name,
        cursor.block_hash,
        cursor.height,
        cursor.booked_units,
    )
    units = block_bookings(wallet=wallet, block=block, block_row=row)
    return _book_remaining(wallet=wallet, units=units, block_row=row, run=run)


def _apply_block(
    *,
    wallet: Wallet,
    block: VerifiedBlock,
    height: int,
    watchlist: Watchlist,
    cursor_before: tuple[int, str],
    run: ReconciliationRun | None,
) -> tuple[VerifiedBlock, BlockBookings]:
    """Everything one block changes for `wallet`: its header, outputs, spends and the first step
    of its bookings in one transaction with the cursor, then the other steps (`POSTINGS_PER_STEP`)."""
    with transaction.atomic():
        cursor = _lock_cursor(wallet, height=cursor_before[0], block_hash=cursor_before[1])
        row = _record_block(network=wallet.network, height=height, block=block)
        # Outputs to scripts just past the window: derive further and look at this block again.
        while (
            block.outputs
            and WatchedScript.objects.filter(
                wallet=wallet, script_pubkey__in=[output.script for output in block.outputs], used=False
            ).exists()
        ):
            added = wallet_extend_gap(wallet=wallet, used_script_pubkeys={output.script for output in block.outputs})
            if not added:
                break
            watchlist.add_scripts(
                bytes(script)
                for script in WatchedScript.objects.filter(wallet=wallet).values_list("script_pubkey", flat=True)
            )
            block = block.rematched(watchlist)  # the recorded offsets, not a second scan
        coinbase_txid = block.tx_hashes[0][::-1].hex() if block.tx_hashes else ""
        for output in block.outputs:
            WalletUtxo.objects.get_or_create(
                wallet=wallet,
                txid=output.txid,
                vout=output.vout,
                block=row,
                defaults={
                    "value_sats": output.value_sats,
                    "script_pubkey": output.script,
                    "block_height": height,
                    "coinbase": output.txid == coinbase_txid,
                },
            )
        for spend in block.spends:
            WalletUtxo.objects.filter(
                wallet=wallet, txid=spend.spent.txid, vout=spend.spent.vout, status=UtxoStatus.UNSPENT
            ).update(status=UtxoStatus.SPENT, spent_by_txid=spend.txid, spent_in_block=row, spent_height=height)
        cursor.height, cursor.block_hash = height, block.hash
        cursor.blocks_scanned += 1
        units = block_bookings(wallet=wallet, block=block, block_row=row)
        bookings = _book_step(wallet=wallet, cursor=cursor, units=units, block_row=row, run=run)
        cursor.save()
    if cursor.booking_block_hash:
        bookings.add(_book_remaining(wallet=wallet, units=units, block_row=row, run=run))
    return block, bookings


def _node_hash(source: ChainSource, height: int) -> str | None:
    try:
        return source.block_hash(height)
    except NodeRpcError:
        return None  # the node's chain is shorter now


def _find_fork(*, wallet: Wallet, source: ChainSource, cursor: ScanCursor) -> tuple[int, str, list[str]]:
    """Walk back from the cursor along the recorded headers to the highest block the node still
    has at its height: (fork height, fork hash, hashes above it). Height -1: start again."""
    height, block_hash = cursor.height, cursor.block_hash
    dropped: list[str] = []
    while height >= wallet.birthday_height:
        if _node_hash(source, height) == block_hash:
            return height, block_hash, dropped
        dropped.append(block_hash)
        row = ChainBlock.objects.filter(network=wallet.network, hash=block_hash).first()
        if row is None:
            break
        height, block_hash = height - 1, row.prev_hash
    return -1, "", dropped


def _wallets_touched_by(dropped: list[str]) -> set[int]:
    """Every wallet with an output, a spend or a booked transfer in the dropped blocks: three
    lookups by block (each indexed), so a reorg costs what it touches, never a join of wallets
    with their whole history."""
    touched: set[int] = set(WalletUtxo.objects.filter(block__hash__in=dropped).values_list("wallet_id", flat=True))
    touched.update(WalletUtxo.objects.filter(spent_in_block__hash__in=dropped).values_list("wallet_id", flat=True))
    for ends in Transfer.objects.filter(block_hash__in=dropped).values_list(
        "source_wallet_id", "destination_wallet_id"
    ):
        touched.update(wallet_id for wallet_id in ends if wallet_id is not None)
    return touched


def _rewind(*, wallet: Wallet, source: ChainSource, cursor: ScanCursor) -> int:
    """Undo this wallet's effects of the blocks that left the best chain; returns the fork height."""
    fork_height, fork_hash, dropped = _find_fork(wallet=wallet, source=source, cursor=cursor)
    logger.warning(
        "wallet %s: reorg, %s block(s) above height %s left the best chain", wallet.name, len(dropped), fork_height
    )
    with transaction.atomic():
        locked = _lock_cursor(wallet, height=cursor.height, block_hash=cursor.block_hash)
        now = timezone.now()
        ChainBlock.objects.filter(network=wallet.network, hash__in=dropped, status=BlockStatus.ACTIVE).update(
            status=BlockStatus.REORGED, reorged_at=now
        )
        WalletUtxo.objects.filter(wallet=wallet, block__hash__in=dropped).update(status=UtxoStatus.REORGED)
        WalletUtxo.objects.filter(wallet=wallet, spent_in_block__hash__in=dropped, status=UtxoStatus.SPENT).update(
            status=UtxoStatus.UNSPENT, spent_by_txid="", spent_in_block=None, spent_height=None
        )
        # What was found in the dropped blocks is no longer on the chain.
        Discrepancy.objects.filter(wallet=wallet, status=DiscrepancyStatus.OPEN, block_height__gt=fork_height).exclude(
            txid=""
        ).update(
            status=DiscrepancyStatus.RESOLVED,
            resolution_reason=f"its block left the best chain (reorg to height {fork_height})",
            resolved_at=now,
        )
        booked = (
            # From what the dropped blocks booked (indexed by block hash), not the wallet's history.
            Transfer.objects.filter(block_hash__in=dropped)
            .filter(Q(source_wallet=wallet) | Q(destination_wallet=wallet))
            .filter(status__in=(TransferStatus.CONFIRMED, TransferStatus.FINAL))
            # Newest first, the reverse of how they were posted: a wallet's balance never dips below zero.
            .order_by("-block_height", "-pk")
        )
        for transfer in booked:
            # Reverses the posting and re-runs the continuous policy checks at this point.
            try:
                with transaction.atomic():
                    transfer_mark_reorged(
                        transfer=transfer,
                        reason=f"block {transfer.block_hash} at height {transfer.block_height} was reorged",
                    )
            except ApplicationError as error:
                # Reported rather than left to block every later scan of this wallet.
                discrepancy_open(
                    wallet=wallet,
                    kind=DiscrepancyKind.AMOUNT_MISMATCH,
                    txid=transfer.txid,
                    vout=transfer.vout,
                    run=None,
                    transfer=transfer,
                    expected_sats=transfer.amount_sats,
                    actual_sats=0,
                    detail=f"transfer #{transfer.pk} left the best chain but its posting could not be reversed: "
                    f"{error.message}",
                )
        # Other wallets with outputs or bookings in the dropped blocks: have them follow now.
        for other_id in sorted(_wallets_touched_by(dropped) - {wallet.pk}):
            outbox_enqueue(task_name="reserve.reconcile_wallet_task", args=[other_id])
        locked.height, locked.block_hash = fork_height, fork_hash
        # A block whose bookings a crash left half done is gone: what it booked was reversed above.
        locked.booking_block_hash, locked.booked_units = "", 0
        locked.reorgs += 1
        locked.updated_at = now
        locked.save()
    return fork_height


def _apply_headers(*, wallet: Wallet, blocks: list[tuple[int, VerifiedBlock]], cursor_before: tuple[int, str]) -> None:
    """Blocks that touch nothing of the wallet: their verified headers and the cursor, in one transaction."""
    with transaction.atomic():
        cursor = _lock_cursor(wallet, height=cursor_before[0], block_hash=cursor_before[1])
        _record_blocks(network=wallet.network, blocks=blocks)
        cursor.height, cursor.block_hash = blocks[-1][0], blocks[-1][1].hash
        cursor.blocks_scanned += len(blocks)
        cursor.updated_at = timezone.now()
        cursor.save()


def wallet_scan(
    *,
    wallet: Wallet,
    source: ChainSource,
    run: ReconciliationRun | None = None,
    progress: ProgressCallback | None = None,
) -> ScanResult:
    """Bring `wallet` up to the node's best block; returns the tip scanned to and what was booked.

    Blocks that pay or spend nothing of the wallet commit in batches (headers and cursor);
    any other block commits alone with its effects. Raises `BlockVerificationError` (after
    recording the refused block) when the node sends a block that fails verification,
    `NodeUnavailable` when it stops answering; everything committed before stays, and the
    next scan resumes from the cursor.
    """
    network = wallet.network
    if source.network.name != network:
        raise WrongNetwork(f"wallet {wallet.name} is on {network}; the node is configured for {source.network.name}")
    cursor = scan_cursor(wallet=wallet)
    tip_height = source.block_count()
    result = ScanResult(tip_height=tip_height, tip_hash="")
    if cursor.booking_block_hash and _node_hash(source, cursor.height) == cursor.block_hash:
        result.bookings.add(_resume_booking(wallet=wallet, source=source, cursor=cursor, run=run))
        cursor.refresh_from_db()
    # (Its block no longer on the best chain: the reorg below reverses what it booked.)
    watchlist = _watchlist(wallet)
    started = time.monotonic()
    committed = position = (cursor.height, cursor.block_hash)
    parent_header: BlockHeader | None = None
    pending: list[tuple[int, VerifiedBlock]] = []
    unlinked = 0

    def flush() -> None:
        nonlocal committed
        if pending:
            _apply_headers(wallet=wallet, blocks=pending, cursor_before=committed)
            committed = (pending[-1][0], pending[-1][1].hash)
            pending.clear()

    def reorged() -> bool:
        """Is the block we stand on gone from the node's best chain? If so, rewind to the fork."""
        nonlocal committed, position, parent_header, watchlist
        flush()
        if position[0] < 0 or _node_hash(source, position[0]) == position[1]:
            return False
        cursor.refresh_from_db()
        _rewind(wallet=wallet, source=source, cursor=cursor)
        cursor.refresh_from_db()
        committed = position = (cursor.height, cursor.block_hash)
        parent_header = None
        watchlist = _watchlist(wallet)
        result.reorgs += 1
        return True

    try:
        while True:
            height = position[0] + 1 if position[0] >= 0 else wallet.birthday_height
            if height > tip_height:
                tip_height = source.block_count()
            if height > tip_height:
                if reorged():
                    continue
                break
            block_hash = _node_hash(source, height)
            if block_hash is None:
                tip_height = source.block_count()  # the node's chain got shorter meanwhile
                continue
            # The first block of a wallet links to nothing of its own; later ones to the previous block.
            parent_hash = position[1] if position[0] >= 0 else None
            if parent_header is None:
                parent_header = _recorded_header(network=network, block_hash=parent_hash)
            try:
                block = verified_block(
                    source,
                    height=height,
                    block_hash=block_hash,
                    watchlist=watchlist,
                    parent_hash=parent_hash,
                    parent=parent_header,
                )
            except BlockUnlinked as unlinked_error:
                if reorged():
                    continue
                # The node answered from two branches in turn; one that keeps doing so is refused.
                unlinked += 1
                if unlinked > MAX_UNLINKED_ANSWERS:
                    raise BlockVerificationError(
                        f"parent is {unlinked_error.block.header.prev_hash}, "
                        f"but the node keeps {parent_hash} at height {height - 1}",
                        block_hash=unlinked_error.block.hash,
                    ) from None
                continue
            except BlockRefused as error:
                flush()
                _record_rejection(network=network, height=height, block=error.block, error=error)
                raise
            unlinked = 0
            if block.outputs or block.spends:
                flush()
                block, bookings = _apply_block(
                    wallet=wallet,
                    block=block,
                    height=height,
                    watchlist=watchlist,
                    cursor_before=committed,
                    run=run,
                )
                committed = (height, block.hash)
                watchlist.apply(block)
                result.bookings.add(bookings)
            else:
                pending.append((height, block.without_bytes()))
                if len(pending) >= BATCH_BLOCKS:
                    flush()
            position, parent_header = (height, block.hash), block.header
            result.blocks_scanned += 1
            if progress is not None:
                progress(ScanProgress(wallet, height, tip_height, result.blocks_scanned, started))
    except ChainError:
        flush()  # what was verified before the node failed us is kept
        raise
    result.tip_height, result.tip_hash = committed
    return result
