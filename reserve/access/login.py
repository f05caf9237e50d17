"""The admin's login form: a correct password on an account without staff status is told so.

Django's own form answers such a login with "enter the correct username and password", which
sends a policy administrator (who works through the API, not the admin) hunting for a typo. The
message is shown only once the password was right, so it tells a guesser nothing new."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

NOT_STAFF_MESSAGE = (
    "Your password is correct, but this account has no staff status, so it cannot use the admin. "
    "Ask an account administrator to grant staff status if your role works in the admin."
)


class ReserveAdminLoginForm(AdminAuthenticationForm):
    """AdminAuthenticationForm, with its own error for a right password on a non-staff account."""

    error_messages = {**AdminAuthenticationForm.error_messages, "not_staff": NOT_STAFF_MESSAGE}

    def confirm_login_allowed(self, user: Any) -> None:
        if user.is_active and not user.is_staff:
            raise forms.ValidationError(self.error_messages["not_staff"], code="not_staff")
        super().confirm_login_allowed(user)
