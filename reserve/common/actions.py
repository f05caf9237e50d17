"""What a page may offer a person on a record: whether the action is offered and, if so, why the
service would still refuse it; asked of the same rule the service enforces, before the click."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionState:
    offered: bool  # the record's state allows it and the user holds its permission
    refusal: str  # why this user still may not ("" when they may)

    @property
    def allowed(self) -> bool:
        return self.offered and not self.refusal
