"""Load ledger_append, the one-round-trip chain step, from ledger/sql/0003_ledger_append.sql."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_ledger_triggers")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0003_ledger_append.sql").read_text(),
            reverse_sql="DROP FUNCTION IF EXISTS ledger_append, ledger_link_hash, ledger_canonical_time;",
        ),
    ]
