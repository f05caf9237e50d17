"""The reports a reporting obligation counts (`reports_filed`): signed holdings statements that
cover the perimeter, and period attestations, in [since, until]; the in-memory facts agree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from policy.types import REPORT_KINDS, FiledReport
from reserve.compliance.facts import ReservePolicyFacts
from reserve.proofs.filed import reports_filed
from reserve.proofs.models import PeriodAttestation, ReserveProof, ReserveProofChallenge
from reserve.proofs.statements import statement_sign
from tests.policy.builders import T0, at
from tests.policy.memory_facts import MemoryFacts
from tests.users import make_user

BLOCK_HASH = "cd" * 32
STATEMENT = {"format": "test"}


def _proof(user, index: int, *, covers: bool, signed: bool, made) -> ReserveProof:
    challenge = ReserveProofChallenge.objects.create(
        nonce=f"{index:064x}",
        network="regtest",
        addresses=[],
        message="m",
        expires_at=made + timedelta(hours=1),
        created_by=user,
        created_at=made,
    )
    return ReserveProof.objects.create(
        challenge=challenge,
        signatures=[],
        network="regtest",
        block_height=100 + index,
        block_hash=BLOCK_HASH,
        addresses=[],
        wallets=[],
        signed_total_sats=0,
        perimeter_total_sats=0,
        covers_perimeter=covers,
        statement=STATEMENT if signed else None,
        statement_signature=statement_sign(STATEMENT) if signed else "",
        created_by=user,
        created_at=made,
    )


@pytest.mark.django_db
def test_signed_perimeter_statements_and_attestations_count_the_others_do_not() -> None:
    # given a signed covering statement, one not covering the perimeter, an unsigned one, an attestation
    user = make_user("olga", "operator")
    counted = _proof(user, 1, covers=True, signed=True, made=at(days=1))
    _proof(user, 2, covers=False, signed=True, made=at(days=1))
    _proof(user, 3, covers=True, signed=False, made=at(days=1))
    attestation = PeriodAttestation.objects.create(
        network="regtest",
        from_height=100,
        to_height=150,
        verdict="compliant",
        net_accumulation_sats=0,
        statement=STATEMENT,
        statement_signature=statement_sign(STATEMENT),
        created_by=user,
        created_at=at(days=2),
    )
    expected = [
        FiledReport("holdings_statement", counted.pk, at(days=1), 101),
        FiledReport("period_attestation", attestation.pk, at(days=2), 150),
    ]
    memory = MemoryFacts(reports=list(expected))

    for facts in (ReservePolicyFacts(reports=reports_filed), memory):
        # then both count the two, bounds inclusive, by kind
        assert facts.reports_filed(kinds=REPORT_KINDS, since=T0, until=at(days=2)) == expected
        assert facts.reports_filed(kinds=REPORT_KINDS, since=at(days=1), until=at(days=1)) == expected[:1]
        assert facts.reports_filed(kinds=["period_attestation"], since=T0, until=at(days=3)) == expected[1:]
        assert facts.reports_filed(kinds=REPORT_KINDS, since=at(days=2, seconds=1), until=at(days=3)) == []


@pytest.mark.django_db
def test_an_attestation_written_by_raw_sql_with_a_forged_signature_meets_nothing() -> None:
    # given an insider, as the service's role, appends an attestation the service never signed
    user = make_user("ivan", "operator")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == ("reserve_app",)
        cursor.execute(
            "INSERT INTO reserve_periodattestation (network, from_height, to_height, verdict, net_accumulation_sats,"
            " statement, statement_signature, created_by_id, created_at)"
            " VALUES ('regtest', 1, 2, 'compliant', 0, %s, %s, %s, %s)",
            ['{"format": "forged"}', statement_sign(STATEMENT), user.pk, at(days=1)],
        )
    # then it is not a report the obligation counts
    assert ReservePolicyFacts(reports=reports_filed).reports_filed(kinds=REPORT_KINDS, since=T0, until=at(days=2)) == []
