"""manage.py flush, through the named maintenance path: as the owner, with reserve.maintenance set.

Append-only tables refuse TRUNCATE (config/database_roles.py's guard) except on the owner's
connection that set the maintenance setting; this command, used by transactional tests'
teardown, is that path. The service role cannot take it: it holds no TRUNCATE privilege.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand

from config.database_roles import as_owner


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        with as_owner(options["database"], maintenance=True):
            super().handle(**options)
