"""A finished reconciliation run is kept as written (reserve/sql/0066_reconciliation_run_kept.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("reserve", "0065_scan_cursor_checked_at")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0066_reconciliation_run_kept.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS reserve_reconciliationrun_kept ON reserve_reconciliationrun;"
            "DROP FUNCTION IF EXISTS reserve_reconciliationrun_kept;",
        ),
    ]
