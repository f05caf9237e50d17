"""The one exception family every app raises for expected failures.

The REST layer turns any `ApplicationError` into
`{"error": {"code", "message", "fields"}}` with its `status`; services raise these
(or subclasses) and never HTTP exceptions.
"""

from __future__ import annotations


class ApplicationError(Exception):
    code = "application_error"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    @classmethod
    def for_field(cls, field: str, message: str) -> ApplicationError:
        return cls(f"{field}: {message}", fields={field: [message]})

    def settle(self) -> None:
        """Write what must outlive the refused work (e.g. the record of a policy refusal).

        A face that catches the error calls this once the refused work has rolled back and its
        own transaction is one that will commit (the API's exception handler, an admin form
        that shows the error). Nothing by default; idempotent."""


class ValidationFailed(ApplicationError):
    code = "invalid"
    status = 400


class NotFound(ApplicationError):
    code = "not_found"
    status = 404


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403


class Conflict(ApplicationError):
    """Idempotency-key reuse with another payload, or an illegal state transition."""

    code = "conflict"
    status = 409
