#!/usr/bin/env python3
"""Check a Reserve Ledger holdings statement offline, trusting nothing of the service but its public key.

    python scripts/verify_statement.py statement.json --key <the service's Ed25519 public key, hex>
        [--rpc http://user:password@host:port]   # when the file bundles no evidence: fetch it from any node

It checks, and exits non-zero naming the first failure:
1. the service's Ed25519 signature over the statement's canonical JSON, by the pinned key;
2. the challenge message names the stated block and every address;
3. each address's signature over that message: legacy signmessage (P2PKH), BIP-322 Simple or
   Full (P2WPKH, P2SH-P2WPKH, P2WSH multisig, P2TR key path), or a BIP-127 whole-wallet PSBT
   (the commitment to the message, then exactly the outputs listed, each input signed);
4. the bundled headers: each meets its own proof-of-work target, each links to the one before,
   the last is the stated block;
5. each output: its transaction hashes to its txid, pays that address that amount, and a merkle
   branch (`gettxoutproof`) puts it in the header at its height;
6. the totals: per address, per wallet, overall, and the coverage flags.
A period attestation (`manage.py attest_period`) is checked with --rpc: the verifier rescans from the
wallets' birthday with the published addr() descriptors and reproduces every holdings figure, every
change and every consolidation, and the verdict; only the inflow classes rest on the service's word.

That an output is still unspent at the stated block rests on the service's word (a header chain
cannot show it); a node with the UTXO set can (`gettxout`).

Standalone on purpose: the standard library, `cryptography` and `embit`, no import of the
service, so an auditor can read all of it. It re-implements what it checks.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import urllib.parse
import urllib.request
from io import BytesIO
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from embit import ec
from embit.finalizer import finalize_psbt
from embit.hashes import double_sha256, hash160, sha256, tagged_hash
from embit.psbt import PSBT
from embit.script import Script, Witness, address_to_scriptpubkey
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput
from embit.util import secp256k1

FORMAT = "reserve-ledger/holdings-statement/1"
POW_LIMITS = {
    "mainnet": 0x00000000FFFF << 208,
    "testnet": 0x00000000FFFF << 208,
    "signet": 0x00000377AE << 216,
    "regtest": 0x7FFFFF << 232,
}


class Refused(Exception):
    """The statement does not hold; the message says why."""


# -- the statement and its signature -------------------------------------------------------


def canonical(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_service_signature(statement: dict[str, Any], signature_hex: str, pinned_key: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(pinned_key).verify(bytes.fromhex(signature_hex), canonical(statement))
    except (InvalidSignature, ValueError):
        raise Refused("the statement is not signed by the pinned service key") from None


# -- message signatures --------------------------------------------------------------------


def signmessage_valid(script: bytes, message: str, signature: str) -> bool:
    raw = base64.b64decode(signature, validate=True)
    if len(raw) != 65 or not 27 <= raw[0] <= 34:
        return False
    encoded = message.encode("utf-8")
    prefix = b"\x18Bitcoin Signed Message:\n"
    digest = double_sha256(prefix + _varint(len(encoded)) + encoded)
    recid = (raw[0] - 27) & 3
    compressed = raw[0] >= 31
    try:
        recoverable = secp256k1.ecdsa_recoverable_signature_parse_compact(raw[1:], recid)
        point = secp256k1.ecdsa_recover(recoverable, digest)
    except Exception:  # noqa: BLE001 - not a signature of any key
        return False
    public = secp256k1.ec_pubkey_serialize(point, secp256k1.EC_COMPRESSED if compressed else secp256k1.EC_UNCOMPRESSED)
    return script == b"\x76\xa9\x14" + hash160(public) + b"\x88\xac"


def _varint(value: int) -> bytes:
    if value < 0xFD:
        return bytes([value])
    if value <= 0xFFFF:
        return b"\xfd" + value.to_bytes(2, "little")
    return b"\xfe" + value.to_bytes(4, "little")


def bip322_to_sign(script: bytes, message: str) -> Transaction:
    message_hash = tagged_hash("BIP0322-signed-message", message.encode("utf-8"))
    spend_in = TransactionInput(b"\x00" * 32, 0xFFFFFFFF, script_sig=Script(b"\x00\x20" + message_hash), sequence=0)
    to_spend = Transaction(version=0, vin=[spend_in], vout=[TransactionOutput(0, Script(script))], locktime=0)
    sign_in = TransactionInput(to_spend.txid(), 0, sequence=0)
    return Transaction(version=0, vin=[sign_in], vout=[TransactionOutput(0, Script(b"\x6a"))], locktime=0)


def _canonical_read(raw: bytes, kind: type[Transaction] | type[Witness]) -> Any:
    try:
        parsed = kind.read_from(BytesIO(raw))
    except Exception:  # noqa: BLE001 - malformed
        return None
    return parsed if parsed.serialize() == raw else None


def _ecdsa_ok(signature: bytes, pubkey: bytes, digest: bytes) -> bool:
    if signature[-1:] != b"\x01" or len(pubkey) != 33:
        return False
    try:
        parsed = ec.Signature.parse(signature[:-1])
        return parsed.serialize() == signature[:-1] and ec.PublicKey.parse(pubkey).verify(parsed, digest)
    except Exception:  # noqa: BLE001 - not DER or not a point
        return False


class Spend:
    """Input `index` of `tx`, and the scripts and amounts every input spends (BIP341 signs them all)."""

    def __init__(self, tx: Transaction, index: int, scripts: list[bytes], values: list[int]) -> None:
        self.tx, self.index, self.scripts, self.values = tx, index, scripts, values

    @property
    def stack(self) -> list[bytes]:
        return list(self.tx.vin[self.index].witness.items)

    def segwit_digest(self, script_code: bytes) -> bytes:
        return bytes(self.tx.sighash_segwit(self.index, Script(script_code), self.values[self.index], SIGHASH.ALL))


def _p2wpkh_ok(spend: Spend, program: bytes) -> bool:
    stack = spend.stack
    if len(stack) != 2 or hash160(stack[1]) != program:
        return False
    return _ecdsa_ok(stack[0], stack[1], spend.segwit_digest(b"\x76\xa9\x14" + program + b"\x88\xac"))


def _p2wsh_ok(spend: Spend, program: bytes) -> bool:
    stack = spend.stack
    if len(stack) < 3 or stack[0] != b"" or sha256(stack[-1]) != program:
        return False
    script = stack[-1]
    if script[-1:] != b"\xae" or not 0x51 <= script[0] <= 0x60:
        return False
    keys = [script[1 + 34 * index + 1 : 1 + 34 * index + 34] for index in range((len(script) - 3) // 34)]
    if len(script) != 3 + 34 * len(keys) or script[-2] != 0x50 + len(keys):
        return False
    if any(script[1 + 34 * index] != 33 for index in range(len(keys))):
        return False
    signatures = stack[1:-1]
    if len(signatures) != script[0] - 0x50:
        return False
    digest = spend.segwit_digest(script)
    remaining = list(keys)
    for signature in signatures:
        while remaining and not _ecdsa_ok(signature, remaining[0], digest):
            remaining.pop(0)
        if not remaining:
            return False
        remaining.pop(0)
    return True


def _p2tr_ok(spend: Spend, script_pubkey: bytes) -> bool:
    stack = spend.stack
    if len(stack) != 1 or len(stack[0]) not in (64, 65):
        return False
    signature = stack[0]
    if len(signature) == 65 and signature[-1] != SIGHASH.ALL:
        return False
    sighash = SIGHASH.DEFAULT if len(signature) == 64 else SIGHASH.ALL
    digest = spend.tx.sighash_taproot(spend.index, [Script(item) for item in spend.scripts], spend.values, sighash)
    try:
        return ec.PublicKey.from_xonly(script_pubkey[2:]).schnorr_verify(ec.SchnorrSig(signature[:64]), digest)
    except Exception:  # noqa: BLE001 - not a point
        return False


def bip322_valid(script: bytes, message: str, signature: str) -> bool:
    raw = base64.b64decode(signature, validate=True)
    expected = bip322_to_sign(script, message)
    full = _canonical_read(raw, Transaction) if raw[4:6] == b"\x00\x01" else None
    if full is not None:
        if len(full.vin) != 1 or (full.vin[0].txid, full.vin[0].vout) != (expected.vin[0].txid, 0):
            return False
        if len(full.vout) != 1 or full.vout[0].value != 0 or full.vout[0].script_pubkey.data != b"\x6a":
            return False
        tx = full
    else:
        witness = _canonical_read(raw, Witness)
        if witness is None or not witness.items or script[:1] == b"\xa9":
            return False
        expected.vin[0].witness = witness
        tx = expected
    return input_satisfies(Spend(tx, 0, [script], [0]), script)


def input_satisfies(spend: Spend, script: bytes) -> bool:
    """The input's scriptSig and witness satisfy `script` (the types a reserve uses)."""
    script_sig = spend.tx.vin[spend.index].script_sig.data
    if script[:2] == b"\xa9\x14":  # P2SH-P2WPKH
        redeem = script_sig[1:]
        if script_sig[:1] != b"\x16" or len(redeem) != 22 or redeem[:2] != b"\x00\x14":
            return False
        return hash160(redeem) == script[2:22] and _p2wpkh_ok(spend, redeem[2:])
    if script_sig:
        return False
    if script[:2] == b"\x00\x14":
        return _p2wpkh_ok(spend, script[2:])
    if script[:2] == b"\x00\x20":
        return _p2wsh_ok(spend, script[2:])
    if script[:2] == b"\x51\x20":
        return _p2tr_ok(spend, script)
    return False


def bip127_valid(psbt_text: str, message: str, outputs: dict[tuple[str, int], tuple[int, bytes]]) -> bool:
    """A BIP-127 proof PSBT: the commitment to `message` first, then exactly `outputs`, one output of
    their sum, every input satisfying the script it spends (the commitment counted as OP_TRUE, 0 sats)."""
    try:
        tx = finalize_psbt(PSBT.from_string(psbt_text), ignore_missing=True)
    except Exception:  # noqa: BLE001 - malformed
        return False
    commitment = hashlib.sha256(("Proof-of-Reserves: " + message).encode("utf-8")).digest()[::-1]
    if tx is None or not tx.vin or (tx.vin[0].txid, tx.vin[0].vout) != (commitment, 0):
        return False
    if tx.vin[0].witness.items or tx.vin[0].script_sig.data:
        return False
    spent = [(txin.txid.hex(), txin.vout) for txin in tx.vin[1:]]
    if sorted(spent) != sorted(outputs) or len(set(spent)) != len(spent):
        return False
    values = [0] + [outputs[key][0] for key in spent]
    scripts = [b"\x51"] + [outputs[key][1] for key in spent]
    if len(tx.vout) != 1 or tx.vout[0].value != sum(values):
        return False
    return all(input_satisfies(Spend(tx, index, scripts, values), scripts[index]) for index in range(1, len(tx.vin)))


def check_address_signature(row: dict[str, Any], script: bytes, message: str, statement: dict[str, Any]) -> None:
    try:
        if row["method"] == "bip127":
            # one PSBT proves every output of the addresses that carry it
            outputs = {
                (utxo["txid"], int(utxo["vout"])): (
                    int(utxo["value_sats"]),
                    address_to_scriptpubkey(other["address"]).data,
                )
                for other in statement["addresses"]
                if other["signature"] == row["signature"]
                for utxo in other["utxos"]
            }
            valid = bip127_valid(row["signature"], message, outputs)
        elif row["method"] == "signmessage":
            valid = script[:3] == b"\x76\xa9\x14" and signmessage_valid(script, message, row["signature"])
        else:
            valid = bip322_valid(script, message, row["signature"])
    except ValueError:
        valid = False
    if not valid:
        raise Refused(f"the {row['method']} signature of {row['address']} does not verify over the challenge")


# -- headers, merkle branches, transactions ------------------------------------------------


def header_hash(header: bytes) -> str:
    return double_sha256(header)[::-1].hex()


def target_from_bits(bits: int) -> int:
    exponent, mantissa = bits >> 24, bits & 0x007FFFFF
    if bits & 0x00800000:
        raise Refused(f"header bits {bits:#010x} encode a negative target")
    return mantissa >> (8 * (3 - exponent)) if exponent <= 3 else mantissa << (8 * (exponent - 3))


def check_headers(evidence: dict[str, Any], block: dict[str, Any], network: str) -> dict[int, bytes]:
    """height -> 80-byte header, each with valid proof of work, linked, ending at the stated block."""
    first = int(evidence["first_height"])
    headers = [bytes.fromhex(text) for text in evidence["headers"]]
    if first + len(headers) - 1 != block["height"]:
        raise Refused(f"the bundled headers end at {first + len(headers) - 1}, not at block {block['height']}")
    previous = None
    for offset, header in enumerate(headers):
        height = first + offset
        if len(header) != 80:
            raise Refused(f"the header at height {height} is not 80 bytes")
        target = target_from_bits(int.from_bytes(header[72:76], "little"))
        if not 0 < target <= POW_LIMITS[network]:
            raise Refused(f"the header at height {height} claims a target above the {network} limit")
        if int(header_hash(header), 16) > target:
            raise Refused(f"the header at height {height} fails its proof of work")
        if previous is not None and header[4:36][::-1].hex() != previous:
            raise Refused(f"the header at height {height} does not link to the one before")
        previous = header_hash(header)
    if previous != block["hash"]:
        raise Refused(f"the last bundled header is {previous}, not the stated block {block['hash']}")
    return {first + offset: header for offset, header in enumerate(headers)}


def merkle_matches(proof: bytes, header: bytes) -> list[str]:
    """Txids a serialized CMerkleBlock proves in `header` (Bitcoin Core's partial merkle tree)."""
    if proof[:80] != header:
        raise Refused("a merkle branch is for another block")
    stream = BytesIO(proof[80:])
    total = int.from_bytes(stream.read(4), "little")
    hashes = [stream.read(32) for _ in range(_read_varint(stream))]
    flags = stream.read(_read_varint(stream))
    if stream.read(1) or not 0 < total <= 4_000_000 // 240 or len(hashes) > total or any(len(h) != 32 for h in hashes):
        raise Refused("a merkle branch is malformed")
    height = 0
    while (total + (1 << height) - 1) >> height > 1:
        height += 1
    state = {"bits": 0, "hashes": 0}
    matched: list[bytes] = []

    def width(level: int) -> int:
        return (total + (1 << level) - 1) >> level

    def walk(level: int, position: int) -> bytes:
        if state["bits"] >= 8 * len(flags):
            raise Refused("a merkle branch runs out of flag bits")
        flag = (flags[state["bits"] >> 3] >> (state["bits"] & 7)) & 1
        state["bits"] += 1
        if level == 0 or not flag:
            if state["hashes"] >= len(hashes):
                raise Refused("a merkle branch runs out of hashes")
            node = hashes[state["hashes"]]
            state["hashes"] += 1
            if level == 0 and flag:
                matched.append(node)
            return node
        left = walk(level - 1, position * 2)
        right = walk(level - 1, position * 2 + 1) if position * 2 + 1 < width(level - 1) else left
        if right == left and position * 2 + 1 < width(level - 1):
            raise Refused("a merkle branch pairs two equal hashes (CVE-2012-2459)")
        return double_sha256(left + right)

    root = walk(height, 0)
    if root != header[36:68] or state["hashes"] != len(hashes) or (state["bits"] + 7) // 8 != len(flags):
        raise Refused("a merkle branch does not hash to its header's merkle root")
    return [node[::-1].hex() for node in matched]


def _read_varint(stream: BytesIO) -> int:
    prefix = stream.read(1)
    if not prefix:
        raise Refused("a merkle branch is truncated")
    if prefix[0] < 0xFD:
        return prefix[0]
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[prefix[0]]
    return int.from_bytes(stream.read(width), "little")


def check_output(utxo: dict[str, Any], script: bytes, evidence: dict[str, Any], headers: dict[int, bytes]) -> None:
    txid, vout = utxo["txid"], int(utxo["vout"])
    bundled = evidence["transactions"].get(txid)
    if bundled is None:
        raise Refused(f"no transaction or merkle branch is bundled for output {txid}:{vout}")
    transaction = _canonical_read(bytes.fromhex(bundled["raw"]), Transaction)
    if transaction is None or transaction.txid().hex() != txid:
        raise Refused(f"the bundled transaction does not hash to {txid}")
    if vout >= len(transaction.vout):
        raise Refused(f"transaction {txid} has no output {vout}")
    output = transaction.vout[vout]
    if output.script_pubkey.data != script or output.value != int(utxo["value_sats"]):
        raise Refused(f"output {txid}:{vout} does not pay {utxo['value_sats']} sats to its address")
    header = headers.get(int(utxo["block_height"]))
    if header is None:
        raise Refused(f"output {txid}:{vout} is at a height outside the bundled headers")
    if txid not in merkle_matches(bytes.fromhex(bundled["merkle_proof"]), header):
        raise Refused(f"transaction {txid} is not in the block at height {utxo['block_height']}")


# -- the whole statement -------------------------------------------------------------------


def check_totals(statement: dict[str, Any]) -> None:
    proven: dict[str, int] = {}
    for row in statement["addresses"]:
        held = sum(int(utxo["value_sats"]) for utxo in row["utxos"])
        if held != int(row["balance_sats"]):
            raise Refused(f"{row['address']} states {row['balance_sats']} sats; its outputs sum to {held}")
        proven[row["wallet"]] = proven.get(row["wallet"], 0) + held
    for wallet in statement["wallets"]:
        if int(wallet["proven_sats"]) != proven.get(wallet["wallet"], 0):
            raise Refused(f"wallet {wallet['wallet']} states {wallet['proven_sats']} proven sats, not its addresses'")
        if bool(wallet["covered"]) != (int(wallet["proven_sats"]) >= int(wallet["booked_sats"])):
            raise Refused(f"wallet {wallet['wallet']} is marked covered wrongly")
    totals = statement["totals"]
    if int(totals["proven_sats"]) != sum(proven.values()):
        raise Refused(f"the proven total {totals['proven_sats']} is not the sum of the addresses")
    booked = sum(int(wallet["booked_sats"]) for wallet in statement["wallets"] if wallet["in_perimeter"])
    if int(totals["perimeter_booked_sats"]) != booked:
        raise Refused("the perimeter's booked total is not the sum of its wallets")
    covered = all(wallet["covered"] for wallet in statement["wallets"] if wallet["in_perimeter"])
    if bool(statement["covers_perimeter"]) != covered:
        raise Refused("the statement's covers_perimeter does not follow from its wallets")


def verify(document: dict[str, Any], pinned_key: bytes) -> str:
    """A one-line summary when the statement holds; raises Refused otherwise."""
    statement = document["statement"]
    if statement.get("format") != FORMAT:
        raise Refused(f"not a {FORMAT} statement")
    check_service_signature(statement, document["signature"], pinned_key)
    block, network = statement["block"], statement["network"]
    message = statement["challenge"]["message"]
    lines = message.split("\n")
    if f"block: {block['height']} {block['hash']}" not in lines:
        raise Refused("the challenge message does not name the stated block")
    if "evidence" not in document:
        why = (statement.get("evidence") or {}).get("reason", "")
        raise Refused(
            "the file bundles no headers and merkle branches (give --rpc to fetch them from a node)"
            + (f"; the statement says: {why}" if why else "")
        )
    headers = check_headers(document["evidence"], block, network)
    for row in statement["addresses"]:
        if row["address"] not in lines:
            raise Refused(f"{row['address']} is not among the challenge's addresses")
        script = address_to_scriptpubkey(row["address"]).data
        check_address_signature(row, script, message, statement)
        for utxo in row["utxos"]:
            check_output(utxo, script, document["evidence"], headers)
    check_totals(statement)
    outputs = sum(len(row["utxos"]) for row in statement["addresses"])
    return (
        f"OK: {statement['totals']['proven_sats']} sats in {outputs} outputs of {len(statement['addresses'])} "
        f"addresses proven at block {block['height']} {block['hash']}"
    )


def rpc_caller(url: str) -> Any:
    """A JSON-RPC call function for a node (Bitcoin Core or bcoin) at `url`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused("--rpc must be an http:// or https:// URL")
    endpoint = urllib.parse.urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port}", parts.path or "/", "", ""))
    credentials = base64.b64encode(f"{parts.username or ''}:{parts.password or ''}".encode()).decode()

    def call(method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "1.0", "id": "verify", "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
        if parts.username:
            request.add_header("Authorization", f"Basic {credentials}")
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http(s) checked above
            answer = json.load(response)
        if answer.get("error"):
            raise Refused(f"the node refused {method}: {answer['error']}")
        return answer["result"]

    return call


def rpc_evidence(call: Any, statement: dict[str, Any]) -> dict[str, Any]:
    """The evidence from a node, when the file bundles none; it is checked exactly as bundled
    evidence is, so the node is trusted for nothing."""
    utxos = [utxo for row in statement["addresses"] for utxo in row["utxos"]]
    top = int(statement["block"]["height"])
    first = min((int(utxo["block_height"]) for utxo in utxos), default=top)
    hashes = {height: call("getblockhash", height) for height in range(first, top + 1)}
    transactions: dict[str, dict[str, str]] = {}
    for utxo in utxos:
        txid, block_hash = utxo["txid"], hashes.get(int(utxo["block_height"]))
        if txid in transactions or block_hash is None:
            continue
        stream = BytesIO(bytes.fromhex(call("getblock", block_hash, 0)))
        stream.seek(80)
        for _ in range(_read_varint(stream)):
            transaction = Transaction.read_from(stream)
            if transaction.txid().hex() == txid:
                transactions[txid] = {
                    "raw": transaction.serialize().hex(),
                    "merkle_proof": call("gettxoutproof", [txid], block_hash),
                }
                break
    return {
        "first_height": first,
        "headers": [call("getblockheader", hashes[height], False) for height in range(first, top + 1)],
        "transactions": transactions,
    }


ATTESTATION_FORMAT = "reserve-ledger/period-attestation/1"


def _descriptor_scripts(wallets: list[dict[str, Any]]) -> set[bytes]:
    scripts = set()
    for wallet in wallets:
        for descriptor in wallet["descriptors"]:
            if descriptor.startswith("addr(") and descriptor.endswith(")"):
                scripts.add(bytes(address_to_scriptpubkey(descriptor[5:-1]).data))
    return scripts


def _rescan(
    call: Any, scripts: set[bytes], first: int, last: int
) -> tuple[dict[int, int], dict[int, dict[str, int]], set[str]]:
    """(holdings after each block, the perimeter's moves per block by txid, txids wholly inside)."""
    tracked: dict[tuple[str, int], int] = {}
    holdings, after, moves_by_height, inside = 0, {}, {}, set()
    for height in range(first, last + 1):
        stream = BytesIO(bytes.fromhex(call("getblock", call("getblockhash", height), 0)))
        stream.seek(80)
        moves: dict[str, int] = {}
        for _ in range(_read_varint(stream)):
            tx = Transaction.read_from(stream)
            txid = tx.txid().hex()
            outpoints = [(txin.txid.hex(), txin.vout) for txin in tx.vin]
            spent = [tracked.pop(outpoint) for outpoint in outpoints if outpoint in tracked]
            paid = [(vout, out.value) for vout, out in enumerate(tx.vout) if bytes(out.script_pubkey.data) in scripts]
            for vout, value in paid:
                tracked[(txid, vout)] = value
            if spent or paid:
                moves[txid] = sum(value for _, value in paid) - sum(spent)
                if len(spent) == len(tx.vin) and len(paid) == len(tx.vout):
                    inside.add(txid)
        holdings += sum(moves.values())
        after[height] = holdings
        if moves:
            moves_by_height[height] = moves
    return after, moves_by_height, inside


def verify_attestation(document: dict[str, Any], pinned_key: bytes, call: Any) -> str:
    """Rescan from the wallets' birthday to the period's end with the published descriptors and
    reproduce every holdings figure, every change and every consolidation (all inputs and outputs
    inside the perimeter); the classification of inflows is the service's signed word."""
    statement = document["statement"]
    check_service_signature(statement, document["signature"], pinned_key)
    low, high = int(statement["period"]["from_height"]), int(statement["period"]["to_height"])
    first = min(int(wallet["birthday_height"]) for wallet in statement["wallets"])
    after, moves, inside = _rescan(call, _descriptor_scripts(statement["wallets"]), first, high)
    start = after.get(low - 1, 0)
    if start != statement["start_holdings_sats"]:
        raise Refused(
            f"the rescan holds {start} sats before the period; the attestation says {statement['start_holdings_sats']}"
        )
    ours = [(height, after[height], moves[height]) for height in sorted(moves) if height >= low]
    theirs = [
        (
            change["height"],
            change["holdings_sats"],
            {move["txid"]: move["delta_sats"] for move in change["transactions"]},
        )
        for change in statement["changes"]
    ]
    for mine, stated in zip(ours, theirs, strict=False):
        if mine != stated:
            raise Refused(
                f"at block {mine[0]} the rescan finds {mine[1]} sats and moves {mine[2]}; the attestation {stated}"
            )
    if len(ours) != len(theirs):
        raise Refused(f"the rescan finds {len(ours)} blocks where the holdings changed; the attestation {len(theirs)}")
    for change in statement["changes"]:
        for move in change["transactions"]:
            if (move["class"] == "consolidation") != (move["txid"] in inside):
                raise Refused(f"transaction {move['txid']} is classed {move['class']!r} against what the chain shows")
    end = after[high]
    if end != statement["end_holdings_sats"]:
        raise Refused(f"the rescan ends with {end} sats; the attestation says {statement['end_holdings_sats']}")
    exempt = sum(
        move["delta_sats"] for change in statement["changes"] for move in change["transactions"]
        if move["class"] in ("forfeiture", "involuntary inflow")
    )  # fmt: skip
    net = end - start - exempt
    verdict = "no net accumulation" if net <= 0 else "net accumulation"
    if net != statement["net_accumulation_sats"] or verdict != statement["verdict"]:
        raise Refused("the verdict does not follow from the figures")
    return (
        f"OK: {len(ours)} changing blocks reproduced; {verdict} ({net} sats); inflow classes rest on the service's word"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("statement", help="the statement file (JSON)")
    parser.add_argument("--key", required=True, help="the service's Ed25519 public key, 64 hex digits")
    parser.add_argument("--rpc", help="a node's JSON-RPC URL, to fetch the evidence when the file bundles none")
    options = parser.parse_args(argv)
    try:
        with open(options.statement, encoding="utf-8") as handle:
            document = json.load(handle)
        if document["statement"].get("format") == ATTESTATION_FORMAT:
            if not options.rpc:
                raise Refused("an attestation is checked by rescanning the period: give --rpc")
            print(verify_attestation(document, bytes.fromhex(options.key), rpc_caller(options.rpc)))
        else:
            if options.rpc and "evidence" not in document:
                document["evidence"] = rpc_evidence(rpc_caller(options.rpc), document["statement"])
            print(verify(document, bytes.fromhex(options.key)))
    except Refused as refused:
        print(f"REFUSED: {refused}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
        print(f"REFUSED: unreadable statement ({type(error).__name__}: {error})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
