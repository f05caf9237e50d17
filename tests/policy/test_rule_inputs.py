"""Each rule type's `inputs` (what the admin's rule builder offers) name exactly the params its
parse reads: a param the builder did not offer would be dropped from a version edited there."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policy.rules import RULE_TYPES
from policy.rules.base import ParseContext
from policy.rules.params import ParamReader


@pytest.mark.parametrize("name", sorted(RULE_TYPES))
def test_the_inputs_of_a_rule_type_are_the_params_its_parse_reads(name: str) -> None:
    rule_type = RULE_TYPES[name]
    reader = ParamReader({}, "params", {})
    rule_type.parse(reader, ParseContext(effective_from=datetime(2026, 1, 1, tzinfo=UTC)))
    assert {spec.name for spec in rule_type.inputs} == reader.seen
