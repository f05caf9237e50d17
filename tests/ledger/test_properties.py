"""Property tests: random postings and reversals agree with a replay of the same operations."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import InsufficientFunds
from ledger.models import AccountType
from ledger.selectors import account_balance, balances_as_of, verify_balances
from ledger.services import EntrySpec, account_create, ledger_checkpoint_refresh, post_transaction, reverse_transaction

START = datetime(2024, 1, 1, tzinfo=UTC)
_examples = itertools.count()

post_op = st.tuples(
    st.just("post"),
    st.integers(0, 3),  # source account
    st.integers(0, 3),  # target account
    st.integers(1, 5_000),  # sats
    st.integers(0, 30),  # occurred day (back-dating happens whenever it goes down)
    st.one_of(st.none(), st.integers(800_000, 800_030)),  # block height
)
reverse_op = st.tuples(st.just("reverse"), st.integers(0, 10_000))
refresh_op = st.tuples(st.just("refresh"), st.integers(1, 4))
operations = st.lists(st.one_of(post_op, post_op, reverse_op, refresh_op), min_size=1, max_size=12)


@pytest.mark.django_db
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=operations, every=st.integers(1, 3), after=operations)
def test_balances_and_as_of_match_replay(before, every, after):
    # given four fresh accounts (two of them non-negative) and a funding source
    run = next(_examples)
    source = account_create(code=f"equity:prop:{run}", account_type=AccountType.EQUITY)
    accounts = [
        account_create(code=f"assets:prop:{run}:{index}", account_type=AccountType.ASSET, non_negative=index < 2)
        for index in range(4)
    ]
    replay: list[tuple[datetime, int | None, datetime, dict[int, int]]] = []  # occurred, height, posted, deltas
    posted: list = []
    reversed_ids: set = set()
    for index, account in enumerate(accounts):
        tx = post_transaction(
            idempotency_key=f"p{run}-fund-{index}",
            entries=[EntrySpec(account=account, amount_sats=10_000), EntrySpec(account=source, amount_sats=-10_000)],
            kind="acquisition",
            occurred_at=START,
        )
        replay.append((START, None, tx.posted_at, {account.pk: 10_000, source.pk: -10_000}))
    # when random operations run, with checkpoints refreshed between two random phases
    # (so later postings are often back-dated below a checkpoint)
    ops = [*before, ("refresh", every), *after]
    for step, op in enumerate(ops):
        if op[0] == "post":
            _, src, dst, sats, day, height = op
            if src == dst:
                continue
            legs = [
                EntrySpec(account=accounts[dst], amount_sats=sats),
                EntrySpec(account=accounts[src], amount_sats=-sats),
            ]
            occurred = START + timedelta(days=day, seconds=step)
            try:
                tx = post_transaction(
                    idempotency_key=f"p{run}-{step}",
                    entries=legs,
                    kind="transfer",
                    occurred_at=occurred,
                    block_height=height,
                )
            except InsufficientFunds:
                continue
            posted.append(tx)
            replay.append((occurred, height, tx.posted_at, {accounts[dst].pk: sats, accounts[src].pk: -sats}))
        elif op[0] == "reverse":
            candidates = [tx for tx in posted if tx.pk not in reversed_ids and tx.kind == "transfer"]
            if not candidates:
                continue
            original = candidates[op[1] % len(candidates)]
            try:
                tx = reverse_transaction(transaction=original, idempotency_key=f"p{run}-rev-{step}")
            except InsufficientFunds:
                continue
            reversed_ids.add(original.pk)
            deltas = {entry.account_id: -entry.amount_sats for entry in original.entries.all()}
            # a reversal stands at its original's height: a dropped block's posting counts at none
            replay.append((tx.occurred_at, original.block_height, tx.posted_at, deltas))
        else:
            ledger_checkpoint_refresh(every=op[1])

    # then every balance is the sum of its entries and equals the replay
    assert verify_balances() == []
    for account in [source, *accounts]:
        expected = sum(deltas.get(account.pk, 0) for *_, deltas in replay)
        assert account_balance(account=account) == expected
        if account.non_negative:
            assert expected >= 0
    # and as-of answers (through whatever checkpoints exist) match the replay
    everyone = [source, *accounts]
    for day in range(-1, 32, 2):
        cut = START + timedelta(days=day, hours=12)
        by_occurred = balances_as_of(accounts=everyone, occurred_at=cut)
        by_height = balances_as_of(accounts=everyone, block_height=800_000 + day)
        for account in everyone:
            assert by_occurred[account.pk] == sum(d.get(account.pk, 0) for o, _, _, d in replay if o <= cut)
            assert by_height[account.pk] == sum(
                d.get(account.pk, 0) for _, h, _, d in replay if h is not None and h <= 800_000 + day
            )
    for _, _, posted_at, _ in replay[:: max(1, len(replay) // 4)]:
        by_posted = balances_as_of(accounts=everyone, posted_at=posted_at)
        for account in everyone:
            assert by_posted[account.pk] == sum(d.get(account.pk, 0) for _, _, p, d in replay if p <= posted_at)
