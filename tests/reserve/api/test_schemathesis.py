"""Property-based run of the whole API against its own OpenAPI schema, on the live server: with an
auditor's and an operator's token, no generated request, valid or deliberately invalid, gets a 500
or a response that violates the schema.

Driven through schemathesis' Python API (one Hypothesis run per operation and generation mode)
rather than its pytest plugin, whose lazy-fixture loader does not work with this pytest.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.reserve.api.conftest import Books, make_user

EXAMPLES = 3
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_api_matches_its_schema(live_server: Any, books: Books) -> None:
    # given: the schema served by the live server, and an auditor's and an operator's token
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    tokens = [AuthToken.objects.create(user=make_user(f"fuzz-{role}", role))[1] for role in ("auditor", "operator")]
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert len(operations) >= 30

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case: Any) -> None:
                for token in tokens:
                    case.call_and_validate(
                        base_url=live_server.url, headers={"Authorization": f"Token {token}"}, checks=CHECKS
                    )

            # when
            try:
                exercise()
            except (AssertionError, FailureGroup) as failure:
                failures.append(f"{operation.label} ({mode}): {failure}")
            except Unsatisfiable:
                # Nothing about this operation can be made invalid (no parameters, no body).
                assert mode == GenerationMode.NEGATIVE, operation.label
    # then
    assert not failures, "\n\n".join(failures)
