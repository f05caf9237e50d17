"""The shape every CSV import command shares: a file and the proposing operator. The command
proposes an import batch (reserve/imports/); nothing is posted until the quorum approves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from reserve.imports.services import import_batch_summary, import_propose


class CsvImportCommand(BaseCommand):
    """Subclasses name the kind of import (reserve.imports.models.ImportKind)."""

    kind: str

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="username of the operator proposing the import")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        try:
            batch = import_propose(kind=self.kind, data=data, actor=user, filename=path.name)
        except ApplicationError as error:
            raise CommandError(f"nothing proposed: {error.message}") from None
        self.stdout.write(
            f"{import_batch_summary(batch)}; {batch.rows.count()} rows, nothing posted until "
            f"{batch.required_approvals} approvers other than {user.get_username()} approve it by this hash"
        )
