"""Move balances once per statement (ledger/sql/0004_ledger_statement_balances.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def _previous_entry_function() -> str:
    # Reversing restores 0002's per-entry balance update.
    text = (SQL_DIR / "0002_ledger_triggers.sql").read_text()
    start = text.index("CREATE OR REPLACE FUNCTION ledger_entry_before_insert()")
    return text[start : text.index("END $$;", start) + len("END $$;")]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_ledger_append")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0004_ledger_statement_balances.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS ledger_entry_apply_statement ON ledger_entry;"
            "DROP FUNCTION IF EXISTS ledger_entry_after_statement;" + _previous_entry_function(),
        ),
    ]
