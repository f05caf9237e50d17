"""Message signature verification: BIP-322's published P2WPKH vectors, and legacy signmessage on any network."""

from __future__ import annotations

import pytest
from bitcoin.signmessage import BitcoinMessage, SignMessage, VerifyMessage
from bitcoin.wallet import P2PKHBitcoinAddress

from reserve.custody.addresses import parse_address
from reserve.proofs.bip322 import message_hash, to_sign, to_spend
from reserve.proofs.signatures import verify_message_signature
from tests.reserve.api.keys import SigningKey

# https://github.com/bitcoin/bips/blob/master/bip-0322.mediawiki#test-vectors
BIP322_ADDRESS = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
BIP322_VECTORS = [
    (
        "",
        "AkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40ASECx/"
        "EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=",
    ),
    (
        "Hello World",
        "AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/sASECx/"
        "EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=",
    ),
]


def test_bip322_message_hashes_and_virtual_transactions_match_the_bip() -> None:
    # given
    script = parse_address(address=BIP322_ADDRESS, network="mainnet").script_pubkey
    # when
    spent = {message: to_spend(script_pubkey=script, message=message).txid().hex() for message in ("", "Hello World")}
    signing = {message: to_sign(script_pubkey=script, message=message).txid().hex() for message in ("", "Hello World")}
    # then
    assert message_hash("").hex() == "c90c269c4f8fcbe6880f72a721ddfbf1914268a794cbb21cfafee13770ae19f1"
    assert message_hash("Hello World").hex() == "f0eb03b1a75ac6d9847f55c624a99169b5dccba2a31f5b23bea77ba270de0a7a"
    assert spent == {
        "": "c5680aa69bb8d860bf82d4e9cd3504b55dde018de765a91bb566283c545a99a7",
        "Hello World": "b79d196740ad5217771c1098fc4a4b51e0535c32236c71f1ea4d61a2d603352b",
    }
    assert signing == {
        "": "1e9654e951a5ba44c8604c4de6c67fd78a27e81dcadcfe1edf638ba3aaebaed6",
        "Hello World": "88737ae86f2077145f93cc4b153ae9a1cb8d56afa511988c149c5c8c9d93bddf",
    }


@pytest.mark.parametrize(("message", "signature"), BIP322_VECTORS)
def test_bip322_published_vectors_verify_and_only_for_their_message(message: str, signature: str) -> None:
    # given
    address = parse_address(address=BIP322_ADDRESS, network="mainnet")
    # when
    good = verify_message_signature(address=address, message=message, signature=signature)
    other = verify_message_signature(address=address, message=message + "!", signature=signature)
    # then
    assert (good.valid, good.method) == (True, "bip322-simple")
    assert not other.valid
    assert "does not verify" in other.reason


def test_signmessage_agrees_with_python_bitcoinlib_on_mainnet() -> None:
    # given
    key = SigningKey("mainnet").key
    address = str(P2PKHBitcoinAddress.from_pubkey(key.pub))
    message = BitcoinMessage("Reserve Ledger proof of reserves")
    signature = SignMessage(key, message).decode()
    # when
    ours = verify_message_signature(
        address=parse_address(address=address, network="mainnet"), message=str(message), signature=signature
    )
    # then
    assert VerifyMessage(address, message, signature)
    assert ours.valid


def test_signmessage_on_regtest_and_wrong_keys() -> None:
    # given
    signer, stranger = SigningKey("a"), SigningKey("b")
    address = parse_address(address=signer.p2pkh_address, network="regtest")
    # when
    good = verify_message_signature(address=address, message="m", signature=signer.signmessage("m"))
    wrong_key = verify_message_signature(address=address, message="m", signature=stranger.signmessage("m"))
    garbage = verify_message_signature(address=address, message="m", signature="not base64!")
    # then
    assert good.valid
    assert not wrong_key.valid
    assert "was not made by the key" in wrong_key.reason
    assert not garbage.valid


def test_bip322_on_regtest_and_another_type_s_witness() -> None:
    # given
    signer, stranger = SigningKey("c"), SigningKey("d")
    address = parse_address(address=signer.p2wpkh_address, network="regtest")
    taproot = parse_address(
        address="bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6", network="regtest"
    )
    # when
    good = verify_message_signature(address=address, message="m", signature=signer.bip322("m"))
    wrong_key = verify_message_signature(address=address, message="m", signature=stranger.bip322("m"))
    p2wpkh_witness_for_taproot = verify_message_signature(address=taproot, message="m", signature=signer.bip322("m"))
    # then
    assert good.valid
    assert not wrong_key.valid
    assert not p2wpkh_witness_for_taproot.valid
    assert "only the taproot key path is accepted" in p2wpkh_witness_for_taproot.reason
