"""The service's Ed25519 signing key: never in the database.

Signed tree heads (the transparency log) and signed holdings statements (proofs of reserves)
are signed with this one key, so an auditor pins one public key. It comes from, in order:
`LEDGER_SIGNING_KEY` (the 32-byte seed as 64 hex digits, for secret managers that hand the
process an environment variable), `LEDGER_SIGNING_KEY_FILE` (a file holding the same), or,
when neither is set, a file under the data directory (`.data/ledger-signing.key`) that the
first process to need it creates with mode 0600. Production settings require one of the two
variables (config/settings/production.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from config.errors import ValidationFailed

SEED_BYTES = 32


@dataclass(frozen=True)
class SigningKey:
    """The loaded key and where it came from (for the startup line, never the seed itself)."""

    private: Ed25519PrivateKey
    origin: str

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_hex(self) -> str:
        return self.public_bytes.hex()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def _seed_from_text(text: str, origin: str) -> bytes:
    cleaned = text.strip()
    try:
        seed = bytes.fromhex(cleaned)
    except ValueError:
        seed = b""
    if len(seed) != SEED_BYTES:
        raise ValidationFailed(
            f"{origin} must hold an Ed25519 seed as {2 * SEED_BYTES} hex digits",
            fields={"signing_key": [f"{origin} is not {2 * SEED_BYTES} hex digits"]},
        )
    return seed


def _create_key_file(path: Path) -> None:
    """Create the default key once; a concurrent first start loses the race and reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w") as handle:
        handle.write(seed.hex() + "\n")


def load_signing_key(*, key_hex: str = "", key_file: str = "", default_file: Path | None = None) -> SigningKey:
    """The key from the variable, else the file, else the default file (created on first use)."""
    if key_hex:
        seed = _seed_from_text(key_hex, "LEDGER_SIGNING_KEY")
        return SigningKey(Ed25519PrivateKey.from_private_bytes(seed), "LEDGER_SIGNING_KEY")
    path = Path(key_file) if key_file else default_file
    if path is None:
        raise ValidationFailed(
            "no signing key: set LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE",
            fields={"signing_key": ["not configured"]},
        )
    if not key_file:
        _create_key_file(path)
    seed = _seed_from_text(path.read_text(), str(path))
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed), str(path))


@lru_cache(maxsize=1)
def signing_key() -> SigningKey:
    """The process's key, read once from the settings."""
    return load_signing_key(
        key_hex=settings.LEDGER_SIGNING_KEY,
        key_file=settings.LEDGER_SIGNING_KEY_FILE,
        default_file=settings.LEDGER_SIGNING_KEY_DEFAULT_FILE,
    )


def signature_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public_key`'s Ed25519 signature of `message`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
