"""Block scanning throughput on real mainnet blocks: reserve.chain vs python-bitcoinlib vs SHA-256d.

Usage: .venv/bin/python bench/scan_blocks.py [--rounds N] [--scripts N] [--blocks STEM ...] [--json PATH] [--smoke]

Scans every block in ../shared/data/chain/blocks/ against 10^5 watched scripts (some of
them really paid in those blocks) and 10^4 tracked outpoints (some really spent there),
checks that reserve.chain's scanner and a scanner built on python-bitcoinlib's
`CBlock.deserialize` find exactly the same outputs and spends, and prints MB/s of:
- reserve.chain.blocks.scan_block, alone and followed by verify_block (PoW + merkle root);
- reserve.chain.blocks.rematch: blocks scanned with half the scripts matched again against all
  of them from the recorded offsets (gap growth, instead of a second scan);
- python-bitcoinlib CBlock.deserialize alone (the DESIGN.md baseline), and followed by a scan;
- SHA-256d of the same bytes (hashlib), the floor no scanner can beat.

--smoke: five of the blocks (legacy and segwit, 1.4 MB, the 2019 block among them), one
round, 10^3 watched scripts (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from bitcoin.core import CBlock, b2lx  # noqa: E402
from ledger_common import smoke_defaults  # noqa: E402

from reserve.chain.blocks import ScannedBlock, Watchlist, rematch, scan_block  # noqa: E402
from reserve.chain.verify import verify_block  # noqa: E402

BLOCKS_DIR = REPO_ROOT.parent / "shared" / "data" / "chain" / "blocks"
BLOCK_2019 = "block_574200"
SMOKE_BLOCKS = ["block_0", "block_169482", "block_482683", BLOCK_2019, "block_951658"]
# scriptPubKey shapes of synthetic watched scripts: (prefix, hash length, suffix).
SCRIPT_SHAPES = [
    (bytes.fromhex("0014"), 20, b""),  # P2WPKH
    (bytes.fromhex("76a914"), 20, bytes.fromhex("88ac")),  # P2PKH
    (bytes.fromhex("a914"), 20, bytes.fromhex("87")),  # P2SH
    (bytes.fromhex("0020"), 32, b""),  # P2WSH
    (bytes.fromhex("5120"), 32, b""),  # P2TR
]

Found = tuple[list[tuple[str, int, int, bytes]], list[tuple[str, int, str, int]]]


def load_blocks(stems: list[str] | None) -> list[tuple[str, bytes]]:
    paths = sorted(BLOCKS_DIR.glob("*.raw")) if not stems else [BLOCKS_DIR / f"{stem}.raw" for stem in stems]
    return [(path.stem, path.read_bytes()) for path in paths]


def build_watchlist(
    decoded: list[CBlock], script_count: int, outpoint_count: int, rng: random.Random
) -> tuple[set[bytes], set[tuple[str, int]]]:
    """Watched scripts and tracked outpoints: ~1% real ones taken from the blocks, the rest random."""
    real_scripts = sorted({bytes(out.scriptPubKey) for block in decoded for tx in block.vtx for out in tx.vout})
    real_outpoints = sorted(
        {(b2lx(txin.prevout.hash), txin.prevout.n) for block in decoded for tx in block.vtx[1:] for txin in tx.vin}
    )
    scripts = set(rng.sample(real_scripts, min(len(real_scripts), script_count // 100)))
    while len(scripts) < script_count:
        prefix, length, suffix = rng.choice(SCRIPT_SHAPES)
        scripts.add(prefix + rng.randbytes(length) + suffix)
    outpoints = set(rng.sample(real_outpoints, min(len(real_outpoints), outpoint_count // 20)))
    while len(outpoints) < outpoint_count:
        outpoints.add((rng.randbytes(32).hex(), rng.randrange(4)))
    return scripts, outpoints


def scan_with_reserve_chain(raw: bytes, watchlist: Watchlist) -> Found:
    block = scan_block(raw, watchlist)
    return (
        [(o.txid, o.vout, o.value_sats, o.script) for o in block.outputs],
        [(s.txid, s.vin, s.spent.txid, s.spent.vout) for s in block.spends],
    )


def scan_and_verify(raw: bytes, watchlist: Watchlist) -> ScannedBlock:
    block = scan_block(raw, watchlist)
    verify_block(block, network="mainnet", parent_hash=None)
    return block


def scan_with_bitcoinlib(raw: bytes, scripts: set[bytes], outpoints: set[tuple[bytes, int]]) -> Found:
    """The same scan on top of a full deserialization (prevout hashes kept in internal byte order)."""
    block = CBlock.deserialize(raw)
    outputs, spends = [], []
    created: set[tuple[bytes, int]] = set()
    for tx in block.vtx:
        txid = tx.GetTxid()
        for vin, txin in enumerate(tx.vin):
            prevout = (txin.prevout.hash, txin.prevout.n)
            if prevout in outpoints or prevout in created:
                spends.append((b2lx(txid), vin, b2lx(txin.prevout.hash), txin.prevout.n))
        for vout, out in enumerate(tx.vout):
            script = bytes(out.scriptPubKey)
            if script in scripts:
                outputs.append((b2lx(txid), vout, out.nValue, script))
                created.add((txid, vout))
    return outputs, spends


def best_seconds(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def machine_info() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu_model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "python-bitcoinlib": metadata.version("python-bitcoinlib"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per scanner (best is kept)")
    parser.add_argument("--scripts", type=int, default=100_000, help="watched scripts")
    parser.add_argument("--outpoints", type=int, default=10_000, help="tracked outpoints")
    parser.add_argument("--blocks", nargs="+", help=f"only these blocks (file stems in {BLOCKS_DIR}; default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    smoke_defaults(parser, {"rounds": 1, "scripts": 1_000, "outpoints": 100, "blocks": SMOKE_BLOCKS})
    args = parser.parse_args()

    blocks = load_blocks(args.blocks)
    total_bytes = sum(len(raw) for _, raw in blocks)
    decoded = [CBlock.deserialize(raw) for _, raw in blocks]
    scripts, outpoints = build_watchlist(decoded, args.scripts, args.outpoints, random.Random(20260529))
    watchlist = Watchlist(scripts=scripts, outpoints=outpoints)
    internal_outpoints = {(bytes.fromhex(txid)[::-1], vout) for txid, vout in outpoints}

    # Both scanners must find the same outputs and spends before any figure means anything.
    found_outputs = found_spends = 0
    for (name, raw), reference in zip(blocks, decoded, strict=True):
        ours_found = scan_with_reserve_chain(raw, watchlist)
        theirs_found = scan_with_bitcoinlib(raw, scripts, internal_outpoints)
        if ours_found != theirs_found:
            raise SystemExit(f"{name}: scanners disagree: {ours_found!r} != {theirs_found!r}")
        verify_block(scan_block(raw, watchlist), network="mainnet", parent_hash=b2lx(reference.hashPrevBlock))
        found_outputs += len(ours_found[0])
        found_spends += len(ours_found[1])

    raws = [raw for _, raw in blocks]
    sha256 = hashlib.sha256
    # Gap growth: blocks scanned with half the scripts, re-matched against all of them (what the
    # follower does instead of a second scan); it must find what a full scan finds.
    half = Watchlist(scripts=sorted(scripts)[::2], outpoints=outpoints)
    half_scanned = [scan_block(raw, half) for raw in raws]
    for raw, block in zip(raws, half_scanned, strict=True):
        if rematch(block, watchlist).outputs != scan_block(raw, watchlist).outputs:
            raise SystemExit(f"block {block.hash}: rematch and scan disagree")
    timings = {
        "reserve.chain scan_block": best_seconds(lambda: [scan_block(raw, watchlist) for raw in raws], args.rounds),
        "reserve.chain scan_block + verify_block": best_seconds(
            lambda: [scan_and_verify(raw, watchlist) for raw in raws],
            args.rounds,
        ),
        "python-bitcoinlib CBlock.deserialize": best_seconds(
            lambda: [CBlock.deserialize(raw) for raw in raws], max(1, args.rounds // 2)
        ),
        "python-bitcoinlib deserialize + scan": best_seconds(
            lambda: [scan_with_bitcoinlib(raw, scripts, internal_outpoints) for raw in raws], max(1, args.rounds // 2)
        ),
        "reserve.chain rematch (grown watchlist)": best_seconds(
            lambda: [rematch(block, watchlist) for block in half_scanned], args.rounds
        ),
        "sha256d (hashlib)": best_seconds(lambda: [sha256(sha256(raw).digest()).digest() for raw in raws], args.rounds),
    }
    mb_per_second = {name: total_bytes / seconds / 1e6 for name, seconds in timings.items()}
    ours = mb_per_second["reserve.chain scan_block"]
    ratios = {
        "scan_block / CBlock.deserialize": ours / mb_per_second["python-bitcoinlib CBlock.deserialize"],
        "scan_block / bitcoinlib deserialize + scan": ours / mb_per_second["python-bitcoinlib deserialize + scan"],
        "scan_block + verify / CBlock.deserialize": mb_per_second["reserve.chain scan_block + verify_block"]
        / mb_per_second["python-bitcoinlib CBlock.deserialize"],
        "scan_block / sha256d": ours / mb_per_second["sha256d (hashlib)"],
    }

    # The 2019 block DESIGN.md quotes (~10 MB/s for CBlock.deserialize), alone.
    raw_2019 = dict(blocks).get(BLOCK_2019) or (BLOCKS_DIR / f"{BLOCK_2019}.raw").read_bytes()
    ours_2019 = len(raw_2019) / best_seconds(lambda: scan_block(raw_2019, watchlist), args.rounds * 4) / 1e6
    theirs_2019 = len(raw_2019) / best_seconds(lambda: CBlock.deserialize(raw_2019), args.rounds) / 1e6

    machine = machine_info()
    print("Block scanning benchmark (bench/scan_blocks.py)")
    for key, value in machine.items():
        print(f"  {key:<18} {value}")
    print(
        f"  data               {len(blocks)} mainnet blocks, {total_bytes / 1e6:.2f} MB; "
        f"{len(scripts):,} watched scripts, {len(outpoints):,} tracked outpoints"
    )
    print(f"  matches            {found_outputs} outputs, {found_spends} spends (identical in both scanners)")
    print(f"  rounds             best of {args.rounds} (bitcoinlib: best of {max(1, args.rounds // 2)})")
    print()
    for name, rate in mb_per_second.items():
        print(f"  {name:<42} {rate:9.1f} MB/s")
    print()
    for name, ratio in ratios.items():
        print(f"  {name:<42} {ratio:9.2f}x")
    print()
    print(f"  block 574200 (2019, 1.25 MB): scan_block {ours_2019:.1f} MB/s, CBlock.deserialize {theirs_2019:.1f} MB/s")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine,
                    "bytes": total_bytes,
                    "blocks": len(blocks),
                    "watched_scripts": len(scripts),
                    "tracked_outpoints": len(outpoints),
                    "matched_outputs": found_outputs,
                    "matched_spends": found_spends,
                    "mb_per_second": mb_per_second,
                    "ratios": ratios,
                    "block_574200_mb_per_second": {"scan_block": ours_2019, "CBlock.deserialize": theirs_2019},
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
