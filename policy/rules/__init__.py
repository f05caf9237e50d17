"""The rule types, by the names the admin, the API and the docs share, and parsing of rule lists."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from config.errors import ValidationFailed
from policy.rules.base import ParseContext, Rule
from policy.rules.destinations import AllowedSources, DestinationAllowlist, NoDisposal
from policy.rules.fiat import FiatHoldingsCap
from policy.rules.flows import TransferLimit, VelocityLimit
from policy.rules.holding_period import MinimumHolding
from policy.rules.holdings import EncumbranceCap, HoldingsCap, NoNetAccumulation, ZeroBalanceAfter
from policy.rules.liabilities import NoBitcoinLiabilities
from policy.rules.obligations import ReportingObligation
from policy.rules.params import ParamReader
from policy.rules.quorum import ApprovalQuorum
from policy.types import CATEGORIES

RULE_TYPES: dict[str, type[Rule]] = {
    rule.type_name: rule
    for rule in (
        NoNetAccumulation,
        HoldingsCap,
        TransferLimit,
        VelocityLimit,
        DestinationAllowlist,
        NoDisposal,
        AllowedSources,
        ApprovalQuorum,
        EncumbranceCap,
        ZeroBalanceAfter,
        FiatHoldingsCap,
        NoBitcoinLiabilities,
        ReportingObligation,
        MinimumHolding,
    )
}


def parse_rules(
    raw_rules: object,
    *,
    effective_from: datetime,
    previous_rules: Sequence[Rule] = (),
    field: str = "rules",
    vocabulary: Collection[str] | None = CATEGORIES,
) -> tuple[Rule, ...]:
    """Rules from their `{"type", "params"}` form; every problem is reported under its field
    (`rules[2].params.max_sats`) in one ValidationFailed. Categories must be terms of `vocabulary`
    (the services pass the vocabulary in force, `policy.selectors.category_codes()`; None
    for stored rules)."""
    errors: dict[str, list[str]] = {}
    rules: list[Rule] = []
    if not isinstance(raw_rules, list | tuple):
        raise ValidationFailed.for_field(field, "must be a list of rules")
    context = ParseContext(effective_from=effective_from, previous_rules=tuple(previous_rules))
    for index, raw in enumerate(raw_rules):
        path = f"{field}[{index}]"
        if not isinstance(raw, Mapping):
            errors.setdefault(path, []).append('must be an object {"type": ..., "params": {...}}')
            continue
        for key in set(raw) - {"type", "params"}:
            errors.setdefault(f"{path}.{key}", []).append("unknown field; a rule has only type and params")
        rule_type = RULE_TYPES.get(raw.get("type"))  # type: ignore[arg-type]
        if rule_type is None:
            known = ", ".join(RULE_TYPES)
            errors.setdefault(f"{path}.type", []).append(f"unknown rule type {raw.get('type')!r}; known: {known}")
            continue
        reader = ParamReader(raw.get("params", {}), f"{path}.params", errors, vocabulary=vocabulary)
        rule = rule_type.parse(reader, context)
        reader.finish()
        if rule is not None:
            rules.append(rule)
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", fields=errors)
    return tuple(rules)


__all__ = ["RULE_TYPES", "Rule", "parse_rules"]
