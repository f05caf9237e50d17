"""US EO 14233 s.4 after the fact: a duty past its deadline opens one breach (not one per run) and
tells the policy administrators by e-mail and webhook through the outbox; on the deadline day the
duty is still due. Run against PostgreSQL, as the service and as beat's task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from policy.models import PolicyBreach, PolicyVersion
from policy.services import policy_approve, policy_breach_resolve, policy_create_draft
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.obligations import obligations_overdue_check
from reserve.outbox.models import OutboxMessage
from reserve.proofs.filed import reports_filed
from reserve.proofs.models import PeriodAttestation
from reserve.proofs.statements import statement_sign
from reserve.tasks import obligations_overdue_task

pytestmark = pytest.mark.django_db

EO_14233_S4 = {"within_days": 30, "met_by": ["period_attestation"]}


def in_force(start: datetime, admins: list[Any]) -> PolicyVersion:
    draft = policy_create_draft(
        name="EO 14233 s.4",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "reporting_obligation", "params": EO_14233_S4}],
        effective_from=start,
        author=admins[0],
    )
    for admin in admins[1:]:
        policy_approve(version=draft, approver=admin)
    draft.refresh_from_db()
    return draft


def notifications() -> list[tuple[str, list[Any]]]:
    """The breach notices waiting in the outbox (not the version's approval requests)."""
    messages = OutboxMessage.objects.filter(task_name__startswith="reserve.notify_").order_by("id")
    sent = [(message.task_name, message.args) for message in messages]
    return [(task, args) for task, args in sent if "breach" in str(args[0]).lower()]


@pytest.fixture
def told(policy_admins: list[Any], settings: Any) -> list[Any]:
    settings.APPROVER_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    for number, admin in enumerate(policy_admins):
        admin.email = f"policy{number}@example.test"
        admin.save()
    return policy_admins


def test_due_on_the_deadline_day_a_breach_one_day_late_and_only_once(told: list[Any]) -> None:
    # given: a statement due within 30 days of 2026-03-01
    start = datetime(2026, 3, 1, tzinfo=UTC)
    version = in_force(start, told)
    facts = ReservePolicyFacts(reports=reports_filed)
    deadline = start + timedelta(days=30)

    # when / then: on the deadline the duty is due, nothing opens, nobody is told
    assert obligations_overdue_check(facts=facts, at=deadline) == []
    assert notifications() == []

    # a day late: one breach for this duty, the administrators told by e-mail and webhook
    (breach,) = obligations_overdue_check(facts=facts, at=deadline + timedelta(days=1))
    assert (breach.version_id, breach.rule_type, breach.status) == (version.pk, "reporting_obligation", "open")
    assert breach.subject_id == deadline.isoformat()
    assert breach.reason.startswith(f"Overdue: the report due by {deadline.isoformat()}")
    (email, hook) = notifications()
    assert email[0] == "reserve.notify_email_task"
    assert email[1][2] == [f"policy{number}@example.test" for number in range(3)]
    assert hook[0] == "reserve.notify_webhook_task" and hook[1][0]["event"] == "breach.opened"
    assert hook[1][0]["id"] == breach.pk

    # every later run finds the same duty overdue and opens nothing
    assert obligations_overdue_check(facts=facts, at=deadline + timedelta(days=2)) == []
    assert PolicyBreach.objects.count() == 1 and len(notifications()) == 2


def test_beat_task_opens_the_breach_and_a_late_report_lets_it_be_resolved(told: list[Any]) -> None:
    # given: a policy whose 30-day duty ended a day ago, and one whose duty ends tomorrow
    now = timezone.now()
    late = in_force(now - timedelta(days=31), told)

    # when: beat's task runs twice
    first = obligations_overdue_task.apply().get()
    second = obligations_overdue_task.apply().get()

    # then: one breach, of the late policy
    (breach,) = PolicyBreach.objects.all()
    assert first == [breach.pk] and second == []
    assert breach.version_id == late.pk

    # when the attestation is made late, the duty is met (late) and the breach is resolved by its workflow
    attestation = PeriodAttestation.objects.create(
        network="regtest",
        from_height=1,
        to_height=9,
        verdict="compliant",
        net_accumulation_sats=0,
        statement={"format": "test"},
        statement_signature=statement_sign({"format": "test"}),
        created_by=told[0],
    )
    assert obligations_overdue_task.apply().get() == []
    reason = f"period attestation {attestation.pk} filed late"
    resolved = policy_breach_resolve(breach=breach, reason=reason, actor=told[1])
    assert resolved.status == "resolved"


def test_a_duty_due_tomorrow_opens_nothing(told: list[Any]) -> None:
    in_force(timezone.now() - timedelta(days=29), told)
    assert obligations_overdue_task.apply().get() == []
    assert not PolicyBreach.objects.exists()
