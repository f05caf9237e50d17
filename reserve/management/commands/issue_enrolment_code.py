"""Issue a one-time TOTP enrolment code for a user, from the server's shell (an administrator in person)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from reserve.access.enrolment import ENROLMENT_CODE_TTL, enrolment_code_issue


class Command(BaseCommand):
    help = "Print a one-time code with which USERNAME can enrol a TOTP device (earlier unused codes are revoked)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--hours", type=int, default=int(ENROLMENT_CODE_TTL.total_seconds() // 3600), help="validity (hours)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = get_user_model().objects.get(username=options["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"username: no user {options['username']!r}") from None
        try:
            code = enrolment_code_issue(actor=None, user=user, ttl=timedelta(hours=options["hours"]))
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"enrolment code for {user.get_username()} (valid {options['hours']} h, once): {code}")
