"""Load the PostgreSQL invariants of the ledger from ledger/sql/0002_ledger_triggers.sql."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

DROP = """
DROP TRIGGER IF EXISTS ledger_transaction_has_entries ON ledger_journaltransaction;
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_entry_apply ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_entry_immutable ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_journaltransaction_immutable ON ledger_journaltransaction;
DROP TRIGGER IF EXISTS ledger_accountbalance_guard ON ledger_accountbalance;
DROP TRIGGER IF EXISTS ledger_accountbalance_no_delete ON ledger_accountbalance;
DROP TRIGGER IF EXISTS ledger_account_no_delete ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_guard ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_balance_row ON ledger_account;
DROP FUNCTION IF EXISTS ledger_transaction_check_has_entries, ledger_entry_check_balanced,
    ledger_entry_before_insert, ledger_immutable, ledger_balance_before_update,
    ledger_account_no_delete, ledger_account_before_update, ledger_account_after_insert;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunSQL(sql=(SQL_DIR / "0002_ledger_triggers.sql").read_text(), reverse_sql=DROP),
    ]
