"""BIP-329 label import: a JSON Lines file of labels for one wallet's own keys, addresses,
transactions and outputs. Every line is checked before anything is stored (a bad line is refused
naming its line and field, nothing imported); a record may only label what the wallet's own export
lists (`labels.py`), so a file cannot label another wallet's coins. A label equal to what the export
already says is no change: importing the export, or the same file twice, changes nothing. Each
change is audited."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from config.errors import PermissionDenied, ValidationFailed
from ledger.secrets import PRIVATE_KEY_EXPLANATION, private_key_in
from reserve.audit.services import audit_record
from reserve.common.csv_rows import line_error
from reserve.custody.models import LabelType, Wallet, WalletLabel
from reserve.reports.labels import labels_export

IMPORT_PERMISSION = "reserve.import_labels"
MAX_LABEL_LENGTH = 255  # BIP-329: importers may truncate at 255 characters; we refuse instead
MAX_LINES = 100_000
# The record keys BIP-329 defines; the other types' keys (input, pubkey) are refused with the type.
OPTIONAL_KEYS = frozenset(
    {"origin", "spendable", "height", "time", "fee", "value", "rate", "heights", "keypath", "fmv"}
)


@dataclass(frozen=True)
class LabelsImported:
    records: int
    changed: int


def labels_import(*, wallet: Wallet, text: str, actor: Any) -> LabelsImported:
    """Apply the file's labels to `wallet`; all or nothing."""
    if not actor.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied("importing labels needs the operator role")
    records = _records(text)
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().get(pk=wallet.pk)
        current = {(row["type"], row["ref"]): row["label"] for row in labels_export(wallets=_one(locked))}
        for line, record in records:
            if (record["type"], record["ref"]) not in current:
                raise line_error(line=line, field="ref", message=f"is not a {record['type']} of wallet {locked.name!r}")
        # BIP-329: a later line for the same record overrides an earlier one.
        final = {(record["type"], record["ref"]): record["label"] for _line, record in records}
        changed = 0
        for key, label in final.items():
            if current[key] == label:
                continue
            existing = WalletLabel.objects.filter(wallet=locked, type=key[0], ref=key[1]).first()
            before = None if existing is None else {"label": existing.label}
            if existing is None:
                existing = WalletLabel(wallet=locked, type=key[0], ref=key[1])
            existing.label = label
            existing.updated_by = actor
            existing.save()
            audit_record(
                actor=actor,
                action="label.import",
                instance=existing,
                before=before,
                after={"wallet": locked.pk, "type": key[0], "ref": key[1], "label": label},
            )
            changed += 1
    return LabelsImported(records=len(records), changed=changed)


def _one(wallet: Wallet) -> Any:
    return Wallet.objects.filter(pk=wallet.pk)


def _records(text: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line, each checked; the first bad line refuses the file."""
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise line_error(line=MAX_LINES + 1, field="line", message=f"a file holds at most {MAX_LINES} lines")
    records: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            raise line_error(line=number, field="line", message=f"is not JSON ({error.msg})") from None
        except ValueError:
            raise line_error(line=number, field="line", message="is not JSON") from None
        if not isinstance(record, dict):
            raise line_error(line=number, field="line", message="is not a JSON object")
        records.append((number, _checked(record, line=number)))
    if not records:
        raise ValidationFailed.for_field("jsonl", "holds no label record")
    return records


def _checked(record: dict[str, Any], *, line: int) -> dict[str, Any]:
    kind = record.get("type")
    if kind not in LabelType.values:
        raise line_error(line=line, field="type", message=f"must be one of {', '.join(LabelType.values)}")
    for name in ("ref", "label"):
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise line_error(line=line, field=name, message="must be a non-empty string")
        if "\x00" in value:
            raise line_error(line=line, field=name, message="must not contain NUL")
        found = private_key_in(value, hex32=False)
        if found:
            raise line_error(line=line, field=name, message=f"{found}: {PRIVATE_KEY_EXPLANATION}")
    if len(record["label"]) > MAX_LABEL_LENGTH:
        raise line_error(line=line, field="label", message=f"is longer than {MAX_LABEL_LENGTH} characters")
    unknown = sorted(set(record) - {"type", "ref", "label"} - OPTIONAL_KEYS)
    if unknown:
        raise line_error(line=line, field=unknown[0], message="is not a BIP-329 key")
    if "spendable" in record and not isinstance(record["spendable"], bool):
        raise line_error(line=line, field="spendable", message="must be true or false")
    return {"type": kind, "ref": record["ref"], "label": record["label"]}
