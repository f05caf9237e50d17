"""`manage.py regtest mine|pay|reorg`: a dev tool for the regtest chain `make run` starts, so a
newcomer can watch the books follow the chain (the next reconciliation books what changed).

- `mine <n> [--to ADDRESS]`: n blocks by the node (default payee: BIP173's P2WPKH test vector, nobody's wallet);
- `pay <wallet> <btc>`: the demo miner pays the wallet's next unused receive address, in a new block;
- `reorg [--depth N]`: a longer competing branch replaces the top N blocks, dropping their transactions.

Refuses any network but regtest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from reserve.chain.errors import NodeUnavailable
from reserve.chain.rpc import RpcChainSource
from reserve.common.amounts import btc_to_sats
from reserve.custody.models import Wallet, WatchedScript
from reserve.management.demo_chain import NOBODY_ADDRESS, NOBODY_SCRIPT, DemoChain, DemoKeys, pay

MAX_BLOCKS = 1000
MAX_REORG_DEPTH = 100
FEE_SATS = 2_000
COINBASE_MATURITY = 100
# The demo miner's coinbases below the first halving (50 BTC each) pay for `regtest pay`.
MINER_COINBASE_HEIGHTS = range(1, 150)


class Command(BaseCommand):
    help = "Drive the regtest chain of `make run`: `regtest mine <n>`, `regtest pay <wallet> <btc>`, `regtest reorg`."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        mine = actions.add_parser("mine", help="mine n blocks")
        mine.add_argument("count", type=int)
        mine.add_argument("--to", default=NOBODY_ADDRESS, help="the address the coinbases pay")
        payment = actions.add_parser("pay", help="pay a wallet's next unused receive address from the demo miner")
        payment.add_argument("wallet", help="the wallet's name")
        payment.add_argument("amount", help="in BTC, e.g. 0.25")
        reorg = actions.add_parser("reorg", help="replace the top blocks by a longer competing branch")
        reorg.add_argument("--depth", type=int, default=1, help="how many blocks the branch replaces")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.BITCOIN_NETWORK != "regtest" or not settings.BITCOIN_RPC_URL:
            raise CommandError("regtest works only against a regtest node (BITCOIN_NETWORK=regtest, BITCOIN_RPC_URL)")
        try:
            with RpcChainSource.from_settings() as source:
                getattr(self, f"_{options['action']}")(source, options)
        except NodeUnavailable as error:
            raise CommandError(f"the regtest node did not answer ({error}); is `make run` running?") from error
        self.stdout.write("the next reconciliation books it (or: Reconcile now in the admin)")

    def _mine(self, source: RpcChainSource, options: dict[str, Any]) -> None:
        count = options["count"]
        if not 1 <= count <= MAX_BLOCKS:
            raise CommandError(f"count must be between 1 and {MAX_BLOCKS}")
        hashes = source.call("generatetoaddress", count, options["to"], retry=False)
        self.stdout.write(f"mined {len(hashes)} block(s) to {options['to']}; tip is now height {source.block_count()}")

    def _pay(self, source: RpcChainSource, options: dict[str, Any]) -> None:
        wallet = Wallet.objects.filter(name=options["wallet"], network="regtest").first()
        if wallet is None:
            raise CommandError(f"no regtest wallet named {options['wallet']!r}")
        try:
            amount_sats = btc_to_sats(value=options["amount"], field="amount")
        except ApplicationError as error:
            raise CommandError(f"amount: {error.message}") from error
        receive = (
            WatchedScript.objects.filter(wallet=wallet, used=False).exclude(chain=1).order_by("index", "pk").first()
        )
        if receive is None:
            raise CommandError(f"{wallet.name} has no unused receive address")
        chain, keys = DemoChain(source), DemoKeys()
        mature = range(
            MINER_COINBASE_HEIGHTS.start, min(MINER_COINBASE_HEIGHTS.stop, chain.tip_height - COINBASE_MATURITY)
        )
        try:
            spent = chain.unspent_coinbase(keys.miner_script, mature)
            payment = pay(
                key=keys.miner,
                spent=spent,
                outputs=[(bytes(receive.script_pubkey), amount_sats)],
                change_script=keys.miner_script,
                fee_sats=FEE_SATS,
            )
        except (RuntimeError, ValueError) as error:
            raise CommandError(f"the demo miner cannot pay it: {error} (is this the seed_demo chain?)") from error
        chain.mine_now(payout_script=NOBODY_SCRIPT, transactions=[payment])
        self.stdout.write(
            f"paid {options['amount']} BTC to {wallet.name} ({receive.address}) at height {chain.tip_height}, "
            "with no transfer proposed: the books will see an unrecorded inflow"
        )

    def _reorg(self, source: RpcChainSource, options: dict[str, Any]) -> None:
        depth = options["depth"]
        chain = DemoChain(source)
        if not 1 <= depth <= min(MAX_REORG_DEPTH, chain.tip_height):
            raise CommandError(f"depth must be between 1 and {min(MAX_REORG_DEPTH, chain.tip_height)}")
        old_tip = chain.tip_height
        chain.rewind(old_tip - depth)
        for _ in range(depth + 1):
            chain.mine_now(payout_script=NOBODY_SCRIPT)
        if source.block_count() != old_tip + 1 or source.block_hash(old_tip + 1) != chain.tip_hash:
            raise CommandError("the node did not reorganise onto the competing branch")
        self.stdout.write(
            f"reorganised: blocks {old_tip - depth + 1}..{old_tip} replaced by a branch of {depth + 1} "
            f"(tip now height {old_tip + 1}); their transactions are gone from the best chain"
        )
