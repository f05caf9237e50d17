"""Building and verifying PSBTs: time per PSBT with 1, 10 and 100 inputs per wallet type.

Usage: .venv/bin/python bench/psbt.py [--rounds N] [--inputs 1,10,100] [--smoke]

Per wallet type (wpkh, 2-of-3 wsh(sortedmulti), tr key path) and input count:
- build: `psbt_assemble` with every signer field (previous transactions, derivations, scripts)
  and its serialization (what the service stores), from coins already selected;
- verify: `psbt_signatures` of a PSBT signed to the threshold against the built one (every
  field compared, every signature checked against its own sighash), then combine and finalize;
- floor: libsecp256k1 (embit) verifying the same signatures over precomputed sighashes, the
  part no verifier can skip; verify / floor says what the comparisons and sighashes cost.
No database and no node: selection and storage are measured by the tests' timings, not here.

--smoke: 1 and 10 inputs, one round (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from embit import ec  # noqa: E402
from embit.descriptor import Descriptor  # noqa: E402
from embit.psbt import PSBT  # noqa: E402
from embit.script import Script  # noqa: E402
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput  # noqa: E402

from reserve.transfers.psbt_build import ChangeOutput, SpendableCoin, psbt_assemble  # noqa: E402
from reserve.transfers.psbt_verify import (  # noqa: E402
    PSBT_IN_TAP_KEY_SIG,
    psbt_combine,
    psbt_finalize,
    psbt_signatures,
)
from tests.reserve.transfers.signing_keys import (  # noqa: E402
    COSIGNERS,
    multisig_descriptor,
    tr_descriptor,
    wpkh_descriptor,
)

WALLETS = {
    "wpkh": (wpkh_descriptor(), "wpkh", 1),
    "wsh 2-of-3": (multisig_descriptor(), "wsh-sortedmulti", 2),
    "tr": (tr_descriptor(), "tr", 1),
}
DESTINATION = bytes.fromhex("0014" + "11" * 20)


def coins(descriptor: Descriptor, kind: str, count: int) -> list[SpendableCoin]:
    found = []
    for index in range(count):
        child = descriptor.derive(index, branch_index=0)
        script = child.script_pubkey().data
        prev = Transaction(
            vin=[TransactionInput(index.to_bytes(4, "little") * 8, 0)],
            vout=[TransactionOutput(100_000, Script(script))],
        )
        found.append(
            SpendableCoin(
                txid=prev.txid().hex(),
                vout=0,
                value_sats=100_000,
                script_pubkey=script,
                kind=kind,
                child=child,
                prev_tx=prev,
            )
        )
    return found


def timed(work: Callable[[], object], rounds: int) -> float:
    """Median seconds of `work` over `rounds` runs."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(name: str, count: int, rounds: int) -> tuple[float, float, float]:
    text, kind, threshold = WALLETS[name]
    descriptor = Descriptor.from_string(text)
    spent = coins(descriptor, kind, count)
    change_child = descriptor.derive(0, branch_index=1)
    change = ChangeOutput(change_child.script_pubkey().data, 100_000 * count - 60_000 - 5_000, change_child, kind)

    def build() -> bytes:
        psbt = psbt_assemble(coins=spent, destination_script=DESTINATION, amount_sats=60_000, change=change, locktime=1)
        return bytes(psbt.serialize())

    built = build()
    built_tx = bytes(PSBT.parse(built).tx.serialize())
    signed = built
    for cosigner in COSIGNERS[:threshold]:
        signed = cosigner.sign(signed, sighash=SIGHASH.DEFAULT if kind == "tr" else SIGHASH.ALL)

    def verify() -> None:
        found = psbt_signatures(raw=signed, built_raw=built, built_tx=built_tx)
        psbt_finalize(combined_raw=psbt_combine(combined_raw=built, signatures=found), threshold=threshold)

    # The floor: the same signatures verified over sighashes computed beforehand.
    parsed, checks = PSBT.parse(signed), []

    def tap_digest(index: int) -> bytes:
        return bytes(parsed.sighash(index, sighash=SIGHASH.DEFAULT))

    for index, scope in enumerate(parsed.inputs):
        if kind == "tr":
            key = ec.PublicKey.from_xonly(scope.witness_utxo.script_pubkey.data[2:34])
            checks.append((key, ec.SchnorrSig(scope.unknown[PSBT_IN_TAP_KEY_SIG][:64]), tap_digest(index), True))
        else:
            digest = parsed.sighash(index, sighash=SIGHASH.ALL)
            for pub, signature in scope.partial_sigs.items():
                checks.append((pub, ec.Signature.parse(signature[:-1]), digest, False))

    def floor() -> None:
        for key, signature, digest, schnorr in checks:
            assert key.schnorr_verify(signature, digest) if schnorr else key.verify(signature, digest)

    verify()  # once, so a broken verifier fails here rather than being timed
    return timed(build, rounds), timed(verify, rounds), timed(floor, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inputs", default="1,10,100")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    counts = [1, 10] if args.smoke else [int(n) for n in args.inputs.split(",")]
    rounds = 1 if args.smoke else args.rounds
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"embit {metadata.version('embit')}; median of {rounds} rounds; times in ms per PSBT")
    print(f"{'wallet':<12}{'inputs':>7}{'build':>10}{'verify':>10}{'floor':>10}{'verify/floor':>14}")
    for name in WALLETS:
        for count in counts:
            build, verify, floor = measure(name, count, rounds)
            print(
                f"{name:<12}{count:>7}{build * 1000:>10.2f}{verify * 1000:>10.2f}{floor * 1000:>10.2f}"
                f"{verify / floor:>13.1f}x"
            )


if __name__ == "__main__":
    main()
