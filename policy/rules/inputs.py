"""How a person enters a rule's params by hand: one declaration per rule type (`Rule.inputs`) that
a form builder reads. It says only how a value is typed and shaped (an amount in BTC, a duration
in readable units, categories picked from the vocabulary); what a value may be is the rule's
`parse`, the only judge of params."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

InputKind = Literal[
    "btc",  # sats, typed in BTC ("1.5")
    "duration",  # seconds, typed as a count of seconds, minutes, hours or days
    "integer",
    "text",
    "decimal",  # a decimal kept as the string typed ("1000000.00")
    "moment",  # an ISO 8601 date-time string
    "choice",  # one of `choices`
    "boolean",
    "categories",  # terms of the vocabulary in force
    "choices",  # several of `choices`
    "wallets",  # wallet ids
    "address_entries",  # allowlisted addresses, each with the date it was listed
    "counterparty_entries",  # allowlisted counterparty ids, each with the date it was listed
    "tiers",  # approval tiers: from an amount in BTC, so many approvals, from a role
]


@dataclass(frozen=True)
class ParamInput:
    """One param as a form field. `optional`: may be left blank, and is then left out of the
    params (the rule's default applies, or another param stands in for it)."""

    name: str
    kind: InputKind
    label: str
    choices: tuple[str, ...] = ()
    optional: bool = False
    help: str = ""
