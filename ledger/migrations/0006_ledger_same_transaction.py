"""Entries only in their transaction's database transaction (ledger/sql/0006_ledger_same_transaction.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_ledger_chain_link_guard")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0006_ledger_same_transaction.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS ledger_pendingentry_immutable ON ledger_pendingentry;"
            "DROP TRIGGER IF EXISTS ledger_pendingentry_same_xact ON ledger_pendingentry;"
            "DROP TRIGGER IF EXISTS ledger_entry_a_same_xact ON ledger_entry;"
            "DROP TRIGGER IF EXISTS ledger_pendingtransaction_keep_stamp ON ledger_pendingtransaction;"
            "DROP TRIGGER IF EXISTS ledger_pendingtransaction_stamp_xact ON ledger_pendingtransaction;"
            "DROP TRIGGER IF EXISTS ledger_journaltransaction_stamp_xact ON ledger_journaltransaction;"
            "DROP FUNCTION IF EXISTS ledger_pending_entry_check_same_xact, ledger_entry_check_same_xact,"
            " ledger_pending_keep_stamp, ledger_stamp_inserted_xact;"
            "ALTER TABLE ledger_pendingtransaction DROP COLUMN inserted_xact;"
            "ALTER TABLE ledger_journaltransaction DROP COLUMN inserted_xact;",
        ),
    ]
