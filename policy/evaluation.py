"""Pure evaluation: (versions in force, proposed change, facts) -> Decision, one line per rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from policy.facts import PolicyFacts
from policy.rules.base import RuleContext, VersionRules
from policy.rules.quorum import approvals_from
from policy.types import DEFAULT_APPROVER_ROLE, DEFAULT_QUORUM, Decision, ProposedChange, RuleLine, Verdict


def evaluate_change(
    *, change: ProposedChange, facts: PolicyFacts, versions: Sequence[VersionRules], current: bool = False
) -> Decision:
    """Judge `change` against every rule of `versions`.

    An observed movement is judged by the continuous rules (and those that judge any movement,
    such as no disposal) and needs no approvals.
    Otherwise the strictest quorum applies (default 2 from approver when no approval_quorum
    rule is in force), raised by the extra approvals a rule asks for.
    """
    ordered = sorted(versions, key=lambda v: (v.scope.sort_key, v.policy_id or 0, v.version or 0))
    lines: list[RuleLine] = []
    for version in ordered:
        for index, rule in enumerate(version.rules):
            if change.observed and not (rule.continuous or rule.judges_observed):
                continue
            context = RuleContext(change=change, facts=facts, version=version, rule_index=index, current=current)
            if not change.observed and context.direction is None:
                lines.append(context.not_applicable(rule, f"the change does not touch {version.scope.label}"))
            else:
                lines.append(rule.evaluate(context))
    if change.observed:
        return Decision(
            outcome=_outcome(lines),
            lines=tuple(lines),
            required_approvals=0,
            approvals_counted=0,
            evaluated_at=change.at,
            versions=_version_ids(ordered),
        )
    lines, required, role, counted = _apply_quorum(change, lines)
    return Decision(
        outcome=_outcome(lines),
        lines=tuple(lines),
        required_approvals=required,
        required_role=role,
        approvals_counted=counted,
        evaluated_at=change.at,
        versions=_version_ids(ordered),
    )


def _apply_quorum(change: ProposedChange, lines: list[RuleLine]) -> tuple[list[RuleLine], int, str, int]:
    quorum_lines = [line for line in lines if line.required_approvals is not None]
    if not quorum_lines:
        default = RuleLine(
            rule_type="approval_quorum",
            rule_index=-1,
            policy_id=None,
            policy_version=None,
            measured_sats=change.amount_sats,
            limit_sats=None,
            verdict="allow",
            reason=f"No approval_quorum rule in force: the default of {DEFAULT_QUORUM} approvals from "
            f"{DEFAULT_APPROVER_ROLE} applies",
            required_approvals=DEFAULT_QUORUM,
            required_role=DEFAULT_APPROVER_ROLE,
        )
        lines = [*lines, default]
        quorum_lines = [default]
    strictest = max(quorum_lines, key=lambda line: line.required_approvals or 0)
    extra = sum(line.extra_approvals for line in lines)
    required = (strictest.required_approvals or 0) + extra
    role = strictest.required_role
    counted = approvals_from(change, role)

    def judged(line: RuleLine) -> RuleLine:
        if line.required_approvals is not None:
            needed = line.required_approvals + extra
            have = approvals_from(change, line.required_role)
        elif line.extra_approvals:
            needed, have = required, counted
        else:
            return line
        extra_words = f", plus {extra} extra" if extra and line.required_approvals is not None else ""
        verdict: Verdict = "allow" if have >= needed else "needs_approval"
        return replace(line, verdict=verdict, reason=f"{line.reason}{extra_words}: {have} of {needed} given.")

    return [judged(line) for line in lines], required, role, counted


def _outcome(lines: Sequence[RuleLine]) -> Verdict:
    verdicts = {line.verdict for line in lines}
    if "deny" in verdicts:
        return "deny"
    if "needs_approval" in verdicts:
        return "needs_approval"
    return "allow"


def _version_ids(versions: Sequence[VersionRules]) -> tuple[int, ...]:
    return tuple(version.version_id for version in versions if version.version_id is not None)
