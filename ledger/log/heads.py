"""Signed tree heads: the bytes the service signs with its Ed25519 key (ledger/signing.py).

    reserve-ledger tree head v1\n{tree_size}\n{root hex}\n{timestamp_ms}\n

key_id is the SHA-256 of the raw 32-byte public key, hex. scripts/verify_log.py rebuilds
the same bytes; a change here is a new version line, never an edit of this one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ledger.signing import SigningKey, signature_valid

HEAD_PREFIX = "reserve-ledger tree head v1"


def head_message(*, tree_size: int, root_hex: str, timestamp_ms: int) -> bytes:
    return f"{HEAD_PREFIX}\n{tree_size}\n{root_hex}\n{timestamp_ms}\n".encode("ascii")


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head as served and kept (issue 16's holdings statements cite the latest one)."""

    tree_size: int
    root_hash: str
    timestamp_ms: int
    signature: str
    key_id: str

    def valid_for(self, public_key: bytes) -> bool:
        message = head_message(tree_size=self.tree_size, root_hex=self.root_hash, timestamp_ms=self.timestamp_ms)
        return key_id(public_key) == self.key_id and signature_valid(public_key, message, bytes.fromhex(self.signature))


def head_sign(key: SigningKey, *, tree_size: int, root_hex: str, timestamp_ms: int) -> TreeHead:
    message = head_message(tree_size=tree_size, root_hex=root_hex, timestamp_ms=timestamp_ms)
    return TreeHead(
        tree_size=tree_size,
        root_hash=root_hex,
        timestamp_ms=timestamp_ms,
        signature=key.sign(message).hex(),
        key_id=key_id(key.public_bytes),
    )
