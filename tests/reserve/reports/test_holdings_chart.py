"""The holdings chart draws each cap as it was in force: a cap a new policy version changed is a
step, and none is drawn before the policy started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.admin.charts import holdings_svg
from reserve.reports.holdings_chart import dashboard_holdings_charts, holdings_chart

pytestmark = pytest.mark.django_db

BTC = 100_000_000


def approved_version(admins: list[Any], *, max_sats: int, effective_from: Any) -> None:
    author, first, second = admins
    draft = policy_create_draft(
        name="Reserve cap",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "holdings_cap", "params": {"max_sats": max_sats}}],
        effective_from=effective_from,
        author=author,
    )
    policy_approve(version=draft, approver=first)
    policy_approve(version=draft, approver=second)


def test_a_cap_changed_by_a_new_version_is_drawn_as_a_step(policy_admins: list[Any]) -> None:
    # given: a 3 BTC cap from 60 days ago, raised to 5 BTC by a second version 20 days ago
    now = timezone.now()
    first_from, second_from = now - timedelta(days=60), now - timedelta(days=20)
    approved_version(policy_admins, max_sats=3 * BTC, effective_from=first_from)
    approved_version(policy_admins, max_sats=5 * BTC, effective_from=second_from)

    # when
    chart = holdings_chart(
        scope=PolicyScope("perimeter"), title="Perimeter", policy_names={"Reserve cap"}, until=now, days=90
    )

    # then: nothing before the policy, then each version's cap from its start
    (cap,) = chart.caps
    assert (cap.policy_name, cap.rule_type) == ("Reserve cap", "holdings_cap")
    assert cap.steps == [(now - timedelta(days=90), None), (first_from, 3 * BTC), (second_from, 5 * BTC)]
    assert cap.limit_sats == 5 * BTC
    # drawn as two level segments (no line before the policy), labelled with today's cap
    svg = holdings_svg(chart)
    cap_path = svg.split('<g class="cap-line"><path d="')[1].split('"')[0]
    assert cap_path.count("M") == 2
    assert "holdings cap: 5 BTC" in svg
    assert "limit none from" in svg and "3 BTC from" in svg and "then 5 BTC from" in svg
    # the dashboard's perimeter chart reads the same lines
    assert dashboard_holdings_charts()[0].caps[0].steps[1:] == cap.steps[1:]


def test_a_cap_in_force_before_the_span_starts_at_the_span(policy_admins: list[Any]) -> None:
    # given
    now = timezone.now()
    approved_version(policy_admins, max_sats=2 * BTC, effective_from=now - timedelta(days=400))
    # when
    chart = holdings_chart(
        scope=PolicyScope("perimeter"), title="Perimeter", policy_names={"Reserve cap"}, until=now, days=30
    )
    # then: one level line over the whole span
    assert chart.caps[0].steps == [(now - timedelta(days=30), 2 * BTC)]
