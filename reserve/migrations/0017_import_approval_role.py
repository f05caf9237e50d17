"""Import batch approvers hold the role in the database (reserve/sql/0017_import_approval_role.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("reserve", "0016_transfer_block_hash_index")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0017_import_approval_role.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS reserve_importapproval_role_held ON reserve_importapproval;"
            "DROP FUNCTION IF EXISTS reserve_importapproval_approver_holds_role;",
        ),
    ]
