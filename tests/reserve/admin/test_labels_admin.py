"""The wallet page imports a BIP-329 file through the same service as the API; a refused file
stores nothing and says why; only operators see and use the form (anyone else is a 403)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from reserve.custody.models import Wallet, WalletLabel
from tests.reserve.admin.conftest import FIRST_RECEIVE

pytestmark = pytest.mark.django_db


def _upload(client: Any, wallet: Wallet, *records: dict[str, Any]) -> str:
    """The message the redirect will show (the last one; earlier ones stay unread here)."""
    text = "\n".join(json.dumps(record) for record in records).encode()
    response = client.post(
        f"/admin/reserve/wallet/{wallet.pk}/labels/", {"labels": SimpleUploadedFile("labels.jsonl", text)}
    )
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)][-1]


def test_an_operator_imports_labels_from_the_wallet_page(
    operator: Any, auditor: Any, wallet: Wallet, signed_in: Any
) -> None:
    client = signed_in(operator)
    assert 'id="wallet-labels"' in client.get(f"/admin/reserve/wallet/{wallet.pk}/change/").content.decode()
    record = {"type": "addr", "ref": FIRST_RECEIVE, "label": "Donations"}

    refused = _upload(client, wallet, record, {"type": "addr", "ref": FIRST_RECEIVE, "label": ""})
    assert refused == "No label imported: line 2, label: must be a non-empty string"
    assert not WalletLabel.objects.exists()

    assert _upload(client, wallet, record) == "1 label records read, 1 changed."
    assert _upload(client, wallet, record) == "1 label records read, 0 changed."
    assert WalletLabel.objects.get().label == "Donations"

    reader = signed_in(auditor)
    assert 'id="wallet-labels"' not in reader.get(f"/admin/reserve/wallet/{wallet.pk}/change/").content.decode()
    upload = SimpleUploadedFile("labels.jsonl", json.dumps(record | {"label": "Auditor's"}).encode())
    assert reader.post(f"/admin/reserve/wallet/{wallet.pk}/labels/", {"labels": upload}).status_code == 403
    assert WalletLabel.objects.get().label == "Donations"
