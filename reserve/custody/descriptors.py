"""Output descriptors of watch-only wallets: validation, checksum, network and derivation.

embit parses descriptors and derives BIP32 children (including P2TR); derived scripts are
encoded as addresses by `reserve.addresses`. Supported shapes: pkh, sh(wpkh), wpkh, tr
(key path), sh(wsh(multi|sortedmulti)), wsh(multi|sortedmulti), sh(multi|sortedmulti),
with xpub/tpub keys, origin info, `/0/*` `/1/*` ranges and `<0;1>/*` multipath.
"""

from __future__ import annotations

from dataclasses import dataclass

from embit.descriptor import Descriptor
from embit.descriptor.checksum import checksum as embit_checksum

from config.errors import ValidationFailed
from ledger.secrets import PRIVATE_KEY_EXPLANATION, refuse_private_key
from reserve.custody.addresses import address_from_script, check_extended_key_network, check_network

MAX_GAP_LIMIT = 1000


@dataclass(frozen=True)
class ParsedDescriptor:
    text: str  # body#checksum, the form stored
    body: str
    checksum: str
    kind: str  # pkh, sh-wpkh, wpkh, tr, sh-wsh-multi, wsh-multi, sh-multi (with "sorted" when sortedmulti)
    is_ranged: bool
    chains: tuple[int, ...]  # the derivation step before "*" per branch: (0,), (1,) or (0, 1)
    origin_path: str  # origin of the first key, e.g. "m/84h/0h/0h", or "" when none
    parsed: Descriptor


@dataclass(frozen=True)
class DerivedScript:
    chain: int
    index: int | None
    derivation_path: str
    address: str
    script_pubkey: bytes


def _kind(descriptor: Descriptor) -> str:
    if descriptor.taproot:
        if descriptor.taptree:
            raise ValidationFailed.for_field("descriptor", "tr() with a script tree is not supported; use tr(KEY)")
        return "tr"
    if descriptor.miniscript is None:
        if descriptor.wpkh:
            return "sh-wpkh" if descriptor.sh else "wpkh"
        return "pkh"
    name = type(descriptor.miniscript).__name__.lower()
    if name not in ("multi", "sortedmulti"):
        raise ValidationFailed.for_field(
            "descriptor", f"{name}() scripts are not supported; use pkh, wpkh, sh(wpkh), tr, or (sorted)multi"
        )
    wrapper = "sh-wsh" if descriptor.sh and descriptor.wsh else "wsh" if descriptor.wsh else "sh"
    return f"{wrapper}-{name}"


def _refuse_private_material(body: str, *, field: str) -> None:
    # Before embit sees the text: its parser would accept an xprv or WIF as a valid key.
    allow_hex32 = body.startswith("tr(")  # tr() takes 32-byte x-only public keys in hex
    refuse_private_key(text=body, field=field, allow_hex32=allow_hex32)


def descriptor_parse(*, descriptor: str, network: str, field: str = "descriptor") -> ParsedDescriptor:
    """Validate a descriptor for `network`: checksum (if given), no private keys, network of keys."""
    check_network(network)
    text = "".join(descriptor.split())
    if not text:
        raise ValidationFailed.for_field(field, "is empty")
    body, _, given_checksum = text.partition("#")
    if "#" in given_checksum:
        raise ValidationFailed.for_field(field, "has more than one '#' checksum separator")
    _refuse_private_material(body, field=field)
    try:
        computed = embit_checksum(body)
    except Exception as exc:  # noqa: BLE001 - embit raises plain exceptions for bad characters
        raise ValidationFailed.for_field(field, f"malformed descriptor: {exc}") from None
    if given_checksum and given_checksum != computed:
        raise ValidationFailed.for_field(
            field,
            f"checksum #{given_checksum} does not match the descriptor (expected #{computed}): mistyped or altered",
        )
    if body.startswith(("multi(", "sortedmulti(")):
        raise ValidationFailed.for_field(field, "bare multisig has no address; wrap it in wsh() or sh()")
    try:
        parsed = Descriptor.from_string(body)
    except Exception as exc:  # noqa: BLE001 - embit's parse errors are not one family
        raise ValidationFailed.for_field(field, f"malformed descriptor: {exc}") from None
    kind = _kind(parsed)
    for key in parsed.keys:
        if key.is_private:
            raise ValidationFailed.for_field(field, PRIVATE_KEY_EXPLANATION)
        if key.is_extended:
            check_extended_key_network(key=key.key.to_base58(), network=network, field=field)
    chains = _chains(parsed)
    first = parsed.keys[0]
    origin_path = ""
    if first.origin is not None:
        origin_path = "m/" + str(first.origin).partition("/")[2] if "/" in str(first.origin) else "m"
    return ParsedDescriptor(
        text=f"{body}#{computed}",
        body=body,
        checksum=computed,
        kind=kind,
        is_ranged=bool(parsed.is_wildcard),
        chains=chains,
        origin_path=origin_path,
        parsed=parsed,
    )


def _chains(parsed: Descriptor) -> tuple[int, ...]:
    """The chain number of each branch: the step before "*" (0 receive, 1 change)."""
    for key in parsed.keys:
        derivation = key.allowed_derivation
        if derivation is None or not derivation.is_wildcard:
            continue
        indexes = derivation.indexes
        before_wildcard = indexes[-2] if len(indexes) >= 2 else 0
        if isinstance(before_wildcard, list):
            return tuple(before_wildcard)
        return (before_wildcard,)
    return (0,)


def _branch_index(parsed: ParsedDescriptor, chain: int) -> int | None:
    if chain not in parsed.chains:
        raise ValueError(f"descriptor has no chain {chain}; it has {parsed.chains}")
    return parsed.chains.index(chain) if len(parsed.chains) > 1 else None


def descriptor_child(*, parsed: ParsedDescriptor, chain: int, index: int | None) -> Descriptor:
    """The descriptor derived at (`chain`, `index`): its keys carry their full origin (fingerprint
    and path), which is what a signer needs in a PSBT; `index` None for a descriptor without "*"."""
    return parsed.parsed.derive(index or 0, branch_index=_branch_index(parsed, chain))


def descriptor_derive(
    *, parsed: ParsedDescriptor, network: str, chain: int, start: int, stop: int
) -> list[DerivedScript]:
    """Scripts of `chain` for indexes [start, stop); a descriptor without "*" yields its one script."""
    branch_index = _branch_index(parsed, chain)
    prefix = parsed.origin_path or "m"
    if not parsed.is_ranged:
        # derive() also applies fixed (non-wildcard) derivation steps such as xpub/0.
        script = parsed.parsed.derive(0, branch_index=branch_index).script_pubkey().data
        return (
            [
                DerivedScript(
                    chain=chain,
                    index=None,
                    derivation_path=parsed.origin_path,
                    address=address_from_script(script_pubkey=script, network=network),
                    script_pubkey=script,
                )
            ]
            if start == 0
            else []
        )
    derived = []
    for index in range(start, stop):
        script = parsed.parsed.derive(index, branch_index=branch_index).script_pubkey().data
        derived.append(
            DerivedScript(
                chain=chain,
                index=index,
                derivation_path=f"{prefix}/{chain}/{index}",
                address=address_from_script(script_pubkey=script, network=network),
                script_pubkey=script,
            )
        )
    return derived


def descriptor_preview(*, descriptor: str, network: str, count: int = 5) -> list[DerivedScript]:
    """The first `count` addresses of each chain, shown to the operator before a wallet is saved."""
    if not 1 <= count <= MAX_GAP_LIMIT:
        raise ValidationFailed.for_field("count", f"must be between 1 and {MAX_GAP_LIMIT}")
    parsed = descriptor_parse(descriptor=descriptor, network=network)
    previews: list[DerivedScript] = []
    for chain in parsed.chains:
        previews.extend(descriptor_derive(parsed=parsed, network=network, chain=chain, start=0, stop=count))
    return previews
