"""RFC 9162 hashing and proofs at sizes 1..64 against vectors computed here from the RFC's definitions."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest

from ledger.log import merkle

SIZES = range(1, 65)
DATA = tuple(f"leaf {i}".encode() for i in range(64))


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) by RFC 9162 section 2.1.1, with SHA-256 spelled out."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + DATA[start]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(start, start + k) + mth(start + k, end)).digest()


def path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]), section 2.1.3.1."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, start, start + k), mth(start + k, end)]
    return [*path(m - k, start + k, end), mth(start, start + k)]


def subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b), section 2.1.4.1."""
    n = end - start
    if m == n:
        return [] if b else [mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, start, start + k, b), mth(start + k, end)]
    return [*subproof(m - k, start + k, end, False), mth(start, start + k)]


@pytest.fixture(scope="module")
def nodes() -> dict[merkle.Node, bytes]:
    return merkle.memory_nodes([merkle.leaf_hash(data) for data in DATA])


def _hashes(ranges: list[merkle.Range], nodes: dict[merkle.Node, bytes]) -> list[bytes]:
    return [merkle.range_hash(start, end, nodes) for start, end in ranges]


def test_empty_tree_and_leaf_hashes():
    assert merkle.tree_root([]) == hashlib.sha256(b"").digest()
    assert merkle.leaf_hash(DATA[0]) == mth(0, 1)
    assert merkle.node_hash(mth(0, 1), mth(1, 2)) == mth(0, 2)


@pytest.mark.parametrize("size", SIZES)
def test_roots_inclusion_and_consistency(size, nodes):
    root = mth(0, size)
    assert merkle.range_hash(0, size, nodes) == root
    assert merkle.tree_root([merkle.leaf_hash(data) for data in DATA[:size]]) == root
    # Only the complete subtrees range_nodes names are needed.
    needed = merkle.range_nodes(0, size)
    assert merkle.range_hash(0, size, {node: nodes[node] for node in needed}) == root
    for index in range(size):
        proof = _hashes(merkle.inclusion_ranges(index, size), nodes)
        assert proof == path(index, 0, size)
        leaf = mth(index, index + 1)
        assert merkle.inclusion_valid(index=index, size=size, leaf=leaf, path=proof, root=root)
        assert not merkle.inclusion_valid(index=index, size=size, leaf=mth(0, 2), path=proof, root=root)
        if proof:
            bent = [*proof[:-1], bytes(32)]
            assert not merkle.inclusion_valid(index=index, size=size, leaf=leaf, path=bent, root=root)
    for first in range(1, size + 1):
        proof = _hashes(merkle.consistency_ranges(first, size), nodes)
        assert proof == (subproof(first, 0, size, True) if first < size else [])
        first_root = mth(0, first)
        assert merkle.consistency_valid(
            first_size=first, second_size=size, first_root=first_root, second_root=root, path=proof
        )
        if first < size:
            # Another first tree (a fork) or another second root does not verify.
            assert not merkle.consistency_valid(
                first_size=first, second_size=size, first_root=mth(1, first + 1), second_root=root, path=proof
            )
            assert not merkle.consistency_valid(
                first_size=first, second_size=size, first_root=first_root, second_root=mth(1, size), path=proof
            )
            assert not merkle.consistency_valid(
                first_size=first, second_size=size, first_root=first_root, second_root=root, path=proof[:-1]
            )


def test_out_of_range_requests_are_refused():
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(4, 3)
    assert not merkle.inclusion_valid(index=3, size=3, leaf=mth(0, 1), path=[], root=mth(0, 3))
    assert not merkle.consistency_valid(first_size=4, second_size=3, first_root=b"", second_root=b"", path=[])
