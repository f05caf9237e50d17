"""Single addresses and extended public keys: decoding, checksum and network validation.

P2PKH, P2SH, P2WPKH and P2WSH go through python-bitcoinlib; P2TR (bech32m, witness v1)
through embit, because python-bitcoinlib predates taproot. Every function takes the
wallet's network explicitly: nothing here depends on a process-wide chain selection.
"""

from __future__ import annotations

from dataclasses import dataclass

from bitcoin import base58 as bitcoinlib_base58
from bitcoin import segwit_addr as bitcoinlib_segwit
from bitcoin.core.script import OP_CHECKSIG, OP_DUP, OP_EQUAL, OP_EQUALVERIFY, OP_HASH160, CScript
from embit import bech32 as embit_bech32

from config.errors import ApplicationError, ValidationFailed

# Private key material is recognised in one place for every app (ledger/secrets.py).
from ledger.secrets import PRIVATE_KEY_EXPLANATION, XPRV_VERSIONS, refuse_private_key

NETWORKS = ("mainnet", "testnet", "signet", "regtest")
TEST_NETWORKS = ("testnet", "signet", "regtest")

# Which networks accept each encoding prefix. Testnet, signet and regtest share base58
# version bytes and extended-key versions; bech32 separates regtest ("bcrt").
_BECH32_HRP_NETWORKS = {"bc": ("mainnet",), "tb": ("testnet", "signet"), "bcrt": ("regtest",)}
_BECH32_HRP_BY_NETWORK = {"mainnet": "bc", "testnet": "tb", "signet": "tb", "regtest": "bcrt"}
_BASE58_VERSIONS = {
    0x00: ("p2pkh", ("mainnet",)),
    0x05: ("p2sh", ("mainnet",)),
    0x6F: ("p2pkh", TEST_NETWORKS),
    0xC4: ("p2sh", TEST_NETWORKS),
}
# BIP32 / SLIP-132 version bytes of extended public keys, and of the private ones we refuse.
_XPUB_VERSIONS = {
    bytes.fromhex("0488b21e"): ("xpub", ("mainnet",)),
    bytes.fromhex("049d7cb2"): ("ypub", ("mainnet",)),
    bytes.fromhex("04b24746"): ("zpub", ("mainnet",)),
    bytes.fromhex("0295b43f"): ("Ypub", ("mainnet",)),
    bytes.fromhex("02aa7ed3"): ("Zpub", ("mainnet",)),
    bytes.fromhex("043587cf"): ("tpub", TEST_NETWORKS),
    bytes.fromhex("044a5262"): ("upub", TEST_NETWORKS),
    bytes.fromhex("045f1cf6"): ("vpub", TEST_NETWORKS),
    bytes.fromhex("024289ef"): ("Upub", TEST_NETWORKS),
    bytes.fromhex("02575483"): ("Vpub", TEST_NETWORKS),
}


@dataclass(frozen=True)
class ParsedAddress:
    address: str
    script_pubkey: bytes
    kind: str  # p2pkh, p2sh, p2wpkh, p2wsh, p2tr


def network_name(networks: tuple[str, ...]) -> str:
    return " / ".join(networks)


def _wrong_network(*, field: str, address: str, found: tuple[str, ...], network: str) -> ApplicationError:
    return ValidationFailed.for_field(
        field, f"{address} is a {network_name(found)} address; this wallet is on {network}"
    )


def check_network(network: str, *, field: str = "network") -> str:
    if network not in NETWORKS:
        raise ValidationFailed.for_field(field, f"unknown network {network!r}; use one of {', '.join(NETWORKS)}")
    return network


def parse_address(*, address: str, network: str, field: str = "address") -> ParsedAddress:
    """Decode an address, verify its checksum and that it belongs to `network`."""
    check_network(network)
    text = address.strip()
    if not text:
        raise ValidationFailed.for_field(field, "is empty")
    refuse_private_key(text=text, field=field)
    lowered = text.lower()
    hrp = lowered.rpartition("1")[0] if "1" in lowered else ""
    if hrp in _BECH32_HRP_NETWORKS:
        return _parse_segwit(text=text, hrp=hrp, network=network, field=field)
    return _parse_base58(text=text, network=network, field=field)


def _parse_segwit(*, text: str, hrp: str, network: str, field: str) -> ParsedAddress:
    if text != text.lower() and text != text.upper():
        raise ValidationFailed.for_field(field, f"{text} mixes upper and lower case, which bech32 forbids")
    lowered = text.lower()
    found = _BECH32_HRP_NETWORKS[hrp]
    version, program = bitcoinlib_segwit.decode(hrp, lowered)
    if version is not None and version != 0:
        # python-bitcoinlib checks the bech32 checksum for every version; BIP-350 gives v1+ bech32m.
        raise ValidationFailed.for_field(
            field, f"{text} is a witness v{version} address with a bech32 checksum; v1+ use bech32m (BIP-350)"
        )
    if version is None:
        # Not bech32 v0: taproot and later witness versions are bech32m, which embit knows.
        version, program = embit_bech32.decode(hrp, lowered)
    if version is None or program is None:
        raise ValidationFailed.for_field(field, f"{text} is not a valid address (bad bech32 checksum or length)")
    if network not in found:
        raise _wrong_network(field=field, address=text, found=found, network=network)
    witness_program = bytes(program)
    if version == 0 and len(witness_program) == 20:
        kind = "p2wpkh"
    elif version == 0 and len(witness_program) == 32:
        kind = "p2wsh"
    elif version == 1 and len(witness_program) == 32:
        kind = "p2tr"
    else:
        raise ValidationFailed.for_field(field, f"{text} is a witness v{version} address this service cannot watch")
    script = CScript([version, witness_program]) if version == 0 else bytes([0x51, 32]) + witness_program
    return ParsedAddress(address=lowered, script_pubkey=bytes(script), kind=kind)


def _parse_base58(*, text: str, network: str, field: str) -> ParsedAddress:
    try:
        data = bitcoinlib_base58.CBase58Data(text)
    except bitcoinlib_base58.Base58ChecksumError:
        raise ValidationFailed.for_field(field, f"{text} has a bad checksum (mistyped?)") from None
    except (bitcoinlib_base58.Base58Error, ValueError):
        raise ValidationFailed.for_field(field, f"{text} is not a bitcoin address") from None
    if data.nVersion not in _BASE58_VERSIONS or len(data) != 20:
        raise ValidationFailed.for_field(field, f"{text} is not a P2PKH, P2SH, P2WPKH, P2WSH or P2TR address")
    kind, found = _BASE58_VERSIONS[data.nVersion]
    if network not in found:
        raise _wrong_network(field=field, address=text, found=found, network=network)
    # Built here, not by CBitcoinAddress: that class checks versions against the process-wide chain.
    payload = bytes(data)
    if kind == "p2pkh":
        script = CScript([OP_DUP, OP_HASH160, payload, OP_EQUALVERIFY, OP_CHECKSIG])
    else:
        script = CScript([OP_HASH160, payload, OP_EQUAL])
    return ParsedAddress(address=text, script_pubkey=bytes(script), kind=kind)


def address_from_script(*, script_pubkey: bytes, network: str) -> str:
    """Encode a standard scriptPubKey as an address of `network` (used for derived scripts)."""
    if len(script_pubkey) == 25 and script_pubkey[:3] == b"\x76\xa9\x14" and script_pubkey[23:] == b"\x88\xac":
        version = 0x00 if network == "mainnet" else 0x6F
        return str(bitcoinlib_base58.CBase58Data.from_bytes(script_pubkey[3:23], version))
    if len(script_pubkey) == 23 and script_pubkey[:2] == b"\xa9\x14" and script_pubkey[22:] == b"\x87":
        version = 0x05 if network == "mainnet" else 0xC4
        return str(bitcoinlib_base58.CBase58Data.from_bytes(script_pubkey[2:22], version))
    hrp = _BECH32_HRP_BY_NETWORK[network]
    if script_pubkey[:1] == b"\x00" and len(script_pubkey) in (22, 34):
        encoded = bitcoinlib_segwit.encode(hrp, 0, script_pubkey[2:])
    elif script_pubkey[:2] == b"\x51\x20" and len(script_pubkey) == 34:
        encoded = embit_bech32.encode(hrp, 1, script_pubkey[2:])
    else:
        encoded = None
    if not encoded:
        raise ValueError(f"not a standard output script: {script_pubkey.hex()}")
    return str(encoded)


def extended_key_networks(*, key: str, field: str) -> tuple[str, tuple[str, ...]]:
    """(prefix name, networks) of an extended public key; private or unknown ones are refused."""
    try:
        raw = bitcoinlib_base58.decode(key)
    except bitcoinlib_base58.Base58Error:
        raise ValidationFailed.for_field(field, f"{key[:12]}… is not a valid extended key") from None
    version = raw[:4]
    if version in XPRV_VERSIONS:
        raise ValidationFailed.for_field(field, f"{key[:4]}…: {PRIVATE_KEY_EXPLANATION}")
    if version not in _XPUB_VERSIONS:
        raise ValidationFailed.for_field(field, f"{key[:12]}… is not an extended public key (xpub/tpub)")
    return _XPUB_VERSIONS[version]


def check_extended_key_network(*, key: str, network: str, field: str) -> None:
    prefix, found = extended_key_networks(key=key, field=field)
    if network not in found:
        raise ValidationFailed.for_field(
            field, f"{prefix} {key[:12]}… is a {network_name(found)} key; this wallet is on {network}"
        )
