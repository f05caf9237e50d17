"""Descriptor derivation against published vectors; checksum, network and private-key refusal."""

import hashlib

import pytest

from config.errors import ValidationFailed
from reserve.custody.descriptors import descriptor_derive, descriptor_parse, descriptor_preview

# BIP84 / BIP86: account keys of the "abandon ... about" mnemonic (m/84'/0'/0', m/86'/0'/0').
BIP84_ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
)
BIP84_XPUB = (
    "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V"
)
BIP86_XPUB = (
    "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ"
)
# BIP383 / Bitcoin Core descriptor_tests.cpp: sortedmulti(2, ...) and the scripts at indexes 0, 1, 2.
CORE_XPUB_1 = (
    "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL"
)
CORE_XPUB_2 = (
    "xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y"
)
CORE_SORTEDMULTI_SCRIPTS = [
    "5221025d5fc65ebb8d44a5274b53bac21ff8307fec2334a32df05553459f8b1f7fe1b62102fbd47cc8034098f0e6a94c6aeee8528abf0a2153a5d8e46d325b7284c046784652ae",
    "52210264fd4d1f5dea8ded94c61e9641309349b62f27fbffe807291f664e286bfbe6472103f4ece6dfccfa37b211eb3d0af4d0c61dba9ef698622dc17eecdf764beeb005a652ae",
    "5221022ccabda84c30bad578b13c89eb3b9544ce149787e5b538175b1d1ba259cbb83321024d902e1a2fc7a8755ab5b694c575fce742c48d9ff192e63df5193e4c7afe1f9c52ae",
]
# Bitcoin Core doc/descriptors.md keys
DOC_XPUB_1 = (
    "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB"
)
DOC_XPUB_2 = (
    "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH"
)


@pytest.mark.parametrize("account_key", [BIP84_XPUB, BIP84_ZPUB])
def test_bip84_first_receive_address(account_key: str) -> None:
    # given
    descriptor = f"wpkh([73c5da0a/84h/0h/0h]{account_key}/0/*)"
    # when
    first = descriptor_preview(descriptor=descriptor, network="mainnet", count=1)
    # then
    assert [(d.address, d.derivation_path) for d in first] == [
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "m/84h/0h/0h/0/0")
    ]


def test_bip86_first_receive_address() -> None:
    first = descriptor_preview(descriptor=f"tr([73c5da0a/86h/0h/0h]{BIP86_XPUB}/0/*)", network="mainnet", count=1)
    assert first[0].address == "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"


def test_bip84_multipath_gives_receive_and_change_chains() -> None:
    # BIP84 test vectors: first change address of the same account
    previews = descriptor_preview(
        descriptor=f"wpkh([73c5da0a/84h/0h/0h]{BIP84_XPUB}/<0;1>/*)", network="mainnet", count=2
    )
    assert [(d.chain, d.index) for d in previews] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert previews[1].address == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
    assert previews[2].address == "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


def test_core_sortedmulti_vector_wrapped_in_wsh() -> None:
    # given: the BIP383 / Core vector's keys under wsh(); its witness script is the bare vector
    parsed = descriptor_parse(descriptor=f"wsh(sortedmulti(2,{CORE_XPUB_1}/*,{CORE_XPUB_2}/0/0/*))", network="mainnet")
    # when
    derived = descriptor_derive(parsed=parsed, network="mainnet", chain=0, start=0, stop=3)
    # then
    for index, script in enumerate(CORE_SORTEDMULTI_SCRIPTS):
        witness_script = parsed.parsed.derive(index).witness_script().data.hex()
        assert witness_script == script
        assert derived[index].script_pubkey.hex() == "0020" + hashlib.sha256(bytes.fromhex(script)).hexdigest()


def test_sortedmulti_address_does_not_depend_on_key_order() -> None:
    # Sparrow's test of Core's documented keys: 0/0 of wsh(sortedmulti(2, ...)).
    expected = "bc1qf5l7g5t5v2tp2wnwfeqlktkds7zvprmm7afjn6f85fdesc2pwedsh42kcl"
    for first, second in ((DOC_XPUB_1, DOC_XPUB_2), (DOC_XPUB_2, DOC_XPUB_1)):
        preview = descriptor_preview(
            descriptor=f"wsh(sortedmulti(2,{first}/0/*,{second}/0/*))", network="mainnet", count=1
        )
        assert preview[0].address == expected


def test_core_checksum_is_verified_and_a_mistyped_one_refused() -> None:
    body = f"sh(multi(2,[00000000/111'/222]{CORE_XPUB_1},{CORE_XPUB_2}/0))"
    # Core descriptor_tests.cpp: checksum and P2SH script of this descriptor
    parsed = descriptor_parse(descriptor=f"{body}#tjg09x5t", network="mainnet")
    assert parsed.text == f"{body}#tjg09x5t"
    derived = descriptor_derive(parsed=parsed, network="mainnet", chain=0, start=0, stop=1)
    assert derived[0].script_pubkey.hex() == "a91445a9a622a8b0a1269944be477640eedc447bbd8487"
    assert derived[0].index is None
    with pytest.raises(ValidationFailed, match="checksum #tjq09x4t does not match"):
        descriptor_parse(descriptor=f"{body}#tjq09x4t", network="mainnet")


def test_descriptor_without_checksum_gets_one() -> None:
    parsed = descriptor_parse(descriptor=f"pkh([d34db33f/44h/0h/0h]{CORE_XPUB_1}/1/*)", network="mainnet")
    assert parsed.text.startswith("pkh(") and parsed.text[-9] == "#"
    assert parsed.chains == (1,)
    assert parsed.kind == "pkh"


@pytest.mark.parametrize(
    ("shape", "kind"),
    [
        ("pkh({k}/0/*)", "pkh"),
        ("sh(wpkh({k}/0/*))", "sh-wpkh"),
        ("wpkh({k}/0/*)", "wpkh"),
        ("tr({k}/0/*)", "tr"),
        ("sh(wsh(multi(1,{k}/0/*,{k2}/0/*)))", "sh-wsh-multi"),
        ("wsh(sortedmulti(2,{k}/0/*,{k2}/0/*))", "wsh-sortedmulti"),
    ],
)
def test_every_supported_shape_parses_and_derives(shape: str, kind: str) -> None:
    descriptor = shape.format(k=DOC_XPUB_1, k2=DOC_XPUB_2)
    preview = descriptor_preview(descriptor=descriptor, network="mainnet", count=2)
    assert descriptor_parse(descriptor=descriptor, network="mainnet").kind == kind
    assert len({d.address for d in preview}) == 2


def test_a_tpub_on_a_mainnet_wallet_is_refused_saying_so() -> None:
    tpub = "tpubD6NzVbkrYhZ4WaWSyoBvQwbpLkojyoTZPRsgXELWz3Popb3qkjcJyJUGLnL4qHHoQvao8ESaAstxYSnhyswJ76uZPStJRJCTKvosUCJZL5B"  # noqa: E501
    with pytest.raises(ValidationFailed) as caught:
        descriptor_parse(descriptor=f"wpkh({tpub}/0/*)", network="mainnet")
    assert "testnet / signet / regtest key; this wallet is on mainnet" in caught.value.fields["descriptor"][0]


def test_an_xpub_on_a_regtest_wallet_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="mainnet key; this wallet is on regtest"):
        descriptor_parse(descriptor=f"wpkh({DOC_XPUB_1}/0/*)", network="regtest")


@pytest.mark.parametrize(
    "descriptor",
    [
        "wpkh(xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U/0/*)",
        "wpkh(L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1)",
        "pkh(5KYZdUEo39z3FPrtuX2QbbwGnNP5zTd7yyr2SC1j299sBCnWjss)",
        "wpkh(0c28fca386c7a227600b2fe50b7cae11ec86d3bf1fbe471be89827e19d72aa1d)",
    ],
)
def test_private_key_material_is_refused_with_an_explanation(descriptor: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        descriptor_parse(descriptor=descriptor, network="mainnet")
    message = caught.value.fields["descriptor"][0]
    assert "private key" in message
    assert "watch-only" in message


@pytest.mark.parametrize(
    ("descriptor", "message"),
    [
        ("wpkh(" + DOC_XPUB_1 + "/0h/*)", "Hardened derivation is not allowed"),
        ("multi(1," + DOC_XPUB_1 + "/0/*)", "bare multisig has no address"),
        ("wsh(pk(" + DOC_XPUB_1 + "/0/*))", "not supported"),
        ("wpkh(nonsense)", "malformed descriptor"),
        ("", "is empty"),
    ],
)
def test_malformed_descriptors_are_refused(descriptor: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        descriptor_parse(descriptor=descriptor, network="mainnet")
    assert message in caught.value.fields["descriptor"][0]


# Bitcoin Core test/functional/data/rpc_bip67.json (BIP67 vectors, used by rpc_createmultisig.py
# for sortedmulti): 2-of-3 keys in the given order and the sorted multisig script.
BIP67_KEYS = [
    "022df8750480ad5b26950b25c7ba79d3e37d75f640f8e5d9bcd5b150a0f85014da",
    "03e3818b65bcc73a7d64064106a859cc1a5a728c4345ff0b641209fba0d90de6e9",
    "021f2f6e1e50cb6a953935c3601284925decd3fd21bc445712576873fb8c6ebc18",
]
BIP67_SCRIPT = (
    "5221021f2f6e1e50cb6a953935c3601284925decd3fd21bc445712576873fb8c6ebc1821022df8750480ad5b26950b25c7ba79d3e37d75f640f8e5"
    "d9bcd5b150a0f85014da2103e3818b65bcc73a7d64064106a859cc1a5a728c4345ff0b641209fba0d90de6e953ae"
)


def test_core_2_of_3_sortedmulti_vector_under_wsh() -> None:
    # given
    parsed = descriptor_parse(descriptor=f"wsh(sortedmulti(2,{','.join(BIP67_KEYS)}))", network="mainnet")
    # when
    derived = descriptor_derive(parsed=parsed, network="mainnet", chain=0, start=0, stop=1)
    # then: the witness script is Core's sorted script; the P2WSH address as Blockchain Commons' tests give it
    assert parsed.parsed.derive(0).witness_script().data.hex() == BIP67_SCRIPT
    assert derived[0].script_pubkey.hex() == "0020" + hashlib.sha256(bytes.fromhex(BIP67_SCRIPT)).hexdigest()
    assert derived[0].address == "bc1q0uyls9kc4acv9ntqw6u096t53jlld4frp4rscrf8fruddhu62p6sy9507s"
