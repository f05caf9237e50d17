"""Load the PostgreSQL invariants of the reserve records from reserve/sql/0002_reserve_triggers.sql."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

DROP = """
DROP TRIGGER IF EXISTS reserve_auditevent_append_only ON reserve_auditevent;
DROP TRIGGER IF EXISTS reserve_approval_append_only ON reserve_approval;
DROP TRIGGER IF EXISTS reserve_approval_not_proposer ON reserve_approval;
DROP FUNCTION IF EXISTS reserve_append_only, reserve_approval_not_proposer;
"""


class Migration(migrations.Migration):
    dependencies = [("reserve", "0001_initial")]

    operations = [migrations.RunSQL(sql=(SQL_DIR / "0002_reserve_triggers.sql").read_text(), reverse_sql=DROP)]
