"""Proof of work: compact `bits` to target, and a header's hash against it and the network's limit."""

from __future__ import annotations

from reserve.chain.blocks import BlockHeader
from reserve.chain.errors import BlockVerificationError
from reserve.chain.networks import Network, network_named


def target_from_bits(bits: int) -> int:
    """Expand compact `bits` to the 256-bit target, refusing what Bitcoin Core refuses.

    Negative (sign bit with a non-zero mantissa), zero, and overflowing (more than 256 bits)
    encodings are invalid.
    """
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if mantissa and bits & 0x00800000:
        raise BlockVerificationError(f"bits {bits:#010x} encode a negative target")
    if mantissa and (exponent > 34 or (mantissa > 0xFF and exponent > 33) or (mantissa > 0xFFFF and exponent > 32)):
        raise BlockVerificationError(f"bits {bits:#010x} overflow 256 bits")
    target = mantissa >> 8 * (3 - exponent) if exponent <= 3 else mantissa << 8 * (exponent - 3)
    if target == 0:
        raise BlockVerificationError(f"bits {bits:#010x} encode a zero target")
    return target


def bits_from_target(target: int) -> int:
    """Compact encoding of a target (the inverse of `target_from_bits` up to its precision)."""
    size = (target.bit_length() + 7) // 8
    mantissa = target >> 8 * (size - 3) if size > 3 else target << 8 * (3 - size)
    if mantissa & 0x00800000:
        mantissa >>= 8
        size += 1
    return size << 24 | mantissa


def _network(network: Network | str) -> Network:
    return network if isinstance(network, Network) else network_named(network)


def verify_proof_of_work(header: BlockHeader, *, network: Network | str) -> None:
    """The header hash is at or below the target its `bits` claim, which is within the network's limit."""
    limit = _network(network).pow_limit
    try:
        target = target_from_bits(header.bits)
    except BlockVerificationError as error:
        raise BlockVerificationError(error.reason, block_hash=header.hash) from None
    if target > limit:
        raise BlockVerificationError(
            f"bits {header.bits:#010x} claim a target above the {_network(network).name} proof-of-work limit",
            block_hash=header.hash,
        )
    if int(header.hash, 16) > target:
        raise BlockVerificationError(
            f"hash is above the target of its bits {header.bits:#010x} (insufficient proof of work)",
            block_hash=header.hash,
        )


RETARGET_INTERVAL = 2016
TARGET_TIMESPAN_SECONDS = 14 * 24 * 60 * 60


def required_bits(
    *, network: Network | str, height: int, parent: BlockHeader, period_start: BlockHeader | None
) -> int | None:
    """The `bits` consensus requires of the block at `height` on top of `parent`.

    At a retarget height (a multiple of 2016) `period_start` must be the header at
    height - 2016; elsewhere the parent's bits carry over. Regtest never retargets.
    Returns None on testnet, whose 20-minute minimum-difficulty rule needs more history
    than a parent: there only the proof-of-work limit applies.
    """
    net = _network(network)
    if net.name == "testnet":
        return None
    if net.name == "regtest" or height % RETARGET_INTERVAL:
        return parent.bits
    if period_start is None:
        raise ValueError(f"the retarget at height {height} needs the header at height {height - RETARGET_INTERVAL}")
    # Bitcoin Core's off-by-one kept: the timespan covers the 2015 intervals from period_start to parent.
    timespan = parent.time - period_start.time
    timespan = max(TARGET_TIMESPAN_SECONDS // 4, min(timespan, TARGET_TIMESPAN_SECONDS * 4))
    target = min(target_from_bits(parent.bits) * timespan // TARGET_TIMESPAN_SECONDS, net.pow_limit)
    return bits_from_target(target)
