"""Transfer approvers hold the role in the database; proposers are permanent
(reserve/sql/0011_reserve_approval_guards.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("reserve", "0010_transfer_total_range"), ("policy", "0004_approval_content_hash")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0011_reserve_approval_guards.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS reserve_transfer_keep_proposer ON reserve_transfer;"
            "DROP TRIGGER IF EXISTS reserve_approval_role_held ON reserve_approval;"
            "DROP FUNCTION IF EXISTS reserve_transfer_keep_proposer, reserve_approval_approver_holds_role;",
        ),
    ]
