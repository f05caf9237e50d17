"""Rules on where reserve bitcoin may go and where it may come from: destination allowlist,
no disposal, allowed sources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from policy.rules.base import ParseContext, Rule, RuleContext, btc, duration, moment, plural, words
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader, parse_datetime
from policy.types import RuleLine

ON_VIOLATION = ("deny", "needs_approval")


@dataclass(frozen=True)
class AllowlistEntry:
    value: str
    added_at: datetime


def _previous_entries(context: ParseContext, kind: str) -> dict[str, datetime]:
    listed: dict[str, datetime] = {}
    for rule in context.previous_rules:
        if isinstance(rule, DestinationAllowlist):
            for entry in getattr(rule, kind):
                listed.setdefault(entry.value, entry.added_at)
    return listed


def _entries(reader: ParamReader, context: ParseContext, name: str, key: str) -> tuple[AllowlistEntry, ...] | None:
    """Entries given as plain values or as {key, added_at}; a plain value keeps the date it was
    first listed in the previous version, else it is new as of this version's effective time."""
    values = reader.listing(name, default=[])
    if values is None:
        return None
    known = _previous_entries(context, name)
    entries: list[AllowlistEntry] = []
    for position, item in enumerate(values):
        field = f"{name}[{position}]"
        raw_value, added_at = (item.get(key), item.get("added_at")) if isinstance(item, Mapping) else (item, None)
        if isinstance(item, Mapping) and set(item) - {key, "added_at"}:
            reader.fail(field, f"unknown keys {sorted(set(item) - {key, 'added_at'})}; use {key} and added_at")
            return None
        if key == "counterparty_id":
            if isinstance(raw_value, bool) or not isinstance(raw_value, int) or raw_value <= 0:
                reader.fail(field, "must be a positive counterparty id")
                return None
            value = str(raw_value)
        else:
            if not isinstance(raw_value, str) or not raw_value.strip():
                reader.fail(field, "must be a non-empty address")
                return None
            value = raw_value.strip()
        if added_at is None:
            entries.append(AllowlistEntry(value, known.get(value, context.effective_from)))
            continue
        try:
            entries.append(AllowlistEntry(value, parse_datetime(added_at)))
        except ValueError as error:
            reader.fail(f"{field}.added_at", str(error))
            return None
    return tuple(entries)


@dataclass(frozen=True)
class DestinationAllowlist(Rule):
    """Outflows leaving the perimeter go only to listed addresses or counterparties, and a new
    entry may be used only once its cool-off has passed (at added_at + cool_off_seconds)."""

    type_name = "destination_allowlist"
    inputs = (
        ParamInput(
            "addresses", "address_entries", "Addresses", help="one a line, optionally followed by the date listed"
        ),
        ParamInput(
            "counterparties",
            "counterparty_entries",
            "Counterparty ids",
            help="one a line, optionally with the date listed",
        ),
        ParamInput("cool_off_seconds", "duration", "Cool-off before a new entry may be used"),
        ParamInput("on_violation", "choice", "During the cool-off", choices=ON_VIOLATION),
        ParamInput("extra_approvals", "integer", "Extra approvals (when the cool-off needs approval)"),
    )

    addresses: tuple[AllowlistEntry, ...]
    counterparties: tuple[AllowlistEntry, ...]
    cool_off_seconds: int
    on_violation: str
    extra_approvals: int

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        addresses = _entries(reader, context, "addresses", "address")
        counterparties = _entries(reader, context, "counterparties", "counterparty_id")
        cool_off = reader.integer("cool_off_seconds", minimum=0, maximum=366 * 86_400, default=0)
        on_violation = reader.choice("on_violation", ON_VIOLATION, default="deny")
        extra = reader.integer("extra_approvals", minimum=1, maximum=20, default=1)
        if addresses is None or counterparties is None or None in (cool_off, on_violation, extra):
            return None
        return cls(addresses, counterparties, cool_off, on_violation, extra)

    def params(self) -> dict[str, Any]:
        return {
            "addresses": [{"address": entry.value, "added_at": moment(entry.added_at)} for entry in self.addresses],
            "counterparties": [
                {"counterparty_id": int(entry.value), "added_at": moment(entry.added_at)}
                for entry in self.counterparties
            ],
            "cool_off_seconds": self.cool_off_seconds,
            "on_violation": self.on_violation,
            "extra_approvals": self.extra_approvals,
        }

    def describe(self) -> str:
        if not self.addresses and not self.counterparties:
            return "Destination allowlist: nothing is listed, so no outflow leaves the perimeter."
        listed = " and ".join(
            text
            for count, text in (
                (len(self.addresses), plural(len(self.addresses), "listed address", "listed addresses")),
                (
                    len(self.counterparties),
                    plural(len(self.counterparties), "listed counterparty", "listed counterparties"),
                ),
            )
            if count
        )
        if not self.cool_off_seconds:
            return f"Destination allowlist: outflows leave the perimeter only to {listed}."
        consequence = (
            "is refused" if self.on_violation == "deny" else f"needs {plural(self.extra_approvals, 'extra approval')}"
        )
        return (
            f"Destination allowlist: outflows leave the perimeter only to {listed}; an entry newer than "
            f"{duration(self.cool_off_seconds)} {consequence}."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != "outbound" or change.destination_in_perimeter:
            return context.not_applicable(self, "the change does not leave the perimeter")
        matches = [
            entry for entry in self.addresses if change.external_address and entry.value == change.external_address
        ]
        if change.counterparty_id is not None:
            matches += [entry for entry in self.counterparties if entry.value == str(change.counterparty_id)]
        destination = change.external_address or f"counterparty #{change.counterparty_id}"
        if not matches:
            return context.line(self, "deny", f"Destination {destination} is not on the allowlist.")
        usable_at = min(entry.added_at for entry in matches) + timedelta(seconds=self.cool_off_seconds)
        if context.at >= usable_at:
            return context.line(self, "allow", f"Destination {destination} is on the allowlist.")
        waiting = f"Destination {destination} was listed recently; its cool-off ends at {moment(usable_at)}"
        if self.on_violation == "deny":
            return context.line(self, "deny", f"{waiting}.")
        return context.line(
            self,
            "needs_approval",
            f"{waiting}, so it needs {plural(self.extra_approvals, 'extra approval')}",
            extra_approvals=self.extra_approvals,
        )


@dataclass(frozen=True)
class NoDisposal(Rule):
    """Reserve bitcoin leaves the perimeter only for the listed reasons (categories), never as a
    sale. An outflow nobody proposed (signed outside the system) breaches it."""

    type_name = "no_disposal"
    judges_observed = True
    inputs = (
        ParamInput("allowed_reasons", "categories", "Allowed reasons to leave the perimeter"),
        ParamInput("reference_required", "boolean", "Each must cite its legal reference"),
    )

    allowed_reasons: tuple[str, ...]
    reference_required: bool

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        reasons = reader.categories("allowed_reasons", default=())
        reference_required = reader.boolean("reference_required", default=False)
        if reasons is not None and "sale" in reasons:
            reader.fail("allowed_reasons", "a sale can never be an allowed reason")
            return None
        if reasons is None or reference_required is None:
            return None
        return cls(tuple(reasons), reference_required)

    def params(self) -> dict[str, Any]:
        return {"allowed_reasons": list(self.allowed_reasons), "reference_required": self.reference_required}

    def _allowed(self) -> str:
        return f"only for {words(self.allowed_reasons)}" if self.allowed_reasons else "for no reason at all"

    def describe(self) -> str:
        if not self.allowed_reasons:
            return "No disposal: bitcoin never leaves the perimeter, for any reason (a sale included)."
        reference = ", each with its legal reference (e.g. the court order)" if self.reference_required else ""
        return f"No disposal: bitcoin leaves the perimeter {self._allowed()}{reference}; never as a sale."

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != "outbound" or change.destination_in_perimeter:
            return context.not_applicable(self, "the change does not leave the perimeter")
        if change.observed and change.proposer_id is not None:
            # Re-checked after the fact (a reorg): it was proposed, and judged at its gates then.
            return context.not_applicable(self, "the outflow was proposed and judged at its gates")
        if change.observed:
            # Nobody proposed it, so nobody gave it a reason: whatever its tag, it is a disposal.
            return context.line(
                self,
                "deny",
                f"{btc(change.amount_sats)} left the perimeter without a proposal; bitcoin may leave "
                f"{self._allowed()}, by a proposal.",
                measured_sats=change.amount_sats,
            )
        category = change.category.replace("_", " ")
        if change.category == "sale" or change.category not in self.allowed_reasons:
            return context.line(
                self, "deny", f"A {category} may not leave the perimeter; bitcoin leaves it {self._allowed()}."
            )
        if self.reference_required and not change.provenance_reference.strip():
            return context.line(self, "deny", f"A {category} must cite its legal reference (e.g. the court order).")
        return context.line(self, "allow", f"A {category} is an allowed reason to leave the perimeter.")


@dataclass(frozen=True)
class AllowedSources(Rule):
    """Every inflow from outside the perimeter carries an allowed category and, where the rule
    demands it (all categories, or the listed ones), a provenance reference. An inflow nobody
    proposed is judged too (detective mode): seen on chain, it has the category the books gave
    it (a coinbase is a mining reward, anything else `other`) and no reference, so a mining
    payout without its site reference is a breach where the rule demands one. An inflow from a
    government wallet outside the scope is judged by the lots it moves: forfeited coins the
    Marshals' wallet moves in stay forfeiture, a purchase stays a purchase."""

    type_name = "allowed_sources"
    judges_observed = True
    inputs = (
        ParamInput("categories", "categories", "Allowed sources"),
        ParamInput("reference_required", "categories", "Sources that must carry a provenance reference"),
    )

    categories: tuple[str, ...]
    reference_required: tuple[str, ...]

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        categories = reader.categories("categories", allow_empty=False)
        raw = reader.raw.get("reference_required", False)
        if isinstance(raw, bool):
            reader.boolean("reference_required", default=False)
            required = tuple(categories or ()) if raw else ()
        else:
            required = reader.categories("reference_required")
        if categories is None or required is None:
            return None
        return cls(tuple(categories), tuple(required))

    def params(self) -> dict[str, Any]:
        return {"categories": list(self.categories), "reference_required": list(self.reference_required)}

    def describe(self) -> str:
        reference = (
            f"; {words(self.reference_required)} inflows must carry their provenance reference"
            if self.reference_required
            else ""
        )
        return f"Allowed sources: inflows only as {words(self.categories)}{reference}."

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != "inbound" or change.source_in_perimeter:
            return context.not_applicable(self, "the change brings nothing in from outside the perimeter")
        if change.observed and change.proposer_id is not None:
            return context.not_applicable(self, "the inflow was proposed and judged at its gates")
        sources = [(part.category, part.reference) for part in context.arriving()]
        for code, reference in sources:
            category = code.replace("_", " ")
            if code not in self.categories:
                allowed = words(self.categories)
                return context.line(self, "deny", f"An inflow of {category} is not an allowed source ({allowed}).")
            if code in self.reference_required and not reference.strip():
                return context.line(self, "deny", f"A {category} inflow must carry its provenance reference.")
        found = words(sorted({code for code, _ in sources}))
        return context.line(self, "allow", f"A {found} inflow is an allowed source.")
