"""Single addresses: checksum and network validation, scripts from published vectors (BIP173/BIP86)."""

import pytest

from config.errors import ValidationFailed
from reserve.custody.addresses import address_from_script, parse_address


@pytest.mark.parametrize(
    ("address", "network", "kind", "script_hex"),
    [
        # BIP173 vectors
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "mainnet",
            "p2wpkh",
            "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        ),
        (
            "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
            "mainnet",
            "p2wsh",
            "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        ),
        (
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
            "testnet",
            "p2wpkh",
            "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        ),
        # BIP86 first receive address of the "abandon ... about" mnemonic: its output key
        (
            "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
            "mainnet",
            "p2tr",
            "5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
        ),
        # Bitcoin wiki examples: P2PKH and P2SH
        (
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "mainnet",
            "p2pkh",
            "76a91477bff20c60e522dfaa3350c39b030a5d004e839a88ac",
        ),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "mainnet", "p2sh", "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"),
    ],
)
def test_addresses_decode_to_their_scripts(address: str, network: str, kind: str, script_hex: str) -> None:
    # when
    parsed = parse_address(address=address, network=network)
    # then
    assert parsed.kind == kind
    assert parsed.script_pubkey.hex() == script_hex
    assert address_from_script(script_pubkey=parsed.script_pubkey, network=network) == parsed.address


def test_a_testnet_address_on_a_mainnet_wallet_is_refused_saying_so() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_address(address="tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", network="mainnet", field="addresses[0]")
    message = caught.value.fields["addresses[0]"][0]
    assert "testnet" in message
    assert "this wallet is on mainnet" in message


def test_a_mainnet_address_on_a_regtest_wallet_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="mainnet address; this wallet is on regtest"):
        parse_address(address="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", network="regtest")


def test_base58_test_addresses_are_valid_on_regtest_and_bech32_regtest_on_regtest_only() -> None:
    assert parse_address(address="mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", network="regtest").kind == "p2pkh"
    assert parse_address(address="bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", network="regtest").kind == "p2wpkh"
    with pytest.raises(ValidationFailed, match="regtest address; this wallet is on testnet"):
        parse_address(address="bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", network="testnet")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "bad checksum"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "not a valid address"),
        ("bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "mixes upper and lower case"),
        ("hello", "not a bitcoin address"),
        ("5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ", "private key material"),
    ],
)
def test_malformed_addresses_and_secrets_are_refused(address: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_address(address=address, network="mainnet")
    assert message in caught.value.fields["address"][0]
