"""The reports a reporting obligation counts (`reports_filed`): signed holdings statements that
cover the perimeter, and period attestations, in [since, until]; the in-memory facts agree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from policy.types import REPORT_KINDS, FiledReport, PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.services import agency_create
from reserve.proofs.filed import reports_filed
from reserve.proofs.models import PeriodAttestation, ReserveProof, ReserveProofChallenge
from reserve.proofs.statements import statement_sign
from tests.policy.builders import T0, at
from tests.policy.memory_facts import MemoryFacts
from tests.reserve.conftest import TPUB_A, TPUB_B, TPUB_C, register
from tests.users import make_user

PERIMETER = PolicyScope("perimeter")
BLOCK_HASH = "cd" * 32
STATEMENT = {"format": "test"}


def _proof(user, index: int, *, covers: bool, signed: bool, made, statement: dict | None = None) -> ReserveProof:
    statement = statement or {**STATEMENT, "covers_perimeter": covers}
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
        statement=statement if signed else None,
        statement_signature=statement_sign(statement) if signed else "",
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
        assert facts.reports_filed(kinds=REPORT_KINDS, since=T0, until=at(days=2), scope=PERIMETER) == expected
        assert (
            facts.reports_filed(kinds=REPORT_KINDS, since=at(days=1), until=at(days=1), scope=PERIMETER) == expected[:1]
        )
        assert (
            facts.reports_filed(kinds=["period_attestation"], since=T0, until=at(days=3), scope=PERIMETER)
            == expected[1:]
        )
        assert (
            facts.reports_filed(kinds=REPORT_KINDS, since=at(days=2, seconds=1), until=at(days=3), scope=PERIMETER)
            == []
        )


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
    facts = ReservePolicyFacts(reports=reports_filed)
    assert facts.reports_filed(kinds=REPORT_KINDS, since=T0, until=at(days=2), scope=PERIMETER) == []


def _covering(covers_perimeter: bool, **covered: bool) -> dict:
    wallets = [{"wallet": name.replace("_", "-"), "covered": flag} for name, flag in covered.items()]
    return {**STATEMENT, "covers_perimeter": covers_perimeter, "wallets": wallets}


@pytest.mark.django_db
def test_a_statement_counts_for_the_scopes_its_signed_content_covers(operator) -> None:
    # given: the Ministry holds cold-01 (perimeter) and side-02 (outside it), the Marshals seized-03
    # (perimeter); one statement proves the Ministry's two wallets, the other the perimeter's two
    ministry = agency_create(name="Ministry of Finance", kind="ministry", actor=operator)
    marshals = agency_create(name="Marshals", kind="ministry", actor=operator)
    cold = register(operator, ministry, "cold-01", TPUB_A)
    side = register(operator, ministry, "side-02", TPUB_B, fingerprint="b8688df1", in_perimeter=False)
    seized = register(operator, marshals, "seized-03", TPUB_C, fingerprint="0f056943")
    agency_wide = _proof(
        operator,
        1,
        covers=False,
        signed=True,
        made=at(days=1),
        statement=_covering(False, cold_01=True, side_02=True, seized_03=False),
    )
    perimeter_wide = _proof(
        operator,
        2,
        covers=True,
        signed=True,
        made=at(days=2),
        statement=_covering(True, cold_01=True, side_02=False, seized_03=True),
    )
    first, second = (
        FiledReport("holdings_statement", p.pk, p.created_at, p.block_height) for p in (agency_wide, perimeter_wide)
    )
    expected = {
        PERIMETER: [second],
        PolicyScope("agency", ministry.pk): [first],
        PolicyScope("agency", marshals.pk): [second],
        PolicyScope("wallet", cold.pk): [first, second],
        PolicyScope("wallet", side.pk): [first],
        PolicyScope("wallet", seized.pk): [second],
    }
    memory = MemoryFacts(
        reports=[first, second],
        report_scopes={
            first.report_id: frozenset(scope for scope, made in expected.items() if first in made),
            second.report_id: frozenset(scope for scope, made in expected.items() if second in made),
        },
    )
    # then: each scope counts the statements that prove all of its wallets, in both facts
    for facts in (ReservePolicyFacts(reports=reports_filed), memory):
        for scope, made in expected.items():
            assert facts.reports_filed(kinds=REPORT_KINDS, since=T0, until=at(days=3), scope=scope) == made, scope

    # when: an insider, as the service's role, marks the agency-wide statement's row as covering the
    # perimeter and every wallet (the columns beside the signed statement)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == ("reserve_app",)
        cursor.execute(
            "UPDATE reserve_reserveproof SET covers_perimeter = true, wallets = %s WHERE id = %s",
            ['[{"wallet": "seized-03", "covered": true}]', agency_wide.pk],
        )
    # then: what counts is what the service signed
    facts = ReservePolicyFacts(reports=reports_filed)
    assert facts.reports_filed(kinds=REPORT_KINDS, since=T0, until=at(days=3), scope=PERIMETER) == [second]
