"""Offline verification of a holdings statement: scripts/verify_statement.py on 10,000 outputs.

Usage: .venv/bin/python bench/proofs.py [--utxos N] [--addresses N] [--per-block N] [--rounds N] [--smoke]

Builds, in memory, a regtest-shaped chain the verifier cannot tell from a node's: one transaction
per output (paying one of --addresses P2WPKH addresses, each with a BIP-322 signature over the
challenge), --per-block transactions per block, headers mined at the regtest target, a
`gettxoutproof`-format merkle branch per transaction, and the statement signed with a fresh
Ed25519 key. Then times the verifier's whole `verify` (service signature, every message signature,
headers' proof of work and linkage, each transaction's txid, output and merkle branch, the totals)
and, as a same-process baseline, python-bitcoinlib's `CTransaction.deserialize` + `GetTxid` over
the same raw transactions (the least any verifier must do per output).

--smoke: 200 outputs, one round (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

from bitcoin.core import CTransaction  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from embit import ec  # noqa: E402
from embit.networks import NETWORKS  # noqa: E402
from embit.script import Script, Witness, p2wpkh  # noqa: E402
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput  # noqa: E402
from ledger_common import smoke_defaults  # noqa: E402

REGTEST_BITS = 0x207FFFFF


def load_verifier() -> Any:
    spec = importlib.util.spec_from_file_location("verify_statement", REPO_ROOT / "scripts" / "verify_statement.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def varint(value: int) -> bytes:
    return bytes([value]) if value < 0xFD else b"\xfd" + value.to_bytes(2, "little")


def merkle_levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        level = levels[-1]
        padded = [*level, level[-1]] if len(level) % 2 else level
        levels.append([sha256d(padded[i] + padded[i + 1]) for i in range(0, len(padded), 2)])
    return levels


def partial_tree(levels: list[list[bytes]], match: int) -> tuple[list[bytes], bytes]:
    """Bitcoin Core's CPartialMerkleTree for one matched leaf: (hashes, flag bytes)."""
    total, bits, hashes = len(levels[0]), [], []

    def traverse(height: int, position: int) -> None:
        parent = (position << height) <= match < ((position + 1) << height)
        bits.append(parent)
        if height == 0 or not parent:
            hashes.append(levels[height][position])
            return
        traverse(height - 1, position * 2)
        if position * 2 + 1 < len(levels[height - 1]):
            traverse(height - 1, position * 2 + 1)

    traverse(len(levels) - 1, 0)
    flags = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        flags[index >> 3] |= bit << (index & 7)
    assert total == len(levels[0])
    return hashes, bytes(flags)


def mined_header(prev: bytes, root: bytes, height: int) -> bytes:
    for nonce in range(1 << 20):
        header = (
            (0x20000000).to_bytes(4, "little")
            + prev
            + root
            + (1_700_000_000 + height).to_bytes(4, "little")
            + REGTEST_BITS.to_bytes(4, "little")
            + nonce.to_bytes(4, "little")
        )
        if int.from_bytes(sha256d(header), "little") <= 0x7FFFFF << 232:
            return header
    raise RuntimeError("no nonce")


def bip322_simple(verifier: Any, key: ec.PrivateKey, script: bytes, message: str) -> str:
    tx = verifier.bip322_to_sign(script, message)
    digest = tx.sighash_segwit(0, Script(b"\x76\xa9\x14" + script[2:] + b"\x88\xac"), 0, SIGHASH.ALL)
    stack = [key.sign(digest).serialize() + bytes([SIGHASH.ALL]), key.get_public_key().sec()]
    return base64.b64encode(Witness(stack).serialize()).decode()


def build(verifier: Any, *, utxos: int, addresses: int, per_block: int) -> tuple[dict[str, Any], bytes, list[bytes]]:
    keys = [ec.PrivateKey(hashlib.sha256(f"bench proofs {n}".encode()).digest()) for n in range(addresses)]
    scripts = [p2wpkh(key.get_public_key()).data for key in keys]
    names = [p2wpkh(key.get_public_key()).address(NETWORKS["regtest"]) for key in keys]
    first_height = 1000
    rows: list[list[dict[str, Any]]] = [[] for _ in range(addresses)]
    headers: list[bytes] = []
    transactions: dict[str, dict[str, str]] = {}
    raws: list[bytes] = []
    prev = b"\x00" * 32
    for block_index in range((utxos + per_block - 1) // per_block):
        height = first_height + block_index
        block_txs = []
        for n in range(block_index * per_block, min(utxos, (block_index + 1) * per_block)):
            spent = TransactionInput(hashlib.sha256(f"funding {n}".encode()).digest(), 0, Script(b"\x51"))
            tx = Transaction(
                version=2, vin=[spent], vout=[TransactionOutput(10_000 + n, Script(scripts[n % addresses]))]
            )
            block_txs.append((n, tx))
        levels = merkle_levels([tx.hash() for _, tx in block_txs])
        header = mined_header(prev, levels[-1][0], height)
        headers.append(header)
        prev = sha256d(header)
        for position, (n, tx) in enumerate(block_txs):
            hashes, flags = partial_tree(levels, position)
            proof = header + len(block_txs).to_bytes(4, "little") + varint(len(hashes)) + b"".join(hashes)
            proof += varint(len(flags)) + flags
            txid = tx.txid().hex()
            raw = tx.serialize()
            raws.append(raw)
            transactions[txid] = {"raw": raw.hex(), "merkle_proof": proof.hex()}
            rows[n % addresses].append({"txid": txid, "vout": 0, "value_sats": 10_000 + n, "block_height": height})
    top = first_height + len(headers) - 1
    block = {"height": top, "hash": sha256d(headers[-1])[::-1].hex()}
    message = "\n".join(["Reserve Ledger proof of reserves", f"block: {top} {block['hash']}", "addresses:", *names])
    address_rows = [
        {
            "address": names[index],
            "wallet": f"wallet-{index % 4}",
            "method": "bip322-simple",
            "signature": bip322_simple(verifier, keys[index], scripts[index], message),
            "utxos": rows[index],
            "balance_sats": sum(utxo["value_sats"] for utxo in rows[index]),
        }
        for index in range(addresses)
    ]
    proven: dict[str, int] = {}
    for row in address_rows:
        proven[row["wallet"]] = proven.get(row["wallet"], 0) + row["balance_sats"]
    statement = {
        "format": verifier.FORMAT,
        "network": "regtest",
        "block": block,
        "challenge": {"id": "bench", "message": message},
        "addresses": address_rows,
        "wallets": [
            {"wallet": name, "in_perimeter": True, "booked_sats": sats, "proven_sats": sats, "covered": True}
            for name, sats in sorted(proven.items())
        ],
        "totals": {"proven_sats": sum(proven.values()), "perimeter_booked_sats": sum(proven.values())},
        "covers_perimeter": True,
        "books_head": {"kind": "ledger-hash-chain", "sequence": 0, "hash": ""},
    }
    service = Ed25519PrivateKey.generate()
    document = {
        "statement": statement,
        "signature": service.sign(verifier.canonical(statement)).hex(),
        "evidence": {"first_height": first_height, "headers": [h.hex() for h in headers], "transactions": transactions},
    }
    return document, service.public_key().public_bytes_raw(), raws


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--utxos", type=int, default=10_000)
    parser.add_argument("--addresses", type=int, default=20)
    parser.add_argument("--per-block", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    smoke_defaults(parser, {"utxos": 200, "rounds": 1})
    options = parser.parse_args()
    verifier = load_verifier()
    started = time.perf_counter()
    document, key, raws = build(verifier, utxos=options.utxos, addresses=options.addresses, per_block=options.per_block)
    print(f"machine: {machine()}")
    print(
        f"statement: {options.utxos} outputs, {options.addresses} addresses, "
        f"{len(document['evidence']['headers'])} headers (built in {time.perf_counter() - started:.1f} s)"
    )
    verify_times, baseline_times = [], []
    for _ in range(options.rounds):
        started = time.perf_counter()
        summary = verifier.verify(document, key)
        verify_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        for raw in raws:
            CTransaction.deserialize(raw).GetTxid()
        baseline_times.append(time.perf_counter() - started)
    assert summary.startswith("OK"), summary
    verify_s, baseline_s = statistics.median(verify_times), statistics.median(baseline_times)
    print(f"verify_statement: {options.utxos} outputs in {verify_s:.2f} s ({options.utxos / verify_s:.0f} outputs/s)")
    print(f"python-bitcoinlib deserialize+txid: {options.utxos} transactions in {baseline_s:.3f} s")
    print(f"verify / baseline: {verify_s / baseline_s:.1f}x")


if __name__ == "__main__":
    main()
