"""The signing key: from the variable, the file, or a default file made once; never a bad seed."""

import os
import threading
from pathlib import Path

import pytest

from config.errors import ValidationFailed
from ledger.signing import load_signing_key, signature_valid

SEED = "11" * 32


def test_the_variable_wins_over_the_files(tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other.write_text("22" * 32)
    key = load_signing_key(key_hex=SEED, key_file=str(other), default_file=tmp_path / "d.key")
    assert key.origin == "LEDGER_SIGNING_KEY"
    assert key.public_hex == load_signing_key(key_hex=SEED).public_hex
    assert not (tmp_path / "d.key").exists()


def test_a_named_file_is_read_and_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    with pytest.raises(FileNotFoundError):
        load_signing_key(key_file=str(missing), default_file=tmp_path / "d.key")
    assert not missing.exists()


def test_the_default_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ledger-signing.key"
    keys: list[str] = []

    def load() -> None:
        keys.append(load_signing_key(default_file=path).public_hex)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("text", ["", "zz" * 32, "11" * 31, "11" * 33])
def test_a_bad_seed_is_refused_naming_its_origin(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(text)
    with pytest.raises(ValidationFailed, match=r"bad\.key"):
        load_signing_key(key_file=str(path))


def test_signatures_verify_only_for_their_message_and_key() -> None:
    key = load_signing_key(key_hex=SEED)
    signature = key.sign(b"tree head")
    assert signature_valid(key.public_bytes, b"tree head", signature)
    assert not signature_valid(key.public_bytes, b"tree heaD", signature)
    assert not signature_valid(load_signing_key(key_hex="22" * 32).public_bytes, b"tree head", signature)
    assert not signature_valid(key.public_bytes, b"tree head", signature[:-1] + bytes([signature[-1] ^ 1]))
