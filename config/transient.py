"""Retry a unit of work that PostgreSQL refused for now: a deadlock (40P01) or a serialization
failure (40001). Both roll the whole transaction back, so running it again is safe, and only
the outermost caller may do it (inside an outer transaction the work is not whole)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
ATTEMPTS = 4
BASE_DELAY_SECONDS = 0.05

T = TypeVar("T")


def transient(error: BaseException) -> bool:
    """Is this a refusal that a retry of the whole transaction can get past?"""
    cause = error.__cause__ if isinstance(error, OperationalError) else error
    return getattr(cause, "sqlstate", None) in TRANSIENT_SQLSTATES


def outermost() -> bool:
    """No transaction of the application's is open (a test case's own wrapping does not count):
    what runs now either commits on its own or is the whole of its transaction."""
    return all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def retry_transient(work: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Run `work` (which opens its own transaction), again after a short jittered backoff when
    PostgreSQL refused it as a deadlock or serialization failure; the last refusal propagates
    (and the API answers it as a 503 with Retry-After)."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as error:
            if not transient(error) or attempt == attempts or not outermost():
                raise
            delay = BASE_DELAY_SECONDS * 2 ** (attempt - 1) * (1 + random.random())  # noqa: S311 - jitter
            logger.warning("transient database refusal (%s), attempt %s of %s; retrying", error, attempt, attempts)
            time.sleep(delay)
    raise AssertionError("unreachable")
