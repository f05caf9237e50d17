"""Real mainnet data from ../shared/data/chain (see its SOURCES.md) and the values published for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHAIN_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "chain"

# file stem -> (block hash, transactions, segwit transactions), as SOURCES.md lists them.
PUBLISHED_BLOCKS: dict[str, tuple[str, int, int]] = {
    "block_0": ("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f", 1, 0),
    "block_1": ("00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048", 1, 0),
    "block_169482": ("0000000000000756935f1ee9d5987857b604046f846d3df56d024cdb5f368665", 14, 0),
    "block_227835": ("00000000000001aa077d7aa84c532a4d69bdbff519609d1da0835261b7a74eb6", 122, 0),
    "block_227836": ("00000000000000d0dfd4c9d588d325dce4f32c1b31b7c0064cba7025a9b9adcc", 100, 0),
    "block_277647": ("0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8", 213, 0),
    "block_300025": ("0000000000000000821c4e0acc40f88bedbce3b73ba2358b5ade58a9022cc78c", 461, 0),
    "block_363703": ("0000000000000000011b2a4cb91b63886ffe0d2263fd17ac5a9b902a219e0a14", 587, 0),
    "block_370661": ("00000000000000001416a613602d73bbe5c79170fd8f39d509896b829cf9021e", 708, 0),
    "block_383616": ("00000000000000000aab6a2b34e979b09ca185584bd1aecf204f24d150ff55e9", 1731, 0),
    "block_413567": ("0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069", 1557, 0),
    "block_426884": ("00000000000000000431d0ead6e0bd9f90ff0d469e9b05d51e3d04971f472973", 409, 0),
    "block_481815": ("000000000000000000893c019d81f2d48ee33892c12428f3121bbd16ed6db926", 2097, 0),
    "block_481829": ("000000000000000000917cba69f69b758fe396c8e30ae97bbcf08c4eb975e726", 2020, 1),
    "block_482683": ("000000000000000000c238240ef6dcb26c37e75e16514e6ffc0aef7eee73e747", 12, 2),
    "block_540107": ("00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab", 230, 104),
    "block_574200": ("0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2", 3315, 1341),
    "block_702861": ("000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae", 2500, 2065),
    "block_951658": ("00000000000000000001cbe4b4add61d60d9a470e0958f1b4024f202db9ca628", 374, 369),
    "block_0000000000013b8ab2cd513b0261a14096412195a72a0c4827d229dcc7e0f7af": (
        "0000000000013b8ab2cd513b0261a14096412195a72a0c4827d229dcc7e0f7af",
        9,
        0,
    ),
}


def raw_block(stem: str) -> bytes:
    return (CHAIN_DATA / "blocks" / f"{stem}.raw").read_bytes()


def rpc_json(name: str) -> Any:
    return json.loads((CHAIN_DATA / "rpc" / name).read_text())


def blk_file_blocks(name: str = "first-100k-blocks.dat") -> list[bytes]:
    """The blocks of a blk*.dat file: records of magic f9beb4d9, little-endian length, block."""
    data = (CHAIN_DATA / "blkfiles" / name).read_bytes()
    blocks, offset = [], 0
    while offset < len(data):
        assert data[offset : offset + 4] == bytes.fromhex("f9beb4d9")
        length = int.from_bytes(data[offset + 4 : offset + 8], "little")
        blocks.append(data[offset + 8 : offset + 8 + length])
        offset += 8 + length
    return blocks
