"""RFC 9162 Merkle tree hashing, proofs and their verification (sections 2.1.1-2.1.4), pure Python.

A tree is described by its complete subtrees: node (level, index) is the hash of leaves
[index * 2**level, (index + 1) * 2**level); level 0 are the leaf hashes. The log stores
those (ledger.models.LogLeaf, LogNode), so a proof reads O(log n) rows: a proof is first a
list of leaf ranges (`inclusion_ranges`, `consistency_ranges`), each range the hash of
a few complete subtrees (`range_nodes`), folded by `range_hash`. scripts/verify_log.py
repeats the verification half (it imports nothing of the service).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]
Range = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two smaller than `size` (> 1): where MTH splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def _is_power_of_two(size: int) -> bool:
    return size > 0 and size & (size - 1) == 0


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees whose hashes make MTH(D[start:end]) (a range of the tree's own recursion)."""
    size = end - start
    if _is_power_of_two(size):
        level = size.bit_length() - 1
        return [(level, start >> level)]
    k = split_point(size)
    return range_nodes(start, start + k) + range_nodes(start + k, end)


def range_hash(start: int, end: int, nodes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[start:end]) from the complete subtrees named by `range_nodes(start, end)`."""
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if _is_power_of_two(size):
        level = size.bit_length() - 1
        return nodes[(level, start >> level)]
    k = split_point(size)
    return node_hash(range_hash(start, start + k, nodes), range_hash(start + k, end, nodes))


def new_nodes(size: int, leaf: bytes, nodes: Callable[[Node], bytes]) -> list[tuple[Node, bytes]]:
    """The complete subtrees (level >= 1) that appending leaf number `size` completes."""
    made: list[tuple[Node, bytes]] = []
    right, index, level = leaf, size, 0
    while index % 2 == 1:
        left = nodes((level, index - 1))
        right = node_hash(left, right)
        level, index = level + 1, index // 2
        made.append(((level, index), right))
    return made


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """PATH(index, D[0:size]) as leaf ranges, leaf side first (RFC 9162, 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")

    def path(m: int, start: int, end: int) -> list[Range]:
        if end - start == 1:
            return []
        k = split_point(end - start)
        if m < k:
            return [*path(m, start, start + k), (start + k, end)]
        return [*path(m - k, start + k, end), (start, start + k)]

    return path(index, 0, size)


def consistency_ranges(first_size: int, second_size: int) -> list[Range]:
    """PROOF(first_size, D[0:second_size]) as leaf ranges (RFC 9162, 2.1.4.1)."""
    if not 0 <= first_size <= second_size:
        raise ValueError(f"no consistency proof from size {first_size} to {second_size}")
    if first_size in (0, second_size):
        return []

    def subproof(m: int, start: int, end: int, whole: bool) -> list[Range]:
        if m == end - start:
            return [] if whole else [(start, end)]
        k = split_point(end - start)
        if m <= k:
            return [*subproof(m, start, start + k, whole), (start + k, end)]
        return [*subproof(m - k, start + k, end, False), (start, start + k)]

    return subproof(first_size, 0, second_size, True)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of the given leaf hashes (a whole tree in memory: the verifier and the tests)."""
    nodes = memory_nodes(leaves)
    return range_hash(0, len(leaves), nodes)


def memory_nodes(leaves: Sequence[bytes]) -> dict[Node, bytes]:
    """Every complete subtree of the given leaf hashes."""
    nodes: dict[Node, bytes] = {}
    for size, leaf in enumerate(leaves):
        nodes[(0, size)] = leaf
        nodes.update(new_nodes(size, leaf, nodes.__getitem__))
    return nodes


def _shift_while(fn: int, sn: int, condition: Callable[[int], bool]) -> tuple[int, int]:
    while condition(fn):
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def inclusion_valid(*, index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162, 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while(fn, sn, lambda f: not f & 1 and f != 0)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistency_valid(
    *, first_size: int, second_size: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162, 2.1.4.2; sizes 0 and equal sizes as the RFC's definitions imply."""
    if not 0 <= first_size <= second_size:
        return False
    if first_size == 0:
        return not path
    if first_size == second_size:
        return not path and first_root == second_root
    if not path:
        return False
    proof = [first_root, *path] if _is_power_of_two(first_size) else list(path)
    fn, sn = _shift_while(first_size - 1, second_size - 1, lambda f: bool(f & 1))
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while(fn, sn, lambda f: not f & 1 and f != 0)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def frontier_push(frontier: list[tuple[int, bytes]], leaf: bytes) -> None:
    """Append a leaf to the complete subtrees (size, hash) of a tree, left to right (a streaming MTH)."""
    size, node = 1, leaf
    while frontier and frontier[-1][0] == size:
        left_size, left = frontier.pop()
        size, node = size + left_size, node_hash(left, node)
    frontier.append((size, node))


def frontier_root(frontier: list[tuple[int, bytes]]) -> bytes:
    """MTH of the tree whose complete subtrees are `frontier` (RFC 9162's split is this right fold)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1][1]
    for _, node in reversed(frontier[:-1]):
        root = node_hash(node, root)
    return root
