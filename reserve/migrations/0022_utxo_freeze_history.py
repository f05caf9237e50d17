"""A freeze is closed once and never rewritten (reserve/sql/0022_utxo_freeze_history.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("reserve", "0021_signing_roles")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0022_utxo_freeze_history.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS reserve_utxofreeze_close_once ON reserve_utxofreeze;"
            "DROP FUNCTION IF EXISTS reserve_utxofreeze_close_once;",
        ),
    ]
