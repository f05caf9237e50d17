#!/usr/bin/env python3
"""An auditor's verifier of Reserve Ledger's transparency log, trusting nothing of the service.

    python3 verify_log.py --url https://ledger.example --state heads.json [--key HEX] [--token TOKEN]
                          [--include TRANSACTION_ID ...] [--journal FILE | --fetch-journal]

Python's standard library plus `cryptography` (Ed25519); it imports nothing of the service.
It fetches the latest signed tree head, checks its Ed25519 signature against the pinned key
(--key, else the one kept in the state file; a first run without either pins the served one
and says so), checks that the head is consistent with every head kept in the state file
(RFC 9162 consistency proof from the newest kept one; the served head of each kept size must
be the kept one: two heads of one size are a fork; a smaller log is a truncation), optionally
checks the inclusion of given journal transactions, and recomputes every leaf from a journal
export (the JSON of /api/v1/ledger/transactions/, a list or pages with "results") and the
root of the head from them. Then it keeps the new head. Any failure: exit 1 with the reason.

The recipes (ledger/chain.py, ledger/log/heads.py, RFC 9162) are repeated here on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEAD_PREFIX = "reserve-ledger tree head v1"


class Failure(Exception):
    """The log does not verify; the message says why."""


# RFC 9162 hashing and verification (2.1.1, 2.1.3.2, 2.1.4.2).
def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(leaves: list[bytes]) -> bytes:
    frontier: list[tuple[int, bytes]] = []
    for leaf in leaves:
        size, node = 1, leaf
        while frontier and frontier[-1][0] == size:
            left_size, left = frontier.pop()
            size, node = size + left_size, node_hash(left, node)
        frontier.append((size, node))
    if not frontier:
        return hashlib.sha256(b"").digest()
    root = frontier[-1][1]
    for _, node in reversed(frontier[:-1]):
        root = node_hash(node, root)
    return root


def _shift(fn: int, sn: int, more: Any) -> tuple[int, int]:
    while more(fn):
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def inclusion_valid(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift(fn, sn, lambda f: not f & 1 and f != 0)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistency_valid(first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]) -> bool:
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not path
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    proof = [first_root, *path] if first & (first - 1) == 0 else list(path)
    fn, sn = _shift(first - 1, second - 1, lambda f: bool(f & 1))
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift(fn, sn, lambda f: not f & 1 and f != 0)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


# The service's recipes.
def head_valid(head: dict[str, Any], public_key: bytes) -> bool:
    message = f"{HEAD_PREFIX}\n{head['tree_size']}\n{head['root_hash']}\n{head['timestamp_ms']}\n".encode("ascii")
    if hashlib.sha256(public_key).hexdigest() != head.get("key_id"):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(bytes.fromhex(head["signature"]), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _canonical_time(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def transaction_hash(row: dict[str, Any]) -> str:
    """The transaction's hash recomputed from its exported fields (ledger/chain.py)."""
    content = {
        "id": row["id"],
        "idempotency_key": row["idempotency_key"],
        "request_hash": row["request_hash"],
        "kind": row["kind"],
        "memo": row["memo"],
        "block_height": row["block_height"],
        "block_hash": row["block_hash"],
        "txid": row["txid"],
        "metadata": row["metadata"],
        "reverses": row["reverses"],
        "created_by": row["created_by"],
        "entries": [
            {"account": entry["account"], "amount_sats": entry["amount_sats"], "currency": entry["currency"]}
            for entry in sorted(row["entries"], key=lambda e: (e["account"], e["amount_sats"]))
        ],
    }
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    material = "|".join(
        [
            row["prev_hash"],
            str(row["sequence"]),
            _canonical_time(row["occurred_at"]),
            _canonical_time(row["posted_at"]),
            digest,
        ]
    )
    return hashlib.sha256(material.encode("ascii")).hexdigest()


class Service:
    def __init__(self, url: str, token: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise Failure(f"--url must be http:// or https://, not {url!r}")
        self.url, self.token = url.rstrip("/"), token

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers={"Accept": "application/json"})  # noqa: S310
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  (http(s) only, above)
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise Failure(f"GET {path}: HTTP {error.code} {error.read()[:300]!r}") from None
        except urllib.error.URLError as error:
            raise Failure(f"GET {path}: {error.reason}") from None

    def head_at(self, tree_size: int) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.get(f"/api/v1/log/heads/{tree_size}/")
        except Failure as failure:
            if "HTTP 404" in str(failure):
                return None
            raise
        return head

    def journal(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.get(f"/api/v1/ledger/transactions/?page={page}")
            rows.extend(body["results"])
            if not body.get("next"):
                return rows
            page += 1


def _read_journal(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        return list(data["results"])
    rows: list[dict[str, Any]] = []
    for item in data:
        rows.extend(item["results"] if isinstance(item, dict) and "results" in item else [item])
    return rows


def check_journal(rows: list[dict[str, Any]], head: dict[str, Any]) -> None:
    """Every leaf recomputed from the export, in log order (number order), gives the head's root."""
    ordered = sorted(rows, key=lambda row: row["sequence"])
    if len(ordered) < head["tree_size"]:
        raise Failure(
            f"the journal export holds {len(ordered)} transactions, the signed head of size {head['tree_size']} more"
        )
    leaves = []
    for row in ordered[: head["tree_size"]]:
        recomputed = transaction_hash(row)
        if recomputed != row["hash"]:
            raise Failure(f"transaction {row['id']} (#{row['sequence']}): its content does not give its hash")
        leaves.append(leaf_hash(bytes.fromhex(recomputed)))
    if tree_root(leaves).hex() != head["root_hash"]:
        raise Failure(f"the journal export does not reproduce the root of the signed head of size {head['tree_size']}")


def verify(args: argparse.Namespace) -> str:
    return verify_with(Service(args.url, args.token), args)


def verify_with(service: Service, args: argparse.Namespace) -> str:
    """The whole check against `service` (bench/log_auditor.py times it against the REST views in-process)."""
    state_path = Path(args.state)
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {"heads": []}
    pinned = args.key or state.get("public_key")
    notes = []
    if not pinned:
        pinned = service.get("/api/v1/log/public-key/")["public_key"]
        notes.append(f"pinned the served public key {pinned} (first use: compare it with the published one)")
    if state.get("public_key") and state["public_key"] != pinned:
        raise Failure("the key given is not the key this state file pinned")
    public_key = bytes.fromhex(pinned)
    head = service.get("/api/v1/log/heads/latest/")
    if not head_valid(head, public_key):
        raise Failure(f"the latest head (size {head['tree_size']}) is not signed by the pinned key")
    kept: list[dict[str, Any]] = state["heads"]
    for old in sorted(kept, key=lambda old: -old["tree_size"]):
        if old["tree_size"] > head["tree_size"]:
            raise Failure(
                f"the log shrank: a head of size {old['tree_size']} was kept, the latest is {head['tree_size']}"
            )
        served = head if old["tree_size"] == head["tree_size"] else service.head_at(old["tree_size"])
        if served is None:
            raise Failure(f"the service no longer has the head of size {old['tree_size']} it signed: rewritten")
        if served["root_hash"] != old["root_hash"]:
            raise Failure(f"fork: the service now shows another head of size {old['tree_size']} than the one kept")
    if kept:
        newest = max(kept, key=lambda old: old["tree_size"])
        proof = service.get(f"/api/v1/log/consistency/?first={newest['tree_size']}&second={head['tree_size']}")
        if not consistency_valid(
            newest["tree_size"],
            head["tree_size"],
            bytes.fromhex(newest["root_hash"]),
            bytes.fromhex(head["root_hash"]),
            [bytes.fromhex(node) for node in proof["path"]],
        ):
            raise Failure(
                f"the head of size {head['tree_size']} does not extend the kept one of size {newest['tree_size']}"
            )
    for transaction_id in args.include:
        proof = service.get(f"/api/v1/log/inclusion/{transaction_id}/?tree_size={head['tree_size']}")
        if not inclusion_valid(
            proof["leaf_index"],
            head["tree_size"],
            bytes.fromhex(proof["leaf_hash"]),
            [bytes.fromhex(node) for node in proof["path"]],
            bytes.fromhex(head["root_hash"]),
        ):
            raise Failure(f"the inclusion proof of transaction {transaction_id} does not verify")
    if args.journal or args.fetch_journal:
        check_journal(_read_journal(Path(args.journal)) if args.journal else service.journal(), head)
    if all(old["tree_size"] != head["tree_size"] for old in kept):
        kept.append(head)
    state_path.write_text(json.dumps({"public_key": pinned, "heads": kept}, indent=1))
    return "; ".join([*notes, f"ok: log of size {head['tree_size']}, root {head['root_hash']}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the service's base URL")
    parser.add_argument("--state", required=True, help="the local file of kept heads (created on first use)")
    parser.add_argument("--key", default="", help="the Ed25519 public key to pin, hex")
    parser.add_argument("--token", default="", help="an API token, unless the operator publishes the log")
    parser.add_argument("--include", nargs="*", default=[], help="journal transaction ids whose inclusion to check")
    journal = parser.add_mutually_exclusive_group()
    journal.add_argument("--journal", default="", help="a journal export (JSON) to recompute the leaves from")
    journal.add_argument("--fetch-journal", action="store_true", help="page through the service's journal instead")
    args = parser.parse_args(argv)
    try:
        print(verify(args))
    except Failure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
