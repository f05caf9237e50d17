"""Compliance: the facts the policy engine reads, the proposed-change builder, caps and breaches read side."""
