"""The policy draft page's rule builder: one row per rule, its fields drawn from the rule type's
`inputs` (policy/rules/inputs.py), amounts typed in BTC and durations in readable units. It only
shapes what was typed into the params the engine parses (BTC to sats, lines to lists); `parse_rules`,
through `policy_create_draft`, judges them, and its errors come back to the row and field they name.

Works without JavaScript: "Add rule" and "Remove" are submit buttons that redraw the page with
what was typed; rows are posted as `rule-<n>-<param>`, their number as `rule_count`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.http import QueryDict
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget

from config.errors import ApplicationError, ValidationFailed
from policy.rules import RULE_TYPES
from policy.rules.base import Rule
from policy.rules.inputs import ParamInput
from policy.selectors import category_choices
from reserve.admin.common import StyledForm
from reserve.common.amounts import btc_text, btc_to_sats
from reserve.custody.models import Wallet

MAX_RULES = 50
UNITS = (("days", 86_400), ("hours", 3_600), ("minutes", 60), ("seconds", 1))
UNIT_SUFFIX = "__unit"
_WHOLE = re.compile(r"^[+-]?\d+$")
_RULE_FIELD = re.compile(r"^rules\[(?P<index>\d+)\](?:\.params\.(?P<param>[a-z_]+))?")
_ROW_KEY = re.compile(r"^rule-(?P<index>\d+)-(?P<name>.+)$")


class AddRuleForm(StyledForm):
    add_rule_type = forms.ChoiceField(choices=[(name, name) for name in RULE_TYPES], label="Rule type")


def _whole_or_text(text: str) -> int | str:
    """A whole number as such; anything else as typed, for the rule's parse to refuse by name."""
    return int(text) if _WHOLE.match(text) else text


def _duration_initial(seconds: object) -> tuple[str, str]:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        return str(seconds), "seconds"
    for unit, size in UNITS:
        if seconds and seconds % size == 0:
            return str(seconds // size), unit
    return str(seconds), "seconds"


def _entry_line(entry: object, key: str) -> str:
    if isinstance(entry, Mapping):
        return " ".join(str(entry[name]) for name in (key, "added_at") if entry.get(name) is not None)
    return str(entry)


def _tier_line(tier: object) -> str:
    if not isinstance(tier, Mapping):
        return str(tier)
    amount = tier.get("min_sats")
    words = [btc_text(amount) if isinstance(amount, int) and not isinstance(amount, bool) else str(amount)]
    words += [str(tier[name]) for name in ("min_approvals", "role") if tier.get(name) is not None]
    return " ".join(words)


def initial_values(rule_type: type[Rule], params: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's stored params as its builder row shows them."""
    values: dict[str, Any] = {}
    for spec in rule_type.inputs:
        if spec.name not in params or params[spec.name] is None:
            continue
        value = params[spec.name]
        if spec.kind == "btc":
            values[spec.name] = btc_text(value) if isinstance(value, int) and not isinstance(value, bool) else value
        elif spec.kind == "duration":
            values[spec.name], values[spec.name + UNIT_SUFFIX] = _duration_initial(value)
        elif spec.kind in ("categories", "choices", "wallets"):
            values[spec.name] = [str(item) for item in value]
        elif spec.kind == "address_entries":
            values[spec.name] = "\n".join(_entry_line(entry, "address") for entry in value)
        elif spec.kind == "counterparty_entries":
            values[spec.name] = "\n".join(_entry_line(entry, "counterparty_id") for entry in value)
        elif spec.kind == "tiers":
            values[spec.name] = "\n".join(_tier_line(tier) for tier in value)
        elif spec.kind == "boolean":
            values[spec.name] = value
        else:
            values[spec.name] = str(value)
    return values


def _ordered(chosen: Sequence[str], choices: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The chosen values first, in their order, then the others: a browser posts ticked boxes in
    page order, so a list keeps its order through the page. A chosen value no longer offered is
    kept, for the rule's parse to refuse by name rather than the page to drop it silently."""
    labels = dict(choices)
    first = [(value, labels.get(value, value)) for value in dict.fromkeys(chosen)]
    return first + [(value, label) for value, label in choices if value not in chosen]


class RuleRow:
    """One rule of the builder: its type (fixed once added) and a form of its params as typed."""

    def __init__(
        self,
        *,
        index: int,
        rule_type: type[Rule],
        vocabulary: Sequence[tuple[str, str]],
        wallets: Sequence[tuple[str, str]],
        data: QueryDict | None = None,
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        self.index = index
        self.rule_type = rule_type
        prefix = f"rule-{index}"
        chosen = initial or {}
        fields: dict[str, forms.Field] = {"type": forms.CharField(widget=forms.HiddenInput)}
        for spec in rule_type.inputs:
            picked = data.getlist(f"{prefix}-{spec.name}") if data is not None else chosen.get(spec.name, [])
            fields.update(_fields(spec, vocabulary=vocabulary, wallets=wallets, picked=picked))
        form_class = type("RuleRowForm", (StyledForm,), fields)
        self.form: forms.Form = form_class(
            data, prefix=prefix, initial={**chosen, "type": rule_type.type_name} if data is None else None
        )

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def title(self) -> str:
        return self.rule_type.type_name.replace("_", " ").capitalize()

    def name(self, spec: ParamInput) -> str:
        return f"rule {self.number} ({self.rule_type.type_name}), {spec.label}"

    def params(self) -> dict[str, Any] | None:
        """The params as the engine reads them, or None when a value could not be shaped (the
        error is on its field, naming the rule)."""
        if not self.form.is_valid():
            return None
        typed = self.form.cleaned_data
        params: dict[str, Any] = {}
        for spec in self.rule_type.inputs:
            try:
                value = _shape(spec, typed, field=spec.name)
            except ValidationFailed as error:
                message = next(iter(error.fields.values()), [error.message])[0]
                self.form.add_error(spec.name, f"{self.name(spec)}: {message}")
                continue
            if value is not None:
                params[spec.name] = value
        return None if self.form.errors else params

    def show(self, param: str | None, path: str, messages: list[str]) -> None:
        specs = {spec.name: spec for spec in self.rule_type.inputs}
        spec = specs.get(param or "")
        detail = path.split(f"params.{param}", 1)[1] if spec is not None else ""
        for message in messages:
            if spec is None:
                self.form.add_error(None, f"rule {self.number} ({self.rule_type.type_name}), {path}: {message}")
            else:
                self.form.add_error(spec.name, f"{self.name(spec)}{detail}: {message}")


def _fields(
    spec: ParamInput,
    *,
    vocabulary: Sequence[tuple[str, str]],
    wallets: Sequence[tuple[str, str]],
    picked: Sequence[str],
) -> dict[str, forms.Field]:
    label = spec.label + (" (optional)" if spec.optional else "")
    common: dict[str, Any] = {"label": label, "help_text": spec.help, "required": False}
    kind = spec.kind
    if kind == "duration":
        return {
            spec.name: forms.CharField(**common),
            spec.name + UNIT_SUFFIX: forms.ChoiceField(
                choices=[(unit, unit) for unit, _ in UNITS], initial="days", required=True, label=f"{spec.label}: unit"
            ),
        }
    if kind == "choice":
        blank = [("", "—")] if spec.optional else []
        return {spec.name: forms.ChoiceField(choices=blank + [(value, value) for value in spec.choices], **common)}
    if kind == "boolean":
        return {spec.name: forms.BooleanField(**common)}
    if kind in ("categories", "choices", "wallets"):
        offered = {"categories": vocabulary, "wallets": wallets}.get(kind) or [(value, value) for value in spec.choices]
        return {
            spec.name: forms.MultipleChoiceField(
                choices=_ordered([str(value) for value in picked], offered),
                widget=UnfoldAdminCheckboxSelectMultipleWidget,
                **common,
            )
        }
    if kind in ("address_entries", "counterparty_entries", "tiers"):
        return {spec.name: forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=True, **common)}
    return {spec.name: forms.CharField(**common)}


def _lines(text: str) -> list[list[str]]:
    return [line.replace(",", " ").split() for line in text.splitlines() if line.strip()]


def _shape(spec: ParamInput, typed: Mapping[str, Any], *, field: str) -> Any:
    """The param's JSON value from what was typed; None: left out. Only BTC amounts are judged
    here (the one conversion that can fail); everything else goes to the rule's parse as typed."""
    value = typed.get(spec.name)
    kind = spec.kind
    if kind == "boolean":
        return bool(value)
    if kind in ("categories", "choices"):
        return list(value or [])
    if kind == "wallets":
        return [_whole_or_text(item) for item in value or []]
    if value in (None, ""):
        return None
    if kind == "btc":
        return btc_to_sats(value=value, field=field, allow_zero=True)
    if kind == "duration":
        count = _whole_or_text(value)
        size = dict(UNITS)[typed[spec.name + UNIT_SUFFIX]]
        return count * size if isinstance(count, int) else count
    if kind == "integer":
        return _whole_or_text(value)
    if kind in ("address_entries", "counterparty_entries"):
        key = "address" if kind == "address_entries" else "counterparty_id"
        entries: list[Any] = []
        for number, words in enumerate(_lines(value), start=1):
            if len(words) > 2:
                raise ValidationFailed.for_field(field, f"line {number}: give the entry and, optionally, when listed")
            entry = words[0] if key == "address" else _whole_or_text(words[0])
            entries.append(entry if len(words) == 1 else {key: entry, "added_at": words[1]})
        return entries
    if kind == "tiers":
        tiers: list[dict[str, Any]] = []
        for number, words in enumerate(_lines(value), start=1):
            if len(words) not in (2, 3):
                raise ValidationFailed.for_field(field, f'line {number}: give "from BTC, approvals[, role]"')
            tier: dict[str, Any] = {
                "min_sats": btc_to_sats(value=words[0], field=field, allow_zero=True),
                "min_approvals": _whole_or_text(words[1]),
            }
            if len(words) == 3:
                tier["role"] = words[2]
            tiers.append(tier)
        return tiers
    return str(value).strip()


class RuleBuilder:
    """The builder's rows: from stored rules (a version to start from), or as posted."""

    def __init__(self, *, data: QueryDict | None = None, rules: Sequence[Any] = ()) -> None:
        self.vocabulary = category_choices()
        self.wallets = [(str(pk), name) for pk, name in Wallet.objects.order_by("name").values_list("pk", "name")]
        self.errors: list[str] = []
        self.rows: list[RuleRow] = []
        if data is None:
            for rule in rules:
                rule_type = RULE_TYPES.get(str(rule.get("type"))) if isinstance(rule, Mapping) else None
                if rule_type is not None:
                    params = rule.get("params") or {}
                    self._append(rule_type, initial=initial_values(rule_type, params))
            return
        count = data.get("rule_count", "0") or "0"
        if not count.isdigit() or int(count) > MAX_RULES:
            self.errors.append(f"rule_count: must be a whole number of rules, at most {MAX_RULES}")
            return
        for index in range(int(count)):
            name = data.get(f"rule-{index}-type", "")
            rule_type = RULE_TYPES.get(name)
            if rule_type is None:
                self.errors.append(f"rule {index + 1}: unknown rule type {name!r}; known: {', '.join(RULE_TYPES)}")
                continue
            self._append(rule_type, data=data)

    def _append(self, rule_type: type[Rule], **given: Any) -> None:
        self.rows.append(
            RuleRow(
                index=len(self.rows), rule_type=rule_type, vocabulary=self.vocabulary, wallets=self.wallets, **given
            )
        )

    def add(self, name: str) -> None:
        """A new empty row of rule type `name` (an unknown name adds nothing: the select offers only known ones)."""
        rule_type = RULE_TYPES.get(name)
        if rule_type is not None:
            self._append(rule_type, initial={})

    @classmethod
    def without_row(cls, data: QueryDict, index: int) -> RuleBuilder:
        """The posted rows but the one at `index`, the later ones renumbered."""
        kept = QueryDict(mutable=True)
        for key, values in data.lists():
            match = _ROW_KEY.match(key)
            if match is None:
                kept.setlist(key, values)
            elif int(match["index"]) != index:
                shifted = int(match["index"]) - (int(match["index"]) > index)
                kept.setlist(f"rule-{shifted}-{match['name']}", values)
        count = data.get("rule_count", "0")
        kept["rule_count"] = str(max(int(count) - 1, 0)) if count.isdigit() else count
        return cls(data=kept)

    def rules(self) -> list[dict[str, Any]] | None:
        """The rules as the engine reads them; None while a row has an error."""
        built = [(row.rule_type.type_name, row.params()) for row in self.rows]
        if self.errors or any(params is None for _, params in built):
            return None
        return [{"type": name, "params": params} for name, params in built]

    def show(self, error: ApplicationError) -> ApplicationError | None:
        """Put the service's errors about rules on the rows and fields they name; what is left
        (about other fields) comes back as an error of its own, None when nothing is."""
        rest: dict[str, list[str]] = {}
        for path, messages in error.fields.items():
            match = _RULE_FIELD.match(path)
            if match is None or int(match["index"]) >= len(self.rows):
                rest[path] = messages
                continue
            self.rows[int(match["index"])].show(match["param"], path, messages)
        if not error.fields:
            return error
        return ValidationFailed(error.message, fields=rest) if rest else None

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.form.errors for row in self.rows)
