"""`manage.py reconcile [--wallet NAME]`: the scheduled reconciliation, in the foreground with a progress bar."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from reserve.chain.errors import ChainError
from reserve.custody.models import Wallet
from reserve.reconciliation.follower import ScanProgress
from reserve.reconciliation.services import wallet_reconcile
from reserve.tasks import chain_source, wallet_lock


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressBar:
    """One line per wallet, redrawn in place on a terminal and every 100 blocks otherwise."""

    def __init__(self, stream: OutputWrapper, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()

    def __call__(self, progress: ScanProgress) -> None:
        if not self.interactive and progress.blocks_scanned % 100 and progress.height < progress.tip_height:
            return
        total = max(progress.tip_height - progress.height + progress.blocks_scanned, 1)
        done = progress.blocks_scanned / total
        filled = int(self.width * done)
        line = (
            f"{progress.wallet.name} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"height {progress.height}/{progress.tip_height}  {progress.blocks_scanned} blocks  "
            f"{progress.blocks_per_second:.1f} blocks/s  ETA {_duration(progress.eta_seconds)}"
        )
        if self.interactive:
            self.stream.write("\r" + line, ending="")
            self.stream.flush()
        else:
            self.stream.write(line)

    def end(self) -> None:
        if self.interactive:
            self.stream.write("")  # ends the redrawn line


class Command(BaseCommand):
    help = "Scan the chain and reconcile every wallet (or one) now, with the scheduled task's code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wallet", help="only this wallet (by name)")

    def handle(self, *args: Any, **options: Any) -> None:
        wallets = Wallet.objects.filter(network=settings.BITCOIN_NETWORK).order_by("name")
        if options["wallet"]:
            wallets = wallets.filter(name=options["wallet"])
            if not wallets.exists():
                raise CommandError(f"no wallet named {options['wallet']!r} on {settings.BITCOIN_NETWORK}")
        failures = 0
        with chain_source() as source:
            for wallet in wallets:
                bar = ProgressBar(self.stdout)
                with wallet_lock(wallet.pk) as acquired:
                    if not acquired:
                        self.stdout.write(f"{wallet.name}: a run is in progress elsewhere; skipped")
                        continue
                    try:
                        run = wallet_reconcile(wallet=wallet, source=source, trigger="command", progress=bar)
                    except ChainError as error:
                        bar.end()
                        failures += 1
                        self.stderr.write(f"{wallet.name}: failed: {error.message}")
                        continue
                bar.end()
                self.stdout.write(
                    f"{wallet.name}: height {run.height} ({run.block_hash[:16]}…), {run.blocks_scanned} blocks, "
                    f"chain {run.chain_balance_sats} sats, books {run.ledger_balance_sats} sats, "
                    f"{run.matched_count} matched, {run.observed_count} observed, "
                    f"{run.discrepancy_count} open discrepancies"
                )
        if failures:
            raise CommandError(f"{failures} wallet(s) failed; see their reconciliation runs")
