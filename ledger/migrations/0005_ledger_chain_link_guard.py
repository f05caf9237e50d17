"""Enforce the chain's linkage in PostgreSQL (ledger/sql/0005_ledger_chain_link_guard.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_ledger_statement_balances")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0005_ledger_chain_link_guard.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS ledger_journaltransaction_link ON ledger_journaltransaction;"
            "DROP FUNCTION IF EXISTS ledger_transaction_check_link;",
        ),
    ]
