"""The facts the policy engine reads, as a Protocol that `reserve` implements.

`policy` never imports `reserve`: evaluation asks these questions and nothing else.
Amounts are booked (posted ledger) satoshis unless a method says otherwise; "crossing the
scope" means the source is outside and the destination inside (inbound), the reverse
(outbound), or both inside (internal).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from policy.types import FiatAmount, FiledReport, LotShare, PolicyScope


class PolicyFacts(Protocol):
    def holdings_sats(self, *, scope: PolicyScope, at: datetime | None = None, height: int | None = None) -> int:
        """Booked holdings of the scope as of `at` (inclusive), else block `height`; both None = now.
        A posting later reversed (its block was reorged away) counts as of a time until the
        reversal, and never as of a height: the reversal keeps the height it reverses."""
        ...

    def flow_sats(
        self,
        *,
        scope: PolicyScope,
        direction: str,
        since: datetime,
        until: datetime,
        categories: Collection[str] | None = None,
        include_pending: bool = True,
        excluding_subject: tuple[str, str] | None = None,
    ) -> int:
        """Sum of transfer amounts crossing the scope in `direction`: posted ones whose time
        (the later of when they moved and when they were approved) is in [since, until), plus,
        when `include_pending`, approved-but-unposted (pending) ones approved before `until`
        however long ago: they have yet to move.
        `categories` None means all. Otherwise a transfer counts by its own category, except
        inbound (entering the scope), where it counts by provenance: the sats of its amount
        acquired as one of `categories`, which for a transfer from one of our wallets are the
        parts of its amount each lot it moves covers, as that lot was acquired (posted: the lots
        its posting took; pending: those it would take now, as `lots_moved`), then the part no
        lot covers, as tagged. `excluding_subject` (subject_type, subject_id) is the
        change being judged, left out so a pending transfer is not counted twice."""
        ...

    def exempt_inflows_sats(
        self,
        *,
        scope: PolicyScope,
        since: datetime | None,
        since_height: int | None,
        until: datetime,
        categories: Collection[str],
    ) -> int:
        """Booked inflows into the scope in `categories` after `since` (exclusive) or after
        block `since_height`, up to and including `until`; both None = from the beginning."""
        ...

    def encumbered_sats(self, *, scope: PolicyScope, at: datetime | None = None) -> int:
        """Sats of the scope pledged or otherwise encumbered: the amount and fee that approved, not
        yet mined, outflows hold now, and the pledges of its coins (as collateral or to a purpose)
        in force at `at`: approved at or before it and not released by then (None: now)."""
        ...

    def liabilities_sats(self, *, scope: PolicyScope, at: datetime | None = None) -> int:
        """Bitcoin-linked liabilities or instruments of the scope in force at `at` (approved at or
        before it, not released by then; None: now); those that name no wallet count for every scope."""
        ...

    def wallet_balance_sats(self, *, wallet_id: int, at: datetime | None = None) -> int:
        """Booked balance of one custody wallet as of `at` (inclusive); None = now. A wallet that
        does not exist raises `django.core.exceptions.ObjectDoesNotExist`."""
        ...

    def holdings_changes(
        self, *, scope: PolicyScope, since: datetime, until: datetime
    ) -> list[tuple[datetime, int | None, int]]:
        """Every change of the scope's holdings in [since, until): (at, block_height, holdings after),
        one per posting, in time then posting order (two postings in one block are two changes)."""
        ...

    def fiat_value(self, *, sats: int, currency: str, at: datetime) -> FiatAmount | None:
        """`sats` valued in `currency` at the price quote in force at `at` (the latest at or
        before it), rounded half-even to the cent; `as_of` is the quote's time. None: no quote."""
        ...

    def fiat_total(self, *, name: str, at: datetime) -> FiatAmount | None:
        """The fiat total `name` (e.g. total public funds) as last recorded with a date at or
        before `at`; `as_of` is that date. None: never recorded by then."""
        ...

    def reports_filed(
        self, *, kinds: Collection[str], since: datetime, until: datetime, scope: PolicyScope
    ) -> list[FiledReport]:
        """The reports of `kinds` made in [since, until] whose signature is the service's, in the
        order they were made: holdings statements only when they cover `scope` (the perimeter, or
        every wallet of the agency or the wallet then), period attestations whatever the scope."""
        ...

    def lots_moved(
        self, *, wallet_id: int, sats: int, lot_ids: Sequence[int] = (), subject: tuple[str, str] | None = None
    ) -> list[LotShare]:
        """The lots `sats` leaving `wallet_id` take, in the order taken: those the posting of
        `subject` took, when it is posted; else the named `lot_ids` in their order, then the
        oldest open lots first (FIFO), as far as the open lots go (what no lot covers is not listed).
        A lot moved between our wallets keeps its acquisition time, category and provenance."""
        ...
