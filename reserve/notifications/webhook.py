"""The approvers' webhook, signed with HMAC-SHA256 so a receiver can tell the service's body from
a crafted or replayed one (docs/SECURITY.md, "Approver notifications").

The request is a POST of a JSON body with two headers:
- `X-Reserve-Timestamp`: the Unix time of the send, in seconds (each retry signs anew);
- `X-Reserve-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the shared secret
  (`APPROVER_WEBHOOK_SECRET`), of the timestamp, a full stop and the body's bytes.
A receiver recomputes it over the bytes it received, compares in constant time, and refuses a
timestamp more than TOLERANCE_SECONDS from its own clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings

SIGNATURE_HEADER = "X-Reserve-Signature"
TIMESTAMP_HEADER = "X-Reserve-Timestamp"
TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 10


class WebhookFailed(Exception):
    """The receiver did not answer 2xx (the task retries)."""


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_signature_valid(
    *, secret: str, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> bool:
    """What a receiver checks: a decimal timestamp within the tolerance, and the signature of
    exactly these bytes (a missing header, an altered body or an old timestamp is refused)."""
    if not secret or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(webhook_signature(secret=secret, timestamp=int(timestamp), body=body), signature)


def webhook_post(payload: dict[str, Any]) -> int:
    """POST `payload` to APPROVER_WEBHOOK_URL, signed now; the receiver's status, or WebhookFailed."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
        settings.APPROVER_WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: webhook_signature(
                secret=settings.APPROVER_WEBHOOK_SECRET, timestamp=timestamp, body=body
            ),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        raise WebhookFailed(f"the webhook answered {error.code}") from error
    except OSError as error:
        raise WebhookFailed(f"the webhook could not be reached: {error}") from error
