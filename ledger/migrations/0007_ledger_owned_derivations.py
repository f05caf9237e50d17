"""Derived values written only by the owner's functions (ledger/sql/0007_ledger_owned_derivations.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def _previous_statement_function() -> str:
    # Reversing restores 0004's statement trigger (trusting the carry).
    text = (SQL_DIR / "0004_ledger_statement_balances.sql").read_text()
    start = text.index("CREATE OR REPLACE FUNCTION ledger_entry_after_statement()")
    return text[start : text.index("END $$;", start) + len("END $$;")]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_ledger_same_transaction")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0007_ledger_owned_derivations.sql").read_text(),
            reverse_sql="DROP FUNCTION IF EXISTS ledger_checkpoint_refresh(integer);"
            "DROP FUNCTION IF EXISTS ledger_pending_refresh(bigint[]);"
            "ALTER FUNCTION ledger_account_after_insert() SECURITY INVOKER RESET search_path;"
            "ALTER FUNCTION ledger_account_before_update() SECURITY INVOKER RESET search_path;"
            + _previous_statement_function(),
        ),
    ]
