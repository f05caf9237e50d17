"""manage.py migrate, as the database owner, then the service role's grants (config/database_roles.py).

Every migrate path (make run, deployments, test database creation) goes through this command,
so the grants and the TRUNCATE guards are re-applied after every migration.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import connections

from config.database_roles import apply_privileges, as_owner, warn_without_split


class Command(MigrateCommand):
    help = MigrateCommand.help + " Runs as DATABASE_OWNER_URL's role, then re-applies the service role's grants."

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        warn_without_split()
        with as_owner(alias):
            super().handle(*args, **options)
            apply_privileges(connections[alias])
