"""No stored text holds a private key: the one guard every ORM write of a ledger, policy or reserve
model passes (a `pre_save` receiver, connected in reserve/apps.py), also called by the services
that validate before they save (a transfer draft, so the preview refuses too).

Every CharField, TextField and JSONField of those apps is guarded unless listed below. Free text
(memos, names, references, comments, reasons, labels) is checked in full by
`ledger.secrets.private_key_in`, where a bare 32-byte hex value is accepted only if it is a txid
or block hash the books know (or the record's own). Structured text that carries hashes or
x-only public keys in hex (descriptors, keys, JSON, text the service writes from chain data) is
checked for WIF and extended private keys only. The rest is not text a person types: hashes and
txids (validated hex), addresses (validated, refusing keys, by reserve/custody/addresses.py), and
copies. tests/reserve/common/test_free_text.py walks every field of every model and proves that a
WIF in each guarded one is refused, so a new field is guarded unless someone lists it here.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q

from config.errors import ValidationFailed
from ledger.secrets import PRIVATE_KEY_EXPLANATION, private_key_in, private_key_in_json
from ledger.selectors import journal_chain_hash_known

GUARDED_APPS = ("ledger", "policy", "reserve")

# Not text a person types, each with the reason it needs no guard. Reviewed: add with care.
NOT_FREE_TEXT: dict[str, str] = {
    "ledger.journaltransaction.request_hash": "SHA-256 hex computed by the ledger",
    "ledger.journaltransaction.block_hash": "validated block hash (64 hex)",
    "ledger.journaltransaction.txid": "validated txid (64 hex)",
    "ledger.journaltransaction.prev_hash": "hash chain link computed by the ledger",
    "ledger.journaltransaction.hash": "hash chain link computed by the ledger",
    "ledger.pendingtransaction.request_hash": "SHA-256 hex computed by the ledger",
    "ledger.logleaf.leaf_hash": "RFC 9162 leaf hash computed by the sealer, checked by its trigger",
    "ledger.lognode.hash": "RFC 9162 node hash computed by the sealer, checked by its trigger",
    "ledger.signedtreehead.root_hash": "RFC 9162 root computed by the sealer",
    "ledger.signedtreehead.key_id": "SHA-256 of the service's public key",
    "ledger.signedtreehead.signature": "Ed25519 signature made by the sealer",
    "reserve.reserveproofchallenge.nonce": "random nonce the service generates (32 bytes hex)",
    "reserve.reserveproof.block_hash": "block hash the service records",
    "reserve.reserveproof.statement_signature": "Ed25519 signature the service makes (64 bytes hex)",
    "reserve.reserveproofchallenge.block_hash": "hash of a verified block the service names",
    "reserve.scancursor.block_hash": "block hash from the node",
    "reserve.chainblock.hash": "block hash from the node, verified",
    "reserve.chainblock.prev_hash": "block hash from the node, verified",
    "reserve.chainblock.merkle_root": "merkle root from the node, verified",
    "reserve.walletutxo.txid": "txid from a scanned block",
    "reserve.walletutxo.spent_by_txid": "txid from a scanned block",
    "reserve.reconciliationrun.block_hash": "block hash from the node",
    "reserve.discrepancy.txid": "txid from a scanned block",
    "reserve.auditevent.actor_label": "a copy of the username at the time",
    "reserve.apiidempotencykey.request_hash": "SHA-256 hex computed by the API",
    "reserve.watchedscript.address": "derived from a descriptor or validated by parse_address (refuses keys)",
    "reserve.transfer.external_address": "validated by parse_address (refuses keys)",
    "reserve.transfer.txid": "validated txid (64 hex)",
    "reserve.transfer.block_hash": "validated block hash (64 hex)",
    "reserve.transfer.request_hash": "SHA-256 hex computed by the service",
    "reserve.importbatch.file_sha256": "SHA-256 hex of the uploaded file, computed by the service",
    "reserve.importbatch.content_hash": "SHA-256 hex of the stored rows, computed by the service",
    "reserve.importapproval.file_sha256": "the batch's SHA-256 the approver saw (checked against the batch)",
    "reserve.enrolmentcode.code_hash": "SHA-256 hex of a one-time code, computed by the service",
    "reserve.enrolmentcode.issued_by_label": "a copy of the username at the time",
    "reserve.builtpsbt.txid": "txid of the transaction the service built",
}

# Structured text: WIF and extended private keys refused, hex allowed (hashes, x-only keys).
STRUCTURED: dict[str, str] = {
    "ledger.journaltransaction.idempotency_key": "a key; clients may use hashes as keys",
    "ledger.pendingtransaction.idempotency_key": "a key; clients may use hashes as keys",
    "reserve.apiidempotencykey.key": "a client's key; clients may use hashes as keys",
    "reserve.walletlabel.ref": "the wallet's own address, txid, outpoint or xpub, matched by the label import",
    "reserve.transfer.idempotency_key": "a key; clients may use hashes as keys",
    "reserve.reserveproofchallenge.message": "written by the service; quotes its 32-byte hex nonce",
    "reserve.walletdescriptor.descriptor": "an output descriptor: tr() takes x-only public keys in hex",
    "reserve.auditevent.request_id": "a request id a client may send as 64 hex",
    "reserve.chainblock.rejection_reason": "written by the verifier; quotes hashes",
    "reserve.reconciliationrun.error": "written from an exception; may quote hashes",
    "reserve.outboxmessage.last_error": "written from an exception; may quote hashes",
    "reserve.discrepancy.detail": "written by reconciliation; quotes txids and amounts",
    "policy.policybreach.reason": "written by the policy engine from its rule lines",
    "reserve.importbatch.refused_reason": "written by the service from a refusal; quotes txids",
    "reserve.signatureupload.reason": "written by the PSBT verifier; quotes txids and public keys",
}


def _label(model: type[models.Model], field: models.Field[Any, Any]) -> str:
    return f"{model._meta.label_lower}.{field.name}"


def text_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The model's CharFields, TextFields and JSONFields."""
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
    ]


def guarded_models() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if model._meta.app_label in GUARDED_APPS]


def known_chain_hash(value: str) -> bool:
    """Is `value` (64 lowercase hex) a txid or block hash the books know?"""
    from reserve.reconciliation.models import ChainBlock, WalletUtxo
    from reserve.transfers.models import Transfer

    return (
        journal_chain_hash_known(value)
        or Transfer.objects.filter(Q(txid=value) | Q(block_hash=value)).exists()
        or ChainBlock.objects.filter(hash=value).exists()
        or WalletUtxo.objects.filter(Q(txid=value) | Q(spent_by_txid=value)).exists()
    )


def _own_hashes(instance: models.Model) -> set[str]:
    names = ("txid", "block_hash", "hash", "spent_by_txid")
    return {str(value).lower() for name in names if (value := getattr(instance, name, None))}


def free_text_check(instance: models.Model) -> None:
    """ValidationFailed naming the first field of `instance` that holds private key material."""
    model = type(instance)
    own: set[str] | None = None

    def hex_allowed(value: str) -> bool:
        nonlocal own
        if own is None:
            own = _own_hashes(instance)
        return value in own or known_chain_hash(value)

    for field in text_fields(model):
        label = _label(model, field)
        if label in NOT_FREE_TEXT:
            continue
        value = getattr(instance, field.attname, None)
        if value is None or value == "":
            continue
        if isinstance(field, models.JSONField):
            found = private_key_in_json(value)
        elif label in STRUCTURED:
            found = private_key_in(str(value), hex32=False)
        else:
            found = private_key_in(str(value), hex_allowed=hex_allowed)
        if found:
            raise ValidationFailed.for_field(field.name, f"{found}: {PRIVATE_KEY_EXPLANATION}")


def free_text_guard(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """The pre_save receiver: every save of a guarded model is checked, whoever saves it."""
    if sender._meta.app_label in GUARDED_APPS:
        free_text_check(instance)
